// The proxy's cookies as values (what auth decides) and as Set-Cookie lines
// (what a response carries). The `cookie` package serialises them with
// Max-Age as well as Expires (Koa's `cookies` writes Expires only, which a
// client with a wrong clock misreads); reading stays with ctx.cookies.
import type { Context } from 'koa';
import { parseSetCookie, stringifySetCookie } from 'cookie';
import type { Config, SameSite } from '../config/config.ts';

export interface CookieToSet {
  name: string;
  value: string;
  /** seconds; 0 expires the cookie at once */
  maxAgeSeconds: number;
  path: string;
  secure: boolean;
  sameSite: SameSite;
}

/**
 * Secure when the browser reaches the proxy over https: `origin` is the
 * proxy's origin (PUBLIC_URL when set, so then only its scheme counts), or
 * always with SESSION_COOKIE_SECURE=true.
 */
export function cookieSecure(config: Config, origin: string): boolean {
  return config.session.forceSecure || origin.startsWith('https:');
}

/** A cookie of the proxy's, with the session's SameSite unless told otherwise. */
export function proxyCookie(
  config: Config,
  origin: string,
  name: string,
  value: string,
  scope: { maxAgeSeconds: number; path?: string; sameSite?: SameSite },
): CookieToSet {
  return {
    name,
    value,
    maxAgeSeconds: scope.maxAgeSeconds,
    path: scope.path ?? '/',
    secure: cookieSecure(config, origin),
    sameSite: scope.sameSite ?? config.session.sameSite,
  };
}

/** The same cookie, expired: a browser drops it (name and path must match the one it holds). */
export function expired(cookie: CookieToSet): CookieToSet {
  return { ...cookie, value: '', maxAgeSeconds: 0 };
}

export function setCookieLine(cookie: CookieToSet, now = Date.now()): string {
  return stringifySetCookie({
    name: cookie.name,
    value: cookie.value,
    maxAge: cookie.maxAgeSeconds,
    expires: new Date(now + cookie.maxAgeSeconds * 1000),
    path: cookie.path,
    httpOnly: true,
    secure: cookie.secure,
    sameSite: cookie.sameSite,
  });
}

/** Adds Set-Cookie lines to the response; a later cookie of the same name and path replaces an earlier one. */
export function applyCookies(ctx: Context, cookies: readonly CookieToSet[]): void {
  if (cookies.length === 0) return;
  const existing = ctx.response.get('set-cookie') as unknown;
  let lines = Array.isArray(existing) ? (existing as string[]) : typeof existing === 'string' && existing !== '' ? [existing] : [];
  for (const cookie of cookies) {
    lines = lines.filter((line) => {
      const old = parseSetCookie(line);
      return !(old.name === cookie.name && (old.path ?? '/') === cookie.path);
    });
    lines.push(setCookieLine(cookie));
  }
  ctx.set('set-cookie', lines);
}
