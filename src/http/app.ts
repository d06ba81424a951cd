// The HTTP application: a request id and log line around everything, errors
// turned into short answers, the proxy's own paths, then objects.
import Koa, { type Context, type Next } from 'koa';
import Router from '@koa/router';
import type { Config } from '../config/config.ts';
import type { Logger } from '../observability/logger.ts';
import type { S3Origin } from '../s3/origin.ts';
import { keyFromRequestPath } from '../s3/object-key.ts';
import { StoreUnavailable } from '../store/redis-client.ts';
import { callbackPath, completeSignIn, type SignInDeps } from '../auth/sign-in.ts';
import { currentSession, requireSession } from '../auth/require-session.ts';
import { signOut, signOutPath, signedOutPage, signedOutPath } from '../auth/sign-out.ts';
import { HttpProblem, htmlProblem, plainTextProblem } from './problems.ts';
import { isNavigation, originFormTarget } from './client-origin.ts';
import { requestIdFrom } from './request-id.ts';
import { serveObject } from './serve-object.ts';
import type { RequestState } from './request-state.ts';

/** Paths the proxy keeps for itself: objects with these keys cannot be proxied. */
export const reservedPrefix = '/__s3proxy/';
const mePath = `${reservedPrefix}me`;

export interface AppDeps extends SignInDeps {
  origin: S3Origin;
  /** extra routes under reservedPrefix, added by later features */
  extend?: (router: Router) => void;
}

export function createApp(deps: AppDeps): Koa {
  const app = new Koa({ proxy: true });
  app.silent = true;
  const { config, logger } = deps;

  app.use(requestLog(logger));
  app.use(problems(logger));

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
  deps.extend?.(router);
  app.use(router.routes());
  app.use(async (ctx, next) => {
    if (ctx.path.startsWith(reservedPrefix) || ctx.path === callbackPath) throw new HttpProblem(404, 'reserved path');
    return next();
  });

  app.use((ctx) => objects(ctx, deps, config));
  return app;
}

async function objects(ctx: Context, deps: AppDeps, config: Config): Promise<void> {
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
    return serveObject(ctx, parsed.key, { origin: deps.origin, location: config.s3.location, logger: deps.logger });
  }
  state.route = 'object';
  const session = await requireSession(ctx, deps);
  if (!session) {
    state.route = 'sign-in';
    return;
  }
  await serveObject(ctx, parsed.key, { origin: deps.origin, location: config.s3.location, logger: deps.logger });
  // Signed-in content is kept out of shared caches unless the object says otherwise.
  if (!ctx.response.get('cache-control')) ctx.set('cache-control', 'private');
}

function requestLog(logger: Logger) {
  return async (ctx: Context, next: Next) => {
    const requestId = requestIdFrom(ctx.req.headers['x-request-id']);
    const state: RequestState = { requestId, startedAt: process.hrtime.bigint(), bytesSent: 0, route: 'other' };
    ctx.state = state;
    ctx.set('x-request-id', requestId);
    ctx.res.once('close', () => {
      const durationMs = Number(process.hrtime.bigint() - state.startedAt) / 1e6;
      logger.info(
        {
          requestId,
          method: ctx.method,
          path: ctx.path,
          route: state.route,
          status: ctx.res.statusCode,
          key: state.s3Key,
          user: state.user?.email,
          bytesSent: state.bytesSent,
          durationMs: Math.round(durationMs * 10) / 10,
          completed: ctx.res.writableFinished,
        },
        'request',
      );
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
