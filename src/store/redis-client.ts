// The one Redis connection: a single server, a master found through
// Sentinel, or a Cluster, all through ioredis's own support. Commands fail
// fast while Redis is away (no offline queue), so a request answers 503 at
// once instead of hanging, and ioredis reconnects by itself when Redis
// returns.
//
// Every key the stores touch in one command or transaction is a single key
// (multi+hset+expire on one session, eval with one key), so all of it works
// on a Cluster without hash tags.
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisAuth, RedisConnection } from '../config/config.ts';
import type { Logger } from '../observability/logger.ts';

/** What the stores talk to: one server (standalone or via Sentinel) or a Cluster. */
export type RedisClient = Redis | Cluster;

export class StoreUnavailable extends Error {
  constructor(cause: unknown) {
    super('Redis is unavailable', { cause });
    this.name = 'StoreUnavailable';
  }
}

const failFast = {
  maxRetriesPerRequest: 1,
  commandTimeout: 2_000,
  connectTimeout: 2_000,
} satisfies RedisOptions;

const retryStrategy = (attempt: number) => Math.min(attempt * 100, 1_000);

function authOptions(auth: RedisAuth): RedisOptions {
  return {
    ...(auth.username === undefined ? {} : { username: auth.username }),
    ...(auth.password === undefined ? {} : { password: auth.password }),
    ...(auth.tls ? { tls: {} } : {}),
  };
}

function connect(connection: RedisConnection): RedisClient {
  switch (connection.mode) {
    case 'standalone':
      return new Redis(connection.url, { ...failFast, enableOfflineQueue: false, retryStrategy });
    case 'sentinel': {
      const sentinelAuth = connection.sentinelAuth;
      return new Redis({
        ...failFast,
        enableOfflineQueue: false,
        retryStrategy,
        sentinels: connection.sentinels,
        name: connection.masterName,
        ...authOptions(connection.auth),
        ...(sentinelAuth.username === undefined ? {} : { sentinelUsername: sentinelAuth.username }),
        ...(sentinelAuth.password === undefined ? {} : { sentinelPassword: sentinelAuth.password }),
        ...(sentinelAuth.tls ? { enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
        // keep asking the sentinels while none answers, as retryStrategy does for the master
        sentinelRetryStrategy: retryStrategy,
      });
    }
    case 'cluster': {
      const options: ClusterOptions = {
        enableOfflineQueue: false,
        clusterRetryStrategy: retryStrategy,
        // a node that restarts with the same slots must be reconnected to:
        // without this, ioredis waits for a MOVED that never comes
        clusterNodeRetryStrategy: retryStrategy,
        slotsRefreshTimeout: 2_000,
        redisOptions: { ...failFast, ...authOptions(connection.auth) },
        // TLS certificates name the hosts given, not the addresses they
        // resolve to (ElastiCache): connect by name
        ...(connection.auth.tls ? { dnsLookup: (address, callback) => callback(null, address) } : {}),
      };
      return new Cluster(connection.nodes, options);
    }
  }
}

export function createRedis(connection: RedisConnection, logger: Logger): RedisClient {
  const redis = connect(connection);
  let healthy = true;
  redis.on('error', (error: Error) => {
    // One line per outage, not one per reconnection attempt. Only the
    // message: an ioredis error may quote a command's arguments.
    if (healthy) logger.error({ err: { message: error.message }, mode: connection.mode }, 'redis connection lost');
    healthy = false;
  });
  redis.on('ready', () => {
    if (!healthy) logger.info({ mode: connection.mode }, 'redis connection restored');
    healthy = true;
  });
  return redis;
}

/** Runs a Redis command, turning any Redis failure into StoreUnavailable. */
export async function storeCall<T>(command: () => Promise<T>): Promise<T> {
  try {
    return await command();
  } catch (error) {
    throw new StoreUnavailable(error);
  }
}

/** Waits for the first connection, but never longer than `ms`. */
export async function waitForRedis(redis: RedisClient, ms: number): Promise<boolean> {
  if (redis.status === 'ready') return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      resolve(false);
    }, ms);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    redis.once('ready', onReady);
  });
}
