// The HTTP application: a request id and log line around everything, errors
// turned into short answers, the proxy's own paths, then objects.
import Koa, { type Context, type Next } from 'koa';
import Router from '@koa/router';
import type { Config } from '../config/config.ts';
import type { Logger } from '../observability/logger.ts';
import type { S3Origin } from '../s3/origin.ts';
import type { S3Client } from '@aws-sdk/client-s3';
import { keyFromRequestPath } from '../s3/object-key.ts';
import { StoreUnavailable } from '../store/redis-client.ts';
import { callbackPath, completeSignIn, type SignInDeps } from '../auth/sign-in.ts';
import { currentSession, requireSession } from '../auth/require-session.ts';
import { signOut, signOutPath, signedOutPage, signedOutPath } from '../auth/sign-out.ts';
import { HttpProblem, htmlProblem, plainTextProblem } from './problems.ts';
import { isNavigation, originFormTarget } from './client-origin.ts';
import { requestIdFrom } from './request-id.ts';
import { serveObject, type ServeObjectDeps } from './serve-object.ts';
import { serveListing } from './serve-listing.ts';
import type { RequestState } from './request-state.ts';
import type { Metrics } from '../observability/metrics.ts';
import { observeRequest } from '../observability/request-metrics.ts';
import { healthRoutes, type Readiness } from '../observability/health.ts';

/** Paths the proxy keeps for itself: objects with these keys cannot be proxied. */
export const reservedPrefix = '/__s3proxy/';
const mePath = `${reservedPrefix}me`;

export interface AppDeps extends SignInDeps {
  origin: S3Origin;
  /** for folder listings; absent: a path ending in '/' is asked for as an object */
  s3?: S3Client;
  /** absent: no metrics are recorded */
  metrics?: Metrics;
  /** absent: no /__s3proxy/live and /__s3proxy/ready */
  readiness?: Readiness;
}

export function createApp(deps: AppDeps): Koa {
  const app = new Koa({ proxy: true });
  app.silent = true;
  const { config, logger } = deps;

  app.use(requestLog(logger, deps.metrics));
  app.use(problems(logger));
  // Node only caps the request line together with the headers (431); a long
  // request-target on its own gets the status that names it.
  app.use(async (ctx, next) => {
    if ((ctx.req.url ?? '').length > 8 * 1024) throw new HttpProblem(414, 'request-target longer than 8 KiB');
    return next();
  });

  const router = new Router();
  router.get(callbackPath, (ctx) => completeSignIn(ctx, deps));
  router.get(signOutPath, (ctx) => signOut(ctx, deps));
  router.post(signOutPath, (ctx) => signOut(ctx, deps));
  router.get(signedOutPath, (ctx) => signedOutPage(ctx));
  router.get(mePath, async (ctx) => {
    const session = await currentSession(ctx, deps);
    if (!session) throw new HttpProblem(401, 'no session');
    const { email, name, id } = session.identity;
    ctx.set('cache-control', 'no-store');
    ctx.body = { email, name, id };
  });
  if (deps.readiness) healthRoutes(router, deps.readiness);
  app.use(router.routes());
  app.use(async (ctx, next) => {
    if (ctx.path.startsWith(reservedPrefix) || ctx.path === callbackPath) throw new HttpProblem(404, 'reserved path');
    return next();
  });

  const objectDeps: ServeObjectDeps = { origin: deps.origin, location: config.s3.location, logger };
  app.use((ctx) => objects(ctx, deps, objectDeps));
  return app;
}

async function objects(ctx: Context, deps: AppDeps, objectDeps: ServeObjectDeps): Promise<void> {
  const { config } = deps;
  const state = ctx.state as RequestState;
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
    throw new HttpProblem(405, `method ${ctx.method}`, { allow: 'GET, HEAD' });
  }
  const target = originFormTarget(ctx.req.url);
  if (!target) throw new HttpProblem(400, 'request-target is not origin-form');
  const parsed = keyFromRequestPath(target.path);
  if (!parsed.ok) throw new HttpProblem(400, parsed.reason);

  if (config.healthcheckKey !== undefined && parsed.key === config.healthcheckKey) {
    state.route = 'healthcheck';
    return serveObject(ctx, parsed.key, objectDeps);
  }
  state.route = 'object';
  const session = await requireSession(ctx, deps);
  if (!session) {
    state.route = 'sign-in';
    return;
  }
  if (deps.s3 && (parsed.key === '' || parsed.key.endsWith('/'))) {
    state.route = 'listing';
    return serveListing(ctx, parsed.key, { s3: deps.s3, location: config.s3.location, logger: deps.logger });
  }
  await serveObject(ctx, parsed.key, objectDeps);
  // Signed-in content is kept out of shared caches unless the object says otherwise.
  if (!ctx.response.get('cache-control')) ctx.set('cache-control', 'private');
}

function requestLog(logger: Logger, metrics: Metrics | undefined) {
  return async (ctx: Context, next: Next) => {
    const requestId = requestIdFrom(ctx.req.headers['x-request-id']);
    const state: RequestState = { requestId, startedAt: process.hrtime.bigint(), bytesSent: 0, route: 'other' };
    ctx.state = state;
    ctx.set('x-request-id', requestId);
    metrics?.httpInFlight.inc();
    ctx.res.once('close', () => {
      const durationMs = Number(process.hrtime.bigint() - state.startedAt) / 1e6;
      // A response torn down before its headers went out was never answered:
      // 499 (nginx's "client closed request"), not Koa's placeholder 404.
      const status = ctx.res.headersSent ? ctx.res.statusCode : 499;
      const completed = ctx.res.writableFinished;
      logger.info(
        {
          requestId,
          method: ctx.method,
          path: ctx.path,
          route: state.route,
          status,
          key: state.s3Key,
          user: state.user?.email,
          bytesSent: state.bytesSent,
          durationMs: Math.round(durationMs * 10) / 10,
          completed,
          s3Status: state.s3?.status,
          s3Code: state.s3?.code ?? state.s3?.failure,
          s3LatencyMs: state.s3?.latencyMs === undefined ? undefined : Math.round(state.s3.latencyMs * 10) / 10,
        },
        'request',
      );
      if (metrics) {
        metrics.httpInFlight.dec();
        observeRequest(metrics, { method: ctx.method, status, completed, durationSeconds: durationMs / 1000, state });
      }
    });
    await next();
  };
}

function problems(logger: Logger) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
    } catch (error) {
      const state = ctx.state as RequestState;
      let status = 500;
      let headers: Record<string, string> = {};
      let publicMessage: string | undefined;
      if (error instanceof HttpProblem) {
        ({ status, headers, publicMessage } = error);
        if (status >= 500) logger.error({ requestId: state.requestId, detail: error.message }, 'request failed');
        else logger.debug({ requestId: state.requestId, detail: error.message }, 'request refused');
      } else if (error instanceof StoreUnavailable) {
        status = 503;
        state.storeUnavailable = true;
        logger.error({ requestId: state.requestId }, 'redis unavailable');
      } else {
        logger.error({ requestId: state.requestId, err: error }, 'unexpected error');
      }
      if (status === 499 || ctx.res.headersSent || !ctx.writable) {
        ctx.res.destroy();
        return;
      }
      ctx.status = status;
      for (const header of ['content-length', 'content-type', 'content-disposition', 'content-encoding', 'etag', 'last-modified', 'content-security-policy']) {
        if (!(header in headers)) ctx.remove(header);
      }
      ctx.set(headers);
      ctx.set('cache-control', 'no-store');
      if (status === 503) ctx.set('retry-after', '1');
      const html = isNavigation(ctx.get('sec-fetch-mode') || undefined, ctx.get('accept') || undefined);
      ctx.type = html ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8';
      ctx.body = html ? htmlProblem(status, state.requestId, publicMessage) : plainTextProblem(status, state.requestId, publicMessage);
    }
  };
}
