// Sign-ins in progress. Each is a single-use Redis entry named by the OAuth2
// `state`, bound to the browser that started it by a random id in one small
// cookie that all of that browser's sign-ins share.
import { storeCall, type RedisClient } from '../store/redis-client.ts';

export interface LoginState {
  /** the browser's binding cookie value when the sign-in started */
  binding: string;
  /** path and query exactly as first requested, a trailing `?` included */
  returnTo: string;
  codeVerifier: string;
  nonce?: string;
}

const wellFormedState = /^[A-Za-z0-9_-]{22,128}$/;

export class LoginStates {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #ttlSeconds: number;

  constructor(redis: RedisClient, keyPrefix: string, ttlSeconds: number) {
    this.#redis = redis;
    this.#prefix = `${keyPrefix}login:`;
    this.#ttlSeconds = ttlSeconds;
  }

  async save(state: string, login: LoginState): Promise<void> {
    await storeCall(() => this.#redis.set(this.#prefix + state, JSON.stringify(login), 'EX', this.#ttlSeconds));
  }

  /** Removes and returns the sign-in, so a state can be used once only. */
  async take(state: string): Promise<LoginState | undefined> {
    if (!wellFormedState.test(state)) return undefined;
    const stored = await storeCall(() => this.#redis.getdel(this.#prefix + state));
    return stored === null ? undefined : (JSON.parse(stored) as LoginState);
  }
}
