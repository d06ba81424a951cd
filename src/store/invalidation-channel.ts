// Tells every instance's in-memory caches when what they hold may have
// changed in Redis. Each instance keeps one subscriber connection of its
// own, on a pub/sub channel under the key prefix: a change that must take
// effect at once everywhere (a sign-out, a revocation, a back-channel
// logout) is published there by whoever makes it. What nobody publishes
// (a flush, a key deleted by hand, expiry, eviction), Redis itself reports:
// the subscriber turns on client tracking (Redis 6 and later) in broadcast
// mode for the cached keys' prefix, so Redis tells it of every change to
// such a key, and of every flush.
//
// Caches may answer only while `live`: from the moment the subscriber is
// subscribed until its connection is lost. Both edges clear every cache,
// since whatever was published in between is lost.
//
// Classic pub/sub, not sharded: Redis Cluster relays a PUBLISH to every
// node, so a subscriber on any one master hears every instance (tracking
// there covers that master's keys only); Sentinel deployments resolve the
// master for the subscriber as for the commands.
import { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.ts';
import { storeCall, type RedisClient } from './redis-client.ts';

export type Invalidation = { kind: 'ids'; ids: string[] } | { kind: 'all' };

export interface InvalidationChannel {
  /** subscribed: caches may answer from memory */
  readonly live: boolean;
  /**
   * Grows with every invalidation and every change of `live`: a read from
   * Redis begun under an older epoch may be answered but must not be cached.
   */
  readonly epoch: number;
  /** Sends `ids` to every instance's listeners, this one's too (through Redis). */
  publish(ids: string[]): Promise<void>;
  onInvalidate(listener: (invalidation: Invalidation) => void): void;
  close(): Promise<void>;
}

/** Ids published are digests (base64url); a message is ids separated by spaces, `*` for everything. */
const idPattern = /^[A-Za-z0-9_-]{1,128}$/;
const trackingChannel = '__redis__:invalidate';

export function parseInvalidation(message: string): Invalidation {
  const ids = message.split(' ');
  // Anything unexpected clears everything: the safe reading.
  if (message === '*' || ids.some((id) => !idPattern.test(id))) return { kind: 'all' };
  return { kind: 'ids', ids };
}

interface ChannelOptions {
  /** the channel is `<keyPrefix>invalidate` */
  keyPrefix: string;
  /** keys under this prefix are tracked; a change is reported as the rest of the key */
  trackedPrefix: string;
  logger: Logger;
}

/**
 * The subscriber's own connection: the same server (or the master Sentinel
 * names) as the commands, over RESP2, where client tracking's notices come
 * as pub/sub messages (ioredis passes RESP3 invalidation pushes to nobody).
 */
function subscriberFor(redis: RedisClient, connectionName: string): Redis | undefined {
  if (redis instanceof Redis) {
    return redis.duplicate({ protocol: 2, connectionName, autoResubscribe: false, lazyConnect: true, enableOfflineQueue: false });
  }
  // Cluster: any master hears every PUBLISH; a new one is picked whenever the connection ends.
  const masters = redis.nodes('master');
  const node = masters[Math.floor(Math.random() * masters.length)];
  if (!node) return undefined;
  const { host, port, username, password, tls, connectTimeout, commandTimeout } = node.options;
  return new Redis({
    host,
    port,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    ...(tls === undefined ? {} : { tls }),
    ...(connectTimeout === undefined ? {} : { connectTimeout }),
    ...(commandTimeout === undefined ? {} : { commandTimeout }),
    protocol: 2,
    connectionName,
    autoResubscribe: false,
    lazyConnect: true,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
}

export function createInvalidationChannel(redis: RedisClient, { keyPrefix, trackedPrefix, logger }: ChannelOptions): InvalidationChannel {
  const channel = `${keyPrefix}invalidate`;
  // A name others can recognise in CLIENT LIST (no spaces allowed there).
  const connectionName = `s3proxy-invalidations-${keyPrefix.replace(/[^!-~]/g, '_')}`.slice(0, 200);
  const listeners: Array<(invalidation: Invalidation) => void> = [];
  let live = false;
  let epoch = 0;
  let closed = false;
  let connection: Redis | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let retries = 0;
  let trackingRefusalLogged = false;

  const emit = (invalidation: Invalidation) => {
    epoch += 1;
    for (const listener of listeners) listener(invalidation);
  };
  const setLive = (now: boolean) => {
    if (live === now && !now) return;
    live = now;
    emit({ kind: 'all' });
  };

  const onMessage = (from: Buffer, payload: Buffer | Buffer[] | null) => {
    if (from.toString() === channel && Buffer.isBuffer(payload)) return emit(parseInvalidation(payload.toString()));
    // client tracking: the keys that changed, or null for a flush
    const keys = Array.isArray(payload) ? payload.map(String) : [];
    if (keys.length === 0 || keys.some((key) => !key.startsWith(trackedPrefix))) return emit({ kind: 'all' });
    emit(parseInvalidation(keys.map((key) => key.slice(trackedPrefix.length)).join(' ')));
  };

  const subscribe = async (conn: Redis) => {
    let tracking = false;
    try {
      const id = await conn.client('ID');
      await conn.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(id), 'BCAST', 'PREFIX', trackedPrefix);
      tracking = true;
    } catch (error) {
      if (!trackingRefusalLogged) {
        trackingRefusalLogged = true;
        logger.warn(
          { err: { message: (error as Error).message } },
          'redis refused client tracking: a flush, expiry or a key deleted by hand ends what instances hold in memory within a second instead of at once',
        );
      }
    }
    await conn.subscribe(channel, ...(tracking ? [trackingChannel] : []));
    if (conn !== connection) return;
    retries = 0;
    setLive(true);
  };

  const connect = () => {
    retryTimer = undefined;
    if (closed) return;
    const conn = subscriberFor(redis, connectionName);
    if (!conn) return scheduleRetry();
    connection = conn;
    // Failures are the main connection's to log; here they only stop caching.
    conn.on('error', () => undefined);
    conn.on('messageBuffer', onMessage);
    conn.on('ready', () => {
      subscribe(conn).catch(() => {
        if (conn === connection) conn.disconnect(true);
      });
    });
    for (const event of ['close', 'reconnecting', 'end'] as const) conn.on(event, () => conn === connection && setLive(false));
    // A Cluster subscriber does not reconnect by itself: a new master is chosen instead.
    conn.on('end', () => {
      if (conn === connection && !closed && !(redis instanceof Redis)) scheduleRetry();
    });
    conn.connect().catch(() => undefined);
  };
  const scheduleRetry = () => {
    if (closed || retryTimer) return;
    retries += 1;
    retryTimer = setTimeout(connect, Math.min(retries * 100, 1_000));
    retryTimer.unref();
  };

  if (redis instanceof Redis || redis.status === 'ready') connect();
  else redis.once('ready', connect);

  return {
    get live() {
      return live;
    },
    get epoch() {
      return epoch;
    },
    async publish(ids) {
      if (ids.length === 0) return;
      await storeCall(() => redis.publish(channel, ids.join(' ')));
    },
    onInvalidate(listener) {
      listeners.push(listener);
    },
    async close() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      redis.off('ready', connect);
      setLive(false);
      connection?.disconnect();
      connection = undefined;
    },
  };
}
