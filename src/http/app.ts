// The HTTP application, as a line of middleware: a request id and log line
// around everything, errors turned into short answers, a bound on the
// request-target, the proxy's own paths, then objects.
import Koa from 'koa';
import type { Metrics } from '../observability/metrics.ts';
import type { S3Origin } from '../s3/origin.ts';
import type { S3Client } from '@aws-sdk/client-s3';
import { callbackPath } from '../auth/sign-in.ts';
import { HttpProblem } from '../shared/http-problem.ts';
import { requestLog } from './middleware/request-log.ts';
import { errorResponses } from './middleware/error-responses.ts';
import { targetLength } from './middleware/target-length.ts';
import { ownRoutes, reservedPrefix, type OwnRoutesDeps } from './own-routes.ts';
import { objects } from './objects.ts';
import { uploadRoutes } from '../uploads/routes.ts';
import type { UploadDeps } from '../uploads/upload-service.ts';

export { reservedPrefix } from './own-routes.ts';

export interface AppDeps extends OwnRoutesDeps {
  origin: S3Origin;
  /** for folder listings; absent: a path ending in '/' is asked for as an object */
  s3?: S3Client;
  /** absent: no metrics are recorded */
  metrics?: Metrics;
  /** absent: uploads are off, and their routes are reserved paths (404) */
  uploads?: UploadDeps | undefined;
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

export function createApp(deps: AppDeps): Koa {
  const app = new Koa({ proxy: true });
  app.silent = true;
  app.use(requestLog(deps.logger, deps.metrics));
  app.use(errorResponses(deps.logger));
  app.use(targetLength());
  app.use(ownRoutes(deps).routes());
  if (deps.uploads) app.use(uploadRoutes({ ...deps, uploads: deps.uploads }).routes());
  app.use(async (ctx, next) => {
    if (isReservedPath(ctx.path)) throw new HttpProblem(404, 'reserved path');
    return next();
  });
  app.use(objects({ ...deps, location: deps.config.s3.location }));
  return app;
}
