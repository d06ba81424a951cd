// Signing out: the session goes from Redis, the cookie expires, and the
// browser goes to the provider's end-session endpoint where it has one
// (OIDC RP-initiated logout), else to a short "signed out" page.
import type { Context } from 'koa';
import { escapeHtml } from '../shared/html.ts';
import { clientOrigin } from '../shared/client-origin.ts';
import type { SignInDeps } from './sign-in.ts';
import { bindingCookieName } from './sign-in.ts';
import { clearCookie } from './cookies.ts';
import type { RequestState } from '../shared/request-state.ts';

export const signOutPath = '/__s3proxy/logout';
export const signedOutPath = '/__s3proxy/signed-out';

export async function signOut(ctx: Context, deps: SignInDeps): Promise<void> {
  const { config } = deps;
  await deps.sessions.destroy(ctx.cookies.get(config.session.cookieName));
  clearCookie(ctx, config, config.session.cookieName);
  clearCookie(ctx, config, bindingCookieName(config));
  ctx.set('cache-control', 'no-store');
  (ctx.state as RequestState).route = 'sign-out';

  const origin = clientOrigin(ctx.get('x-forwarded-proto') || undefined, false, ctx.get('host') || undefined);
  const signedOut = origin.ok ? origin.origin + signedOutPath : signedOutPath;
  let endSession: URL | undefined;
  try {
    endSession = await deps.sso.endSessionUrl(signedOut);
  } catch {
    // The provider being away must not keep anyone signed in here.
    endSession = undefined;
  }
  ctx.redirect(endSession?.href ?? signedOut);
}

export function signedOutPage(ctx: Context): void {
  ctx.set('cache-control', 'no-store');
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Signed out</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#222}</style>
</head><body>
<h1>${escapeHtml('You have signed out')}</h1>
<p><a href="/">Sign in again</a></p>
</body></html>
`;
}
