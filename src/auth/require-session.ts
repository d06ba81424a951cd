// Finds the signed-in user of a request, re-checking the token with SSO when
// the grace period has passed. Without a session, a browser's navigation is
// sent to SSO and anything else gets 401: players and scripts fail clearly
// instead of following redirects into a login page.
import type { Context } from 'koa';
import type { Config } from '../config/config.ts';
import { HttpProblem } from '../shared/http-problem.ts';
import { isNavigation } from '../shared/client-origin.ts';
import type { RequestState } from '../shared/request-state.ts';
import type { Session, Sessions } from './sessions.ts';
import { SsoUnavailable, type SsoClient, type TokenCheck } from './sso-client.ts';
import { startSignIn, type SignInDeps } from './sign-in.ts';
import { authRequest } from './outcome.ts';
import { applyCookies } from './cookies.ts';
import { bearerIdentity, type BearerAuth } from './bearer.ts';

export async function currentSession(ctx: Context, deps: { config: Config; sessions: Sessions; sso: SsoClient }): Promise<Session | undefined> {
  const id = ctx.cookies.get(deps.config.session.cookieName);
  let session = await deps.sessions.load(id);
  if (!session) return undefined;
  const graceMs = deps.config.tokenCheckGracePeriodSeconds * 1000;
  const due = (s: Session) => graceMs === 0 || Date.now() - s.checkedAt >= graceMs;
  if (due(session) && graceMs > 0 && session.fromMemory) {
    // Memory may be up to a second behind another instance's check.
    session = await deps.sessions.load(id, { fresh: true });
    if (!session) return undefined;
  }
  if (due(session)) {
    const check = sharedTokenCheck(session, deps);
    let verdict;
    try {
      verdict = await check.verdict;
    } catch (error) {
      if (error instanceof SsoUnavailable) {
        if (check.led) (ctx.state as RequestState).tokenCheck = 'unavailable';
        throw new HttpProblem(500, `token check failed: ${error.message}`);
      }
      throw error;
    }
    // counted once per call to SSO, not once per request that waited for it
    if (check.led) (ctx.state as RequestState).tokenCheck = verdict;
    if (verdict === 'revoked') return undefined;
  }
  return session;
}

// Token checks in flight, by session id, per Sessions: concurrent requests
// of one session (a page's images, a video's ranges) share one call to SSO.
const checksInFlight = new WeakMap<Sessions, Map<string, Promise<TokenCheck>>>();

function sharedTokenCheck(session: Session, deps: { sessions: Sessions; sso: SsoClient }): { verdict: Promise<TokenCheck>; led: boolean } {
  let inFlight = checksInFlight.get(deps.sessions);
  if (!inFlight) checksInFlight.set(deps.sessions, (inFlight = new Map()));
  const running = inFlight.get(session.id);
  if (running) return { verdict: running, led: false };
  const startedAt = Date.now();
  const verdict = (async () => {
    const result = await deps.sso.checkToken(session.accessToken);
    if (result === 'revoked') await deps.sessions.destroy(session.id);
    else await deps.sessions.markChecked(session.id, startedAt);
    return result;
  })().finally(() => inFlight.delete(session.id));
  inFlight.set(session.id, verdict);
  return { verdict, led: true };
}

/**
 * The caller, by bearer token or session; or undefined after answering the
 * request with a redirect or 401. A bad bearer token is 401, never a redirect.
 */
export async function requireSession(ctx: Context, deps: SignInDeps & { bearer?: BearerAuth }): Promise<Pick<Session, 'identity'> | undefined> {
  const bearer = await bearerIdentity(ctx, deps.bearer);
  if (bearer) return { identity: bearer };
  const session = await currentSession(ctx, deps);
  if (session) {
    (ctx.state as RequestState).user = session.identity;
    return session;
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
