// The HTTP application, as a line of middleware: a request id and log line
// around everything, errors turned into short answers, a bound on the
// request-target, the proxy's own paths, then objects.
import Koa from 'koa';
import type { Metrics } from '../observability/metrics.ts';
import type { S3Origin } from '../s3/origin.ts';
import type { Middleware } from 'koa';
import type { SdkAccess } from '../s3/sdk-access.ts';
import type { RedisClient } from '../store/redis-client.ts';
import { callbackPath } from '../auth/sign-in.ts';
import { HttpProblem } from '../shared/http-problem.ts';
import { requestLog } from './middleware/request-log.ts';
import { errorResponses } from './middleware/error-responses.ts';
import { targetLength } from './middleware/target-length.ts';
import { ownRoutes, reservedPrefix, type OwnRoutesDeps } from './own-routes.ts';
import { objects } from './objects.ts';
import { onceUntilFailure } from '../shared/once-until-failure.ts';

export { reservedPrefix } from './own-routes.ts';

export interface AppDeps extends OwnRoutesDeps {
  origin: S3Origin;
  /** for folder listings and uploads; absent: a path ending in '/' is asked for as an object */
  s3?: SdkAccess;
  /** absent: no metrics are recorded */
  metrics?: Metrics;
  /** where upload records live; uploads are on when config.uploads is set and this is given */
  redis?: RedisClient;
}

/**
 * Judged on the key the path names (decoded once, as objects.ts decodes it),
 * so that `/%5F%5Fs3proxy/x` cannot reach an object the proxy keeps out.
 */
export function isReservedPath(rawPath: string): boolean {
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    return false; // malformed: objects.ts answers 400
  }
  return path.startsWith(reservedPrefix) || path === callbackPath || path.startsWith(`${callbackPath}/`);
}

/**
 * The upload routes (and the SDK they call) are loaded by the first request
 * under the reserved prefix that the proxy's own routes did not answer:
 * a proxy that only serves downloads never loads them.
 */
function uploadRoutesOnFirstUse(deps: AppDeps & { redis: RedisClient; s3: SdkAccess }): Middleware {
  const routes = onceUntilFailure(async (): Promise<Middleware> => {
    const [{ uploadRoutes }, { uploadDeps }, s3] = await Promise.all([import('../uploads/routes.ts'), import('../uploads/upload-service.ts'), deps.s3.client()]);
    // a router's middleware takes the same context Koa gives every middleware
    return uploadRoutes({ ...deps, uploads: uploadDeps(deps.config, deps.redis, s3)! }).routes() as unknown as Middleware;
  });
  return async (ctx, next) => {
    if (!ctx.path.startsWith(reservedPrefix)) return next();
    return (await routes())(ctx, next);
  };
}

export function createApp(deps: AppDeps): Koa {
  const app = new Koa({ proxy: true });
  app.silent = true;
  app.use(requestLog(deps.logger, deps.metrics));
  app.use(errorResponses(deps.logger));
  app.use(targetLength());
  app.use(ownRoutes(deps).routes());
  if (deps.config.uploads && deps.redis && deps.s3) app.use(uploadRoutesOnFirstUse({ ...deps, redis: deps.redis, s3: deps.s3 }));
  app.use(async (ctx, next) => {
    if (isReservedPath(ctx.path)) throw new HttpProblem(404, 'reserved path');
    return next();
  });
  app.use(objects({ ...deps, location: deps.config.s3.location }));
  return app;
}
