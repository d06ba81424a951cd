// The paths the proxy keeps for itself, under /__s3proxy/ and the SSO
// callback: sign-in, sign-out, who am I, liveness and readiness.
import Router from '@koa/router';
import type { Readiness } from '../observability/health.ts';
import { HttpProblem } from '../shared/http-problem.ts';
import type { RequestState } from '../shared/request-state.ts';
import { callbackPath, completeSignIn, type SignInDeps } from '../auth/sign-in.ts';
import { currentSession } from '../auth/require-session.ts';
import { signOut, signOutPath, signedOutPage, signedOutPath } from '../auth/sign-out.ts';
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

export function ownRoutes(deps: OwnRoutesDeps): Router {
  const router = new Router();
  router.get(callbackPath, (ctx) => completeSignIn(ctx, deps));
  router.get(signOutPath, (ctx) => signOut(ctx, deps));
  router.post(signOutPath, (ctx) => signOut(ctx, deps));
  router.get(signedOutPath, (ctx) => signedOutPage(ctx));
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
