// Writing the proxy's cookies. The `cookie` package serialises them with
// Max-Age as well as Expires (Koa's `cookies` writes Expires only, which a
// client with a wrong clock misreads); reading stays with ctx.cookies.
import type { Context } from 'koa';
import { stringifySetCookie } from 'cookie';
import type { Config } from '../config/config.ts';

export interface CookieScope {
  /** seconds; 0 expires the cookie at once */
  maxAgeSeconds: number;
  path?: string;
}

export function setCookie(ctx: Context, config: Config, name: string, value: string, scope: CookieScope): void {
  const line = stringifySetCookie({
    name,
    value,
    maxAge: scope.maxAgeSeconds,
    expires: new Date(Date.now() + scope.maxAgeSeconds * 1000),
    path: scope.path ?? '/',
    httpOnly: true,
    // ctx.protocol honours x-forwarded-proto: TLS usually ends at the PaaS router.
    secure: ctx.protocol === 'https',
    sameSite: config.session.sameSite,
  });
  // One Set-Cookie per name and path: setting a cookie twice in a response keeps the last.
  const prefix = `${name}=`;
  const samePath = `Path=${scope.path ?? '/'}`;
  const existing = ctx.response.get('set-cookie') as unknown;
  const kept = (Array.isArray(existing) ? (existing as string[]) : []).filter((old) => !(old.startsWith(prefix) && old.includes(samePath)));
  ctx.set('set-cookie', [...kept, line]);
}

export function clearCookie(ctx: Context, config: Config, name: string, path = '/'): void {
  setCookie(ctx, config, name, '', { maxAgeSeconds: 0, path });
}
