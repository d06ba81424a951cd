// Which sign-ins have been used. The login state itself travels in a sealed
// cookie (login-state-cookie.ts), so a visitor who has not come back from SSO
// costs Redis nothing; Redis only remembers, until the state would have
// expired anyway, that a state was used, so that it works once.
import { storeCall, type RedisClient } from '../store/redis-client.ts';

export class LoginStates {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #ttlSeconds: number;

  /** `ttlSeconds`: LOGIN_STATE_TTL, the longest a mark is ever kept */
  constructor(redis: RedisClient, keyPrefix: string, ttlSeconds: number) {
    this.#redis = redis;
    this.#prefix = `${keyPrefix}login-used:`;
    this.#ttlSeconds = ttlSeconds;
  }

  /**
   * Marks the state used; true when this call was its first use. Called only
   * once the browser has shown the state's sealed cookie, so that a state
   * presented by anyone else cannot use it up.
   */
  async claim(state: string, expiresAt: number, now = Date.now()): Promise<boolean> {
    const seconds = Math.min(this.#ttlSeconds, Math.max(1, Math.ceil((expiresAt - now) / 1000)));
    const set = await storeCall(() => this.#redis.set(this.#prefix + state, '1', 'EX', seconds, 'NX'));
    return set === 'OK';
  }

  /**
   * Forgets a claim whose sign-in then failed (SSO refused or was away): only
   * a sign-in SSO confirmed leaves a mark, so made-up callbacks leave nothing.
   */
  async release(state: string): Promise<void> {
    await storeCall(() => this.#redis.del(this.#prefix + state));
  }
}
