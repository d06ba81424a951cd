// The paths the proxy keeps for itself, under /__s3proxy/ and the SSO
// callback: sign-in, sign-out, who am I, liveness and readiness.
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Readiness } from '../observability/health.ts';
import { HttpProblem } from '../shared/http-problem.ts';
import type { RequestState } from '../shared/request-state.ts';
import { callbackPath, completeSignIn, type SignInDeps } from '../auth/sign-in.ts';
import { currentSession } from '../auth/current-session.ts';
import { signOut, signOutPage, signOutPath, signedOutPage, signedOutPath } from '../auth/sign-out.ts';
import { authRequest, type AuthOutcome } from '../auth/outcome.ts';
import { applyCookies } from '../auth/cookies.ts';
import { backchannelLogout, backchannelLogoutPath } from '../auth/backchannel-logout.ts';
import { readForm } from './form-body.ts';
import { assetsPath, serveAsset } from './assets.ts';

/** Paths the proxy keeps for itself: objects with these keys cannot be proxied. */
export const reservedPrefix = '/__s3proxy/';
export const mePath = `${reservedPrefix}me`;
export const livePath = `${reservedPrefix}live`;
export const readyPath = `${reservedPrefix}ready`;

export interface OwnRoutesDeps extends SignInDeps {
  /** absent: no /__s3proxy/live and /__s3proxy/ready */
  readiness?: Readiness;
}

/** What sign-in and sign-out decided, as the response. */
function answer(ctx: Context, outcome: AuthOutcome): void {
  const state = ctx.state as RequestState;
  if (outcome.signIn) state.signIn = outcome.signIn;
  if (outcome.user) state.user = outcome.user;
  applyCookies(ctx, outcome.cookies);
  ctx.set('cache-control', 'no-store');
  if (outcome.kind === 'refused') throw outcome.problem;
  if (outcome.kind === 'page') {
    if (outcome.headers) ctx.set(outcome.headers);
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = outcome.html;
    return;
  }
  ctx.redirect(outcome.location);
  ctx.status = outcome.status;
}

export function ownRoutes(deps: OwnRoutesDeps): Router {
  const router = new Router();
  const { publicUrl } = deps.config;
  router.get(callbackPath, async (ctx) => {
    const state = ctx.state as RequestState;
    state.route = 'callback';
    // Replaced by the outcome; an unforeseen throw stays a failure.
    state.signIn = { outcome: 'failed', reason: 'error' };
    answer(ctx, await completeSignIn(authRequest(ctx, publicUrl), deps));
  });
  router.get(signOutPath, (ctx) => {
    (ctx.state as RequestState).route = 'sign-out';
    answer(ctx, signOutPage());
  });
  router.post(signOutPath, async (ctx) => {
    (ctx.state as RequestState).route = 'sign-out';
    answer(ctx, await signOut(authRequest(ctx, publicUrl), deps));
  });
  router.get(signedOutPath, (ctx) => answer(ctx, signedOutPage()));
  // Every method, so that the path is never taken for an object key.
  router.all(backchannelLogoutPath, async (ctx) => {
    const state = ctx.state as RequestState;
    state.route = 'backchannel-logout';
    if (!deps.sso.logoutTokenIssuer) throw new HttpProblem(404, 'back-channel logout needs OIDC_ISSUER');
    if (ctx.method !== 'POST') throw new HttpProblem(405, 'back-channel logout takes POST', { allow: 'POST' });
    ctx.set('cache-control', 'no-store');
    const form = await readForm(ctx, 64 * 1024);
    const outcome = form
      ? await backchannelLogout(form.get('logout_token') ?? undefined, { ...deps, clientId: deps.config.sso.clientId }, state.requestId)
      : { outcome: 'rejected' as const, reason: 'the body is not application/x-www-form-urlencoded' };
    if (outcome.outcome === 'ended') {
      ctx.status = 200;
      ctx.body = '';
      return;
    }
    if (outcome.outcome === 'unavailable') {
      ctx.status = 503;
      ctx.set('retry-after', '5');
      ctx.body = { error: 'temporarily_unavailable', error_description: outcome.reason };
      return;
    }
    ctx.status = 400;
    ctx.body = { error: 'invalid_request', error_description: outcome.reason };
  });
  router.get(`${assetsPath}:fileName`, (ctx) => serveAsset(ctx, ctx.params.fileName!));
  router.get(mePath, async (ctx) => {
    const session = await currentSession(ctx, deps);
    if (!session) throw new HttpProblem(401, 'no session');
    const { email, name, id } = session.identity;
    ctx.set('cache-control', 'no-store');
    ctx.body = { email, name, id };
  });
  const { readiness } = deps;
  if (readiness) {
    router.get(livePath, (ctx) => {
      (ctx.state as RequestState).route = 'live';
      ctx.set('cache-control', 'no-store');
      ctx.body = { live: true };
    });
    router.get(readyPath, async (ctx) => {
      (ctx.state as RequestState).route = 'ready';
      const { ready, body } = await readiness.check();
      ctx.status = ready ? 200 : 503;
      ctx.set('cache-control', 'no-store');
      ctx.body = body;
    });
  }
  return router;
}
