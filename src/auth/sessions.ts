// Signed-in sessions in Redis: a hash under a digest of the cookie value,
// holding the sealed identity and token plus when SSO last vouched for them.
// In OIDC mode each session is also listed under the provider's session (sid)
// and user (sub), so that a back-channel logout can end them on every
// instance: sorted sets scored by each session's expiry, so that they shrink
// by themselves, and every command touches one key (Redis Cluster).
import type { Identity } from '../shared/identity.ts';
import { storeCall, type RedisClient } from '../store/redis-client.ts';
import type { InvalidationChannel } from '../store/invalidation-channel.ts';
import { LookupCache } from './lookup-cache.ts';
import { isWellFormedSessionId, newSessionId, openSession, providerDigest, sealSession, sessionLookupId } from './session-crypto.ts';

export type { Identity };

/** Who the OpenID provider says signed in, and in which of its sessions (from the ID token). */
export interface ProviderSession {
  sub: string;
  sid?: string;
}

export interface Session {
  id: string;
  identity: Identity;
  accessToken: string;
  /** OIDC mode only */
  providerSession?: ProviderSession;
  /** epoch milliseconds of the last successful token check with SSO */
  checkedAt: number;
  /** answered from this instance's memory (up to a second old) rather than read from Redis just now */
  fromMemory?: boolean;
}

export interface SessionsOptions {
  /** how many opened sessions this instance keeps in memory; 0 decrypts on every load */
  openedCacheSize?: number;
  /**
   * Tells every instance what ended; with it, a session looked up in Redis
   * answers from memory for `lookupCacheMs` while the channel is live.
   * Without it, Redis is read on every load.
   */
  invalidations?: InvalidationChannel;
  /** at most 1,000 (default): how long a looked-up session answers from memory */
  lookupCacheMs?: number;
}

const markCheckedScript = `if redis.call('exists', KEYS[1]) == 1 then return redis.call('hset', KEYS[1], 'checkedAt', ARGV[1]) end return 0`;

// Lists a session in an index, drops the entries that have expired, and lets
// the index live exactly as long as its longest-lived entry.
const listScript = `redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[1])
redis.call('zadd', KEYS[1], ARGV[2], ARGV[3])
local last = redis.call('zrange', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('pexpireat', KEYS[1], last[2])
return 1`;

const lookupIdPattern = /^[A-Za-z0-9_-]{43}$/;

interface SealedPart {
  identity: Identity;
  accessToken: string;
  providerSession?: ProviderSession;
}

export class Sessions {
  readonly #redis: RedisClient;
  readonly #keyPrefix: string;
  readonly #prefix: string;
  readonly #maxAgeSeconds: number;
  readonly #openedCacheSize: number;
  // Opened sessions by lookup id: what is saved is the decryption (a sixth
  // of the CPU of a small download), and only while Redis holds the very
  // record that was opened. Bounded, oldest out.
  readonly #opened = new Map<string, { sealed: string; data: SealedPart }>();
  // Sessions as Redis held them up to a second ago, by lookup id: what is
  // saved is the Redis round trip. Only while the invalidation channel is
  // live, so that a sign-out, revocation, back-channel logout or flush on
  // any instance still takes effect at once on this one.
  readonly #recent: LookupCache<{ data: SealedPart; checkedAt: number }>;
  readonly #invalidations: InvalidationChannel | undefined;
  /** grows with every session this instance removes, as the channel's epoch does with every message */
  #removals = 0;

  constructor(redis: RedisClient, keyPrefix: string, maxAgeSeconds: number, options: SessionsOptions = {}) {
    this.#redis = redis;
    this.#keyPrefix = keyPrefix;
    this.#prefix = Sessions.keyPrefix(keyPrefix);
    this.#maxAgeSeconds = maxAgeSeconds;
    this.#openedCacheSize = options.openedCacheSize ?? 10_000;
    this.#invalidations = options.invalidations;
    this.#recent = new LookupCache(Math.min(options.lookupCacheMs ?? 1_000, 1_000), this.#invalidations ? this.#openedCacheSize : 0);
    this.#invalidations?.onInvalidate((invalidation) => {
      if (invalidation.kind === 'all') this.#recent.clear();
      else for (const lookup of invalidation.ids) this.#recent.delete(lookup);
    });
  }

  /** Where the session records are, for an invalidation channel to track. */
  static keyPrefix(keyPrefix: string): string {
    return `${keyPrefix}session:`;
  }

  /** How many opened sessions this instance holds in memory. */
  get openedInMemory(): number {
    return this.#opened.size;
  }

  #indexKey(kind: 'sid' | 'sub', value: string): string {
    return `${this.#keyPrefix}session-${kind}:${providerDigest(kind, value)}`;
  }

  #indexKeys(providerSession: ProviderSession): string[] {
    const keys = [this.#indexKey('sub', providerSession.sub)];
    if (providerSession.sid !== undefined) keys.push(this.#indexKey('sid', providerSession.sid));
    return keys;
  }

  /** A new session, under a new id every time: sign-in never reuses one. */
  async create(identity: Identity, accessToken: string, providerSession?: ProviderSession, now = Date.now()): Promise<Session> {
    const id = newSessionId();
    const lookup = sessionLookupId(id);
    const key = this.#prefix + lookup;
    const sealed = await sealSession(id, { identity, accessToken, ...(providerSession ? { providerSession } : {}) } satisfies SealedPart);
    const indexes = providerSession ? this.#indexKeys(providerSession) : [];
    const expiresAt = now + this.#maxAgeSeconds * 1000;
    // Listed before it exists, so that no session is ever unlisted.
    for (const index of indexes) {
      await storeCall(() => this.#redis.eval(listScript, 1, index, String(now), String(expiresAt), lookup));
    }
    const fields: Record<string, string> = { sealed, checkedAt: String(now) };
    if (indexes.length > 0) fields.indexes = JSON.stringify(indexes);
    await storeCall(() => this.#redis.multi().hset(key, fields).expire(key, this.#maxAgeSeconds).exec());
    return { id, identity, accessToken, ...(providerSession ? { providerSession } : {}), checkedAt: now };
  }

  /** `fresh`: read Redis even where memory holds the session */
  async load(id: string | undefined, { fresh = false }: { fresh?: boolean } = {}): Promise<Session | undefined> {
    if (!isWellFormedSessionId(id)) return undefined;
    const lookup = sessionLookupId(id);
    const channel = this.#invalidations;
    if (channel?.live && !fresh) {
      const known = this.#recent.get(lookup, performance.now());
      if (known !== undefined) {
        // An invalidation that reached this process together with the
        // request (in the same turn of the event loop) is handled first.
        await new Promise(setImmediate);
        if (channel.live && this.#recent.get(lookup, performance.now()) === known) return this.#session(id, known.data, known.checkedAt, true);
      }
    }
    const epoch = channel?.epoch;
    const removals = this.#removals;
    const stored = await storeCall(() => this.#redis.hgetall(this.#prefix + lookup));
    if (!stored.sealed || !stored.checkedAt) {
      // Ended elsewhere (another instance, a back-channel logout, expiry).
      this.#opened.delete(lookup);
      this.#recent.delete(lookup);
      return undefined;
    }
    const opened = await this.#open(id, lookup, stored.sealed);
    if (!opened) return undefined;
    const checkedAt = Number(stored.checkedAt);
    // Not when anything was invalidated while Redis was being read: what it answered may be what just ended.
    if (channel?.live && channel.epoch === epoch && this.#removals === removals) this.#recent.set(lookup, { data: opened, checkedAt }, performance.now());
    return this.#session(id, opened, checkedAt, false);
  }

  #session(id: string, opened: SealedPart, checkedAt: number, fromMemory: boolean): Session {
    return {
      id,
      identity: opened.identity,
      accessToken: opened.accessToken,
      ...(opened.providerSession ? { providerSession: opened.providerSession } : {}),
      checkedAt,
      ...(fromMemory ? { fromMemory } : {}),
    };
  }

  async #open(id: string, lookup: string, sealed: string): Promise<SealedPart | undefined> {
    // The lookup id is a digest of the cookie, so an entry answers only the
    // cookie that opened it, and only while Redis holds what it opened.
    const known = this.#opened.get(lookup);
    if (known !== undefined && known.sealed === sealed) return known.data;
    const data = await openSession<SealedPart>(id, sealed);
    if (data === undefined) {
      this.#opened.delete(lookup);
      return undefined;
    }
    if (this.#openedCacheSize > 0) {
      if (known === undefined && this.#opened.size >= this.#openedCacheSize) this.#opened.delete(this.#opened.keys().next().value!);
      this.#opened.set(lookup, { sealed, data });
    }
    return data;
  }

  async markChecked(id: string, now = Date.now()): Promise<void> {
    // Only where the session still exists: a sign-out racing with a check
    // must not leave a half-made hash behind, without expiry.
    const lookup = sessionLookupId(id);
    await storeCall(() => this.#redis.eval(markCheckedScript, 1, this.#prefix + lookup, String(now)));
    // Other instances' memory may be a second behind: their next check reads Redis first (require-session.ts).
    const known = this.#recent.get(lookup, performance.now());
    if (known !== undefined) known.checkedAt = Math.max(known.checkedAt, now);
  }

  async destroy(id: string | undefined): Promise<void> {
    if (!isWellFormedSessionId(id)) return;
    const lookup = sessionLookupId(id);
    await this.#remove(lookup);
    await this.#invalidations?.publish([lookup]);
  }

  /**
   * Ends every session of one provider session (`sid`) or, when there is no
   * `sid`, of one user (`sub`), for every instance: the records go from
   * Redis. Returns how many sessions there were.
   */
  async endProviderSessions(target: { sid?: string; sub?: string }): Promise<number> {
    const index =
      target.sid !== undefined ? this.#indexKey('sid', target.sid) : target.sub !== undefined ? this.#indexKey('sub', target.sub) : undefined;
    if (index === undefined) return 0;
    const lookups = (await storeCall(() => this.#redis.zrange(index, '0', '-1'))).filter((lookup) => lookupIdPattern.test(lookup));
    let ended = 0;
    for (const lookup of lookups) if (await this.#remove(lookup)) ended += 1;
    await this.#invalidations?.publish(lookups);
    // Entries of sessions that had already gone; a session listed meanwhile stays listed.
    if (lookups.length > 0) await storeCall(() => this.#redis.zrem(index, ...lookups));
    return ended;
  }

  /** true for a logout token (by its jti) not seen in the last `forSeconds`; false for a replay. */
  async claimLogoutToken(jti: string, forSeconds: number): Promise<boolean> {
    const key = `${this.#keyPrefix}logout-token:${providerDigest('jti', jti)}`;
    return (await storeCall(() => this.#redis.set(key, '1', 'EX', forSeconds, 'NX'))) === 'OK';
  }

  /** Lets a logout token count as unseen again (when ending its sessions failed half-way). */
  async releaseLogoutToken(jti: string): Promise<void> {
    await storeCall(() => this.#redis.del(`${this.#keyPrefix}logout-token:${providerDigest('jti', jti)}`));
  }

  /** true when there was such a session */
  async #remove(lookup: string): Promise<boolean> {
    const key = this.#prefix + lookup;
    this.#opened.delete(lookup);
    this.#recent.delete(lookup);
    this.#removals += 1;
    const indexes = await storeCall(() => this.#redis.hget(key, 'indexes'));
    const removed = await storeCall(() => this.#redis.del(key));
    for (const index of this.#ownIndexes(indexes)) await storeCall(() => this.#redis.zrem(index, lookup));
    return removed === 1;
  }

  /** The index keys a record names, where they are this proxy's own. */
  #ownIndexes(stored: string | null): string[] {
    if (!stored) return [];
    let parsed: unknown;
    try {
      parsed = JSON.parse(stored);
    } catch {
      return [];
    }
    if (!Array.isArray(parsed)) return [];
    const own = [`${this.#keyPrefix}session-sid:`, `${this.#keyPrefix}session-sub:`];
    return parsed.filter((key): key is string => typeof key === 'string' && own.some((prefix) => key.startsWith(prefix)));
  }
}
