// Everything that is not one of the proxy's own paths names an object or a
// folder: the healthcheck key without sign-in, the rest after it.
import type { Context } from 'koa';
import type { SdkAccess } from '../s3/sdk-access.ts';
import { keyFromRequestPath } from '../s3/object-key.ts';
import { HttpProblem } from '../shared/http-problem.ts';
import { originFormTarget } from '../shared/client-origin.ts';
import type { RequestState } from '../shared/request-state.ts';
import { requireSession } from '../auth/require-session.ts';
import type { SignInDeps } from '../auth/sign-in.ts';
import { serveObject, type ServeObjectDeps } from './serve-object.ts';

export interface ObjectsDeps extends SignInDeps, ServeObjectDeps {
  /** for folder listings; absent: a path ending in '/' is asked for as an object */
  s3?: SdkAccess;
}

export function objects(deps: ObjectsDeps) {
  const { config } = deps;
  // Redirects need the SDK's presigner; without the client (some tests) objects are streamed.
  const served: ServeObjectDeps = config.downloadRedirect && deps.s3 ? { ...deps, redirect: { ...config.downloadRedirect, s3: deps.s3 } } : deps;
  return async (ctx: Context): Promise<void> => {
    const state = ctx.state as RequestState;
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      throw new HttpProblem(405, `method ${ctx.method}`, { allow: 'GET, HEAD' });
    }
    const target = originFormTarget(ctx.req.url);
    if (!target) throw new HttpProblem(400, 'request-target is not origin-form');
    const parsed = keyFromRequestPath(target.path, config.s3.location.keyPrefix);
    if (!parsed.ok) throw new HttpProblem(400, parsed.reason);

    if (config.healthcheckKey !== undefined && parsed.key === config.healthcheckKey) {
      state.route = 'healthcheck';
      return serveObject(ctx, parsed.key, served, false);
    }
    state.route = 'object';
    const session = await requireSession(ctx, deps);
    if (!session) {
      state.route = 'sign-in';
      return;
    }
    if (deps.s3 && (parsed.key === '' || parsed.key.endsWith('/'))) {
      state.route = 'listing';
      // Listings (and the SDK they use) are loaded by the first one.
      const [{ serveListing }, s3] = await Promise.all([import('./serve-listing.ts'), deps.s3.client()]);
      return serveListing(ctx, parsed.key, { s3, location: config.s3.location, logger: deps.logger, config });
    }
    await serveObject(ctx, parsed.key, served, true);
  };
}
