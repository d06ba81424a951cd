// Start-up: configuration, the parts, the server, and its lifecycle.
import http from 'node:http';
import { parseConfig } from './config/parse-config.ts';
import { formatConfigErrors } from './config/format-config-errors.ts';
import { createLogger } from './observability/logger.ts';
import { createRedis, waitForRedis } from './store/redis-client.ts';
import { createSsoClient } from './auth/sso-client.ts';
import { LoginStates } from './auth/login-states.ts';
import { Sessions } from './auth/sessions.ts';
import { S3Origin } from './s3/origin.ts';
import { createSigner } from './s3/signer.ts';
import { createApp } from './http/app.ts';
import { manageLifecycle } from './lifecycle/graceful-shutdown.ts';

const parsed = parseConfig(process.env);
if (!parsed.ok) {
  for (const line of formatConfigErrors(parsed.errors)) process.stderr.write(line + '\n');
  process.exit(1);
}
const config = parsed.config;
const logger = createLogger(config.logLevel);

const redis = createRedis(config.redisUrl, logger);
if (!(await waitForRedis(redis, 3_000))) {
  logger.warn('redis is not reachable yet: requests needing a session answer 503 until it is');
}
const origin = new S3Origin({
  origin: config.s3.location.origin,
  sign: createSigner(config.s3.region, config.s3.credentials),
  headersTimeoutMs: config.s3.upstreamTimeoutMs,
});
const deps = {
  config,
  logger,
  origin,
  sso: createSsoClient(config.sso),
  loginStates: new LoginStates(redis, config.redisKeyPrefix, config.loginStateTtlSeconds),
  sessions: new Sessions(redis, config.redisKeyPrefix, config.session.maxAgeSeconds),
};

const server = http.createServer(
  {
    // Header dribbling and oversized headers end early (408 / 431 from Node).
    headersTimeout: 10_000,
    requestTimeout: 30_000,
    maxHeaderSize: 16 * 1024,
    keepAliveTimeout: 5_000,
  },
  createApp(deps).callback(),
);

manageLifecycle(server, {
  timeoutMs: config.shutdownTimeoutMs,
  logger,
  release: async () => {
    await Promise.allSettled([redis.quit(), origin.close()]);
  },
});

server.listen(config.port, () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info({ port, bucket: config.s3.location.bucket, sso: config.sso.mode }, 'listening');
});
