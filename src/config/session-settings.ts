// How the browser reaches the proxy and what its cookies look like:
// PUBLIC_URL, the session cookie's name, lifetime, SameSite and Secure, and
// SESSION_SECRET. Pure.
//
// SESSION_SECRET is never echoed. PUBLIC_URL is not echoed either (it is a
// URL, and a URL may carry user:password).

import type { SameSite, SessionSettings } from './config.ts';
import { bad, flag, get, httpUrl, integer, ok, show } from './env-values.ts';
import type { Env, Result } from './env-values.ts';

/** upper bound for second counts: far beyond any sane use */
const MAX_SECONDS = 2 ** 31 - 1;
// RFC 6265 cookie-name = token (RFC 2616): visible ASCII except separators
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** 32 characters: about 190 bits even from a base64 alphabet, enough for a key */
export const MIN_SESSION_SECRET_LENGTH = 32;

function cookieName(env: Env): Result<string> {
  const raw = get(env, 'SESSION_COOKIE_NAME');
  if (raw === undefined) return ok('assets_session_id');
  return COOKIE_NAME.test(raw)
    ? ok(raw)
    : bad('SESSION_COOKIE_NAME', `must be a cookie name (letters, digits and !#$%&'*+-.^_\`|~), got ${show(raw)}`);
}

function sameSite(env: Env): Result<SameSite> {
  const raw = get(env, 'SESSION_COOKIE_SAMESITE');
  if (raw === undefined) return ok('lax');
  const lower = raw.toLowerCase();
  return lower === 'lax' || lower === 'strict' || lower === 'none'
    ? ok(lower)
    : bad('SESSION_COOKIE_SAMESITE', `must be Lax, Strict or None, got ${show(raw)}`);
}

/** PUBLIC_URL's origin: the proxy serves from the root, so a path is refused rather than ignored */
function publicUrl(env: Env): Result<string | undefined> {
  const raw = get(env, 'PUBLIC_URL');
  if (raw === undefined) return ok(undefined);
  const url = httpUrl('PUBLIC_URL', raw);
  if (!url.ok) return url;
  if (url.value.pathname !== '/') return bad('PUBLIC_URL', 'must be an origin only (scheme, host and port), without a path');
  return ok(url.value.origin);
}

function sessionSecret(env: Env): Result<string | undefined> {
  const raw = get(env, 'SESSION_SECRET');
  if (raw === undefined) return ok(undefined);
  if (raw.length < MIN_SESSION_SECRET_LENGTH) {
    return bad('SESSION_SECRET', `must be at least ${MIN_SESSION_SECRET_LENGTH} characters long`);
  }
  return ok(raw);
}

export function sessionSettings(env: Env): { value?: { publicUrl?: string; session: SessionSettings }; errors: string[] } {
  const errors: string[] = [];
  const take = <T>(result: Result<T>): T | undefined => {
    if (result.ok) return result.value;
    errors.push(result.error);
    return undefined;
  };
  const origin = take(publicUrl(env));
  const name = take(cookieName(env));
  const maxAge = take(integer(env, 'SESSION_MAX_AGE', 1, MAX_SECONDS, 32400));
  const site = take(sameSite(env));
  const forceSecure = take(flag(env, 'SESSION_COOKIE_SECURE'));
  const secret = take(sessionSecret(env));

  // Browsers drop SameSite=None cookies that are not Secure: sign-in would
  // loop for ever. Only a known https origin or a forced Secure flag makes
  // None work; a Host header cannot be relied on for it at start-up.
  const httpsKnown = forceSecure === true || (origin !== undefined && origin.startsWith('https:'));
  if (site === 'none' && forceSecure !== undefined && !httpsKnown && !errors.some((e) => e.startsWith('PUBLIC_URL'))) {
    errors.push('SESSION_COOKIE_SAMESITE: None needs https: set PUBLIC_URL to an https URL, or SESSION_COOKIE_SECURE=true');
  }
  if (errors.length > 0 || name === undefined || maxAge === undefined || site === undefined || forceSecure === undefined) {
    return { errors };
  }
  return {
    value: {
      ...(origin === undefined ? {} : { publicUrl: origin }),
      session: {
        cookieName: name,
        maxAgeSeconds: maxAge,
        sameSite: site,
        forceSecure,
        ...(secret === undefined ? {} : { secret }),
      },
    },
    errors: [],
  };
}
