// Liveness and readiness for load balancers and orchestrators, without a
// session (the routes are in src/http/own-routes.ts).
//
//   GET /__s3proxy/live   200 while the process runs and its event loop turns.
//   GET /__s3proxy/ready  200 when Redis and S3 answer and no shutdown has
//                         begun, else 503; body {redis, s3, draining}.
//
// Redis is ready when PING answers. S3 is ready when a HEAD of the bucket
// gets any answer below 500 that does not reject the proxy's credentials:
//   - 2xx: ready.
//   - 404: down. The bucket does not exist (or is not where the config says),
//     so no object can be served.
//   - any other 4xx (typically 403, e.g. credentials that may read objects
//     but not list the bucket): a HEAD has no body, so its error code is
//     unknown; one GET of the bucket (ListObjectsV2, max-keys=0) reads it.
//     A credential error (InvalidAccessKeyId, SignatureDoesNotMatch,
//     ExpiredToken, ...) is down; anything else (AccessDenied) means S3
//     answered and accepted who the proxy is: ready.
//   - 5xx, no answer, or no answer in time: down.
// No body is read past 64 KiB, so an S3 that streams without end cannot
// hold a probe (or its memory) until the timeout.
//
// From the moment shutdown begins the answer is 503 at once, without asking
// Redis or S3, so that load balancers stop sending traffic while downloads
// in flight drain. Results are shared for a second, so a flood of readiness
// requests is not a flood of Redis and S3 requests.
import type { BucketLocation } from '../config/config.ts';
import type { S3Origin } from '../s3/origin.ts';
import { bucketPath } from '../s3/s3-target.ts';
import { errorCodeFromBody, isCredentialError } from '../s3/s3-errors.ts';
import { errorBodyLimit, readBounded } from '../s3/bounded-body.ts';
import type { Logger } from './logger.ts';

export type Probe = 'ok' | 'down';

export interface ReadinessBody {
  redis: Probe;
  s3: Probe;
  draining: boolean;
}

export interface ReadinessDeps {
  redis: { ping(): Promise<unknown> };
  origin: S3Origin;
  location: BucketLocation;
  logger: Logger;
  /** how long each probe may take before it counts as down */
  probeTimeoutMs?: number;
  /** how long one round of probes answers every readiness request */
  cacheMs?: number;
}

export interface Readiness {
  readonly draining: boolean;
  /** from now on, 503: called when shutdown begins */
  markDraining(): void;
  check(): Promise<{ ready: boolean; body: ReadinessBody }>;
}

export function createReadiness(deps: ReadinessDeps): Readiness {
  const probeTimeoutMs = deps.probeTimeoutMs ?? 2_000;
  const cacheMs = deps.cacheMs ?? 1_000;
  let draining = false;
  let last: { redis: Probe; s3: Probe } | undefined;
  let lastAt = 0;
  let running: Promise<{ redis: Probe; s3: Probe }> | undefined;

  const probeAll = async () => {
    const [redis, s3] = await Promise.all([probeRedis(deps.redis, probeTimeoutMs), probeS3(deps, probeTimeoutMs)]);
    const previous = last;
    last = { redis, s3 };
    lastAt = Date.now();
    // One line per change, not one per probe.
    for (const name of ['redis', 's3'] as const) {
      if (previous?.[name] === last[name] || (previous === undefined && last[name] === 'ok')) continue;
      if (last[name] === 'down') deps.logger.warn({ dependency: name }, 'readiness: dependency down');
      else deps.logger.info({ dependency: name }, 'readiness: dependency back');
    }
    return last;
  };

  const probes = (): Promise<{ redis: Probe; s3: Probe }> => {
    if (last && Date.now() - lastAt < cacheMs) return Promise.resolve(last);
    running ??= probeAll().finally(() => {
      running = undefined;
    });
    return running;
  };

  return {
    get draining() {
      return draining;
    },
    markDraining() {
      draining = true;
    },
    async check() {
      if (draining) {
        return { ready: false, body: { redis: last?.redis ?? 'down', s3: last?.s3 ?? 'down', draining: true } };
      }
      const result = await probes();
      // Shutdown may have begun while the probes ran.
      const body: ReadinessBody = { ...result, draining };
      return { ready: body.redis === 'ok' && body.s3 === 'ok' && !body.draining, body };
    },
  };
}

async function probeRedis(redis: ReadinessDeps['redis'], timeoutMs: number): Promise<Probe> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Probe>((resolve) => {
    timer = setTimeout(() => resolve('down'), timeoutMs);
  });
  const ping = redis.ping().then(
    (): Probe => 'ok',
    (): Probe => 'down',
  );
  try {
    return await Promise.race([ping, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function probeS3(deps: ReadinessDeps, timeoutMs: number): Promise<Probe> {
  const path = bucketPath(deps.location);
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const head = await deps.origin.request('HEAD', path, {}, signal);
    await head.body.dump();
    if (head.status < 400) return 'ok';
    if (head.status === 404 || head.status >= 500) return 'down';
    const list = await deps.origin.request('GET', path, {}, signal, { 'list-type': '2', 'max-keys': '0' });
    if (list.status >= 500) {
      await list.body.dump({ limit: errorBodyLimit });
      return 'down';
    }
    const code = list.status >= 400 ? errorCodeFromBody(await readBounded(list.body, errorBodyLimit)) : (await list.body.dump({ limit: errorBodyLimit }), undefined);
    return isCredentialError(code) ? 'down' : 'ok';
  } catch {
    return 'down';
  }
}
