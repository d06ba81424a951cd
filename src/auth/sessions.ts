// Signed-in sessions in Redis: a hash under a digest of the cookie value,
// holding the sealed identity and token plus when SSO last vouched for them.
import type { Identity } from '../shared/identity.ts';
import { storeCall, type RedisClient } from '../store/redis-client.ts';
import { isWellFormedSessionId, newSessionId, openSession, sealSession, sessionLookupId } from './session-crypto.ts';

export type { Identity };

export interface Session {
  id: string;
  identity: Identity;
  accessToken: string;
  /** epoch milliseconds of the last successful token check with SSO */
  checkedAt: number;
}

const markCheckedScript = `if redis.call('exists', KEYS[1]) == 1 then return redis.call('hset', KEYS[1], 'checkedAt', ARGV[1]) end return 0`;

interface SealedPart {
  identity: Identity;
  accessToken: string;
}

export class Sessions {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #maxAgeSeconds: number;

  constructor(redis: RedisClient, keyPrefix: string, maxAgeSeconds: number) {
    this.#redis = redis;
    this.#prefix = `${keyPrefix}session:`;
    this.#maxAgeSeconds = maxAgeSeconds;
  }

  #key(id: string): string {
    return this.#prefix + sessionLookupId(id);
  }

  /** A new session, under a new id every time: sign-in never reuses one. */
  async create(identity: Identity, accessToken: string, now = Date.now()): Promise<Session> {
    const id = newSessionId();
    const sealed = await sealSession(id, { identity, accessToken } satisfies SealedPart);
    const key = this.#key(id);
    await storeCall(() =>
      this.#redis.multi().hset(key, { sealed, checkedAt: String(now) }).expire(key, this.#maxAgeSeconds).exec(),
    );
    return { id, identity, accessToken, checkedAt: now };
  }

  async load(id: string | undefined): Promise<Session | undefined> {
    if (!isWellFormedSessionId(id)) return undefined;
    const stored = await storeCall(() => this.#redis.hgetall(this.#key(id)));
    if (!stored.sealed || !stored.checkedAt) return undefined;
    const opened = await openSession<SealedPart>(id, stored.sealed);
    if (!opened) return undefined;
    return { id, identity: opened.identity, accessToken: opened.accessToken, checkedAt: Number(stored.checkedAt) };
  }

  async markChecked(id: string, now = Date.now()): Promise<void> {
    // Only where the session still exists: a sign-out racing with a check
    // must not leave a half-made hash behind, without expiry.
    await storeCall(() => this.#redis.eval(markCheckedScript, 1, this.#key(id), String(now)));
  }

  async destroy(id: string | undefined): Promise<void> {
    if (!isWellFormedSessionId(id)) return;
    await storeCall(() => this.#redis.del(this.#key(id)));
  }
}
