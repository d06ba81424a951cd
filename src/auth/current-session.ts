// The signed-in session of a request's cookie, re-checking the token with
// SSO when the grace period has passed; concurrent re-checks of one session
// are one call to SSO.
import type { Context } from 'koa';
import type { Config } from '../config/config.ts';
import { HttpProblem } from '../shared/http-problem.ts';
import type { RequestState } from '../shared/request-state.ts';
import type { Session, Sessions } from './sessions.ts';
import { SsoUnavailable, type SsoClient, type TokenCheck } from './sso-client.ts';

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
