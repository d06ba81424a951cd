// The one Redis connection. Commands fail fast while Redis is away (no
// offline queue), so a request answers 503 at once instead of hanging, and
// ioredis reconnects by itself when Redis returns.
import { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.ts';

export class StoreUnavailable extends Error {
  constructor(cause: unknown) {
    super('Redis is unavailable', { cause });
    this.name = 'StoreUnavailable';
  }
}

export function createRedis(url: string, logger: Logger): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 2_000,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
  });
  let healthy = true;
  redis.on('error', (error: Error) => {
    // One line per outage, not one per reconnection attempt.
    if (healthy) logger.error({ err: { message: error.message } }, 'redis connection lost');
    healthy = false;
  });
  redis.on('ready', () => {
    if (!healthy) logger.info('redis connection restored');
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
export async function waitForRedis(redis: Redis, ms: number): Promise<boolean> {
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
