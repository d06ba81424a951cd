// Finds the caller of an object or listing request (bearer token or session).
// Without one, a browser's navigation is sent to SSO and anything else gets
// 401: players and scripts fail clearly instead of following redirects into
// a login page.
import type { Context } from 'koa';
import { HttpProblem } from '../shared/http-problem.ts';
import { isNavigation } from '../shared/client-origin.ts';
import type { RequestState } from '../shared/request-state.ts';
import type { Identity } from '../shared/identity.ts';
import { startSignIn, type SignInDeps } from './sign-in.ts';
import { authRequest } from './outcome.ts';
import { applyCookies } from './cookies.ts';
import type { BearerAuth } from './bearer.ts';
import { identify } from './identify.ts';

/**
 * The caller, by bearer token or session; or undefined after answering the
 * request with a redirect or 401. A bad bearer token is 401, never a redirect.
 */
export async function requireSession(ctx: Context, deps: SignInDeps & { bearer?: BearerAuth }): Promise<{ identity: Identity } | undefined> {
  const caller = await identify(ctx, deps);
  if (caller) {
    (ctx.state as RequestState).user = caller.identity;
    return { identity: caller.identity };
  }
  if (ctx.method === 'GET' && isNavigation({ secFetchMode: ctx.get('sec-fetch-mode') || undefined, acceptsHtml: ctx.accepts('html') !== false, authorization: ctx.get('authorization') !== '' })) {
    const redirect = await startSignIn(authRequest(ctx, deps.config.publicUrl), deps);
    applyCookies(ctx, redirect.cookies);
    (ctx.state as RequestState).signIn = redirect.signIn;
    ctx.set('cache-control', 'no-store');
    ctx.redirect(redirect.location);
    return undefined;
  }
  throw new HttpProblem(401, 'no session');
}
