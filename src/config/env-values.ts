// The small readers behind parseConfig: each reads one environment variable
// (or checks one value) and returns its value or one error string that starts
// with the variable's name. Pure, never throws.

export type Env = Record<string, string | undefined>;

export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const bad = <T>(name: string, problem: string): Result<T> => ({ ok: false, error: `${name}: ${problem}` });

/** the longest delay setTimeout honours; longer ones fire after 1 ms */
const MAX_TIMER_MS = 2 ** 31 - 1;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** a short, quoted, single-line rendering of a non-secret value */
export function show(value: string): string {
  const short = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  return JSON.stringify(short);
}

/** the value if set and not empty */
export function get(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

export function required(env: Env, name: string, why = 'required'): Result<string> {
  const value = get(env, name);
  if (value !== undefined) return ok(value);
  return bad(name, env[name] === '' ? `${why}, but is empty` : why);
}

/** a strict decimal integer in [min, max]: no sign, spaces, exponent or leading zeros */
export function integer(env: Env, name: string, min: number, max: number, fallback: number): Result<number> {
  const raw = get(env, name);
  if (raw === undefined) return ok(fallback);
  if (!/^(0|[1-9][0-9]*)$/.test(raw)) {
    return bad(name, `must be a whole number from ${min} to ${max}, got ${show(raw)}`);
  }
  const n = Number(raw);
  if (n < min || n > max) return bad(name, `must be from ${min} to ${max}, got ${show(raw)}`);
  return ok(n);
}

/** a strict positive decimal number of seconds, as whole milliseconds */
export function secondsAsMs(env: Env, name: string, fallbackSeconds: number): Result<number> {
  const raw = get(env, name);
  if (raw === undefined) return ok(fallbackSeconds * 1000);
  if (!/^(0|[1-9][0-9]*)(\.[0-9]+)?$/.test(raw)) {
    return bad(name, `must be a number of seconds greater than 0, like 30 or 2.5, got ${show(raw)}`);
  }
  const ms = Math.round(Number(raw) * 1000);
  if (ms < 1) return bad(name, `must be at least 0.001 seconds, got ${show(raw)}`);
  if (ms > MAX_TIMER_MS) return bad(name, `must be at most ${MAX_TIMER_MS / 1000} seconds, got ${show(raw)}`);
  return ok(ms);
}

export interface UrlRules {
  /** also allow http: for loopback hosts only */
  httpOnlyForLoopback?: boolean;
}

/**
 * An absolute http(s) URL without credentials, query or fragment. The value is
 * never echoed: a URL may carry a password.
 */
export function httpUrl(name: string, raw: string, rules: UrlRules = {}): Result<URL> {
  if (/[\s\u0000-\u001f\u007f]/.test(raw)) return bad(name, 'must not contain whitespace or control characters');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return bad(name, 'is not a valid absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return bad(name, `must be an http or https URL, not ${url.protocol}`);
  }
  if (url.protocol === 'http:' && rules.httpOnlyForLoopback === true && !LOOPBACK_HOSTS.has(url.hostname)) {
    return bad(name, 'must use https (http is allowed only for 127.0.0.1, localhost and [::1])');
  }
  if (url.username !== '' || url.password !== '') return bad(name, 'must not contain credentials');
  if (url.search !== '' || url.hash !== '' || raw.includes('?') || raw.includes('#')) {
    return bad(name, 'must not contain a query string or fragment');
  }
  return ok(url);
}

/** a base URL, normalised to end with '/' */
export function baseUrl(name: string, raw: string): Result<string> {
  const url = httpUrl(name, raw);
  if (!url.ok) return url;
  const href = url.value.href;
  return ok(href.endsWith('/') ? href : `${href}/`);
}

/** oauth2-proxy's booleans: true/false, also 1/0 and yes/no; empty is unset */
export function flag(env: Env, name: string): Result<boolean> {
  const raw = get(env, name);
  if (raw === undefined) return ok(false);
  const lower = raw.toLowerCase();
  if (['true', '1', 'yes'].includes(lower)) return ok(true);
  if (['false', '0', 'no'].includes(lower)) return ok(false);
  return bad(name, `must be true or false, got ${show(raw)}`);
}

export function errorsOf(...results: Result<unknown>[]): string[] {
  return results.flatMap((r) => (r.ok ? [] : [r.error]));
}
