// Start-up: configuration, the parts, the server, and its lifecycle.
import http from 'node:http';
import { parseConfig } from './config/parse-config.ts';
import { formatConfigErrors } from './config/format-config-errors.ts';
import { createLogger } from './observability/logger.ts';
import { createRedis, waitForRedis } from './store/redis-client.ts';
import { createInvalidationChannel } from './store/invalidation-channel.ts';
import { createSsoClient } from './auth/sso-client.ts';
import { createBearerAuth } from './auth/bearer.ts';
import { keyDirectoryProblem } from './auth/api-keys.ts';
import { LoginStates } from './auth/login-states.ts';
import { Sessions } from './auth/sessions.ts';
import { S3Origin } from './s3/origin.ts';
import { createSigner } from './s3/signer.ts';
import { sdkAccess } from './s3/sdk-access.ts';
import { createApp } from './http/app.ts';
import { manageLifecycle } from './lifecycle/graceful-shutdown.ts';
import type { MetricsServer } from './observability/metrics-server.ts';
import { memoryReducingGc, releaseMemoryWhenIdle } from './lifecycle/release-memory-when-idle.ts';
import { createReadiness } from './observability/health.ts';

const parsed = parseConfig(process.env);
if (!parsed.ok) {
  for (const line of formatConfigErrors(parsed.errors)) process.stderr.write(line + '\n');
  process.exit(1);
}
const config = parsed.config;
// Keys are read per token, so the directory may fill up later, but one that
// is not there at all is a deployment mistake.
const keysDirProblem = config.api?.publicKeysDir === undefined ? undefined : await keyDirectoryProblem(config.api.publicKeysDir);
if (keysDirProblem !== undefined) {
  for (const line of formatConfigErrors([`API_PUBLIC_KEYS_DIR: ${keysDirProblem}: ${JSON.stringify(config.api?.publicKeysDir)}`])) process.stderr.write(line + '\n');
  process.exit(1);
}
const logger = createLogger(config.logLevel);

// prom-client is loaded only where metrics are asked for
const metrics = config.metricsPort === undefined ? undefined : (await import('./observability/metrics.ts')).createMetrics();

const redis = createRedis(config.redis, logger);
// ioredis reports every failed connection attempt here; failed commands are counted per request.
if (metrics) redis.on('error', () => metrics.redisErrors.inc({ kind: 'connection' }));
if (!(await waitForRedis(redis, 3_000))) {
  logger.warn('redis is not reachable yet: requests needing a session answer 503 until it is');
}
// Sessions answer from memory for up to a second, while this channel tells
// every instance at once what ended.
const invalidations = createInvalidationChannel(redis, { keyPrefix: config.redisKeyPrefix, trackedPrefix: Sessions.keyPrefix(config.redisKeyPrefix), logger });
const origin = new S3Origin({
  origin: config.s3.location.origin,
  sign: createSigner(config.s3.region, config.s3.credentials),
  headersTimeoutMs: config.s3.upstreamTimeoutMs,
  connections: config.s3.maxConnections,
});
const readiness = createReadiness({ redis, origin, location: config.s3.location, logger });
const sso = createSsoClient(config.sso);
// one SDK client for listings and uploads (multipart calls, presigning), made on first use
const s3 = sdkAccess(config.s3);
const deps = {
  config,
  logger,
  origin,
  metrics,
  readiness,
  s3,
  redis,
  sso,
  bearer: createBearerAuth({ api: config.api, sso: config.sso, ssoClient: sso, logger }),
  loginStates: new LoginStates(redis, config.redisKeyPrefix, config.loginStateTtlSeconds),
  sessions: new Sessions(redis, config.redisKeyPrefix, config.session.maxAgeSeconds, { invalidations }),
};

const server = http.createServer(
  {
    // Header dribbling and oversized headers end early (408 / 431 from Node).
    headersTimeout: config.headersTimeoutMs,
    // Node refuses a requestTimeout shorter than headersTimeout. Uploads
    // through the proxy take as long as their bytes take: no limit on the
    // whole request then (a client that sends nothing for
    // CLIENT_IDLE_TIMEOUT is still dropped).
    requestTimeout: config.uploads?.dataPath === 'proxy' ? 0 : Math.max(30_000, config.headersTimeoutMs),
    // Node checks both timeouts only this often (default 30 s, which would
    // let a dribbling client hold its connection far past headersTimeout)
    connectionsCheckingInterval: Math.min(1_000, config.headersTimeoutMs),
    maxHeaderSize: 16 * 1024,
    keepAliveTimeout: 5_000,
  },
  createApp(deps).callback(),
);
// A client that reads nothing (its socket accepts no bytes) or sends nothing
// for this long is dropped; stream.pipeline then destroys the S3 body, which
// gives its connection back to the pool.
server.timeout = config.clientIdleTimeoutMs;

let metricsServer: MetricsServer | undefined;
if (metrics && config.metricsPort !== undefined) {
  try {
    const { startMetricsServer } = await import('./observability/metrics-server.ts');
    metricsServer = await startMetricsServer(metrics.registry, config.metricsPort, logger);
  } catch (error) {
    logger.fatal({ port: config.metricsPort, err: { message: (error as Error).message } }, 'metrics listener failed to start');
    process.exit(1);
  }
}

const lifecycle = manageLifecycle(server, {
  timeoutMs: config.shutdownTimeoutMs,
  logger,
  // Load balancers see 503 on readiness while the responses in flight drain.
  onDraining: () => readiness.markDraining(),
  release: async () => {
    deps.s3.destroy();
    await Promise.allSettled([invalidations.close(), redis.quit(), origin.close(), metricsServer?.close()]);
  },
});

// Started with --expose-gc, the proxy gives back memory grown in a burst once
// it has been quiet for 5 to 10 s (README: "Memory after a burst").
const gc = memoryReducingGc();
if (gc) releaseMemoryWhenIdle({ everyMs: 5_000, requestsStarted: lifecycle.requestsStarted, requestsInFlight: lifecycle.inFlight, release: gc });

server.once('error', (error: NodeJS.ErrnoException) => {
  // A port taken or forbidden is a deployment problem: one line, no stack trace.
  logger.fatal({ port: config.port, code: error.code }, `cannot listen on PORT ${config.port}: ${error.code ?? error.message}`);
  process.exit(1);
});
server.listen(config.port, () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info({ port, bucket: config.s3.location.bucket, sso: config.sso.mode }, 'listening');
});
// Browsers upload straight to S3 only if the bucket's CORS lets this origin:
// one warning now, instead of a CORS error in every user's console later.
if (config.uploads !== undefined) {
  void import('./s3/bucket-cors.ts').then(async ({ browsersSendToS3, checkBucketCors }) => {
    if (browsersSendToS3(config.uploads)) await checkBucketCors(await s3.client(), config.s3.location, config.publicUrl, logger);
  }).catch((error: unknown) => logger.warn({ err: { message: (error as Error).message } }, 'the bucket CORS check could not run'));
}
