// UPLOAD_DAILY_BYTES: how many bytes each user was handed URLs for in the
// last 24 hours: a rolling window, not a calendar day, so that no midnight
// lets a user upload twice the volume within minutes. One sorted set per
// user (one key, so Redis Cluster works): each charge is a member scored by
// when it was made; a Lua script drops what has left the window, sums the
// rest and adds the new charge only if it fits, in one atomic step, so two
// instances cannot both hand out the last bytes.
import { randomUUID } from 'node:crypto';
import { storeCall, type RedisClient } from '../store/redis-client.ts';
import { userHash } from './object-name.ts';
import { checkRoomLeft, checkVolume } from './upload-policy.ts';

export const VOLUME_WINDOW_MS = 24 * 60 * 60 * 1000;

// ARGV: now, window, limit, charge, member. Returns {charged, used before}.
const chargeScript = `redis.call('zremrangebyscore', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
local used = 0
for _, member in ipairs(redis.call('zrange', KEYS[1], 0, -1)) do
  used = used + tonumber(string.match(member, '^(%d+):'))
end
local charge = tonumber(ARGV[4])
if charge > 0 and used + charge <= tonumber(ARGV[3]) then
  redis.call('zadd', KEYS[1], ARGV[1], ARGV[5])
  redis.call('pexpire', KEYS[1], ARGV[2])
  return {1, used}
end
return {0, used}`;

/** A charge that can be given back when the URL it paid for was never handed out. */
export interface Receipt {
  owner: string;
  member: string;
  bytes: number;
}

export class DailyVolume {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #limit: number;

  constructor(redis: RedisClient, keyPrefix: string, limit: number) {
    this.#redis = redis;
    this.#prefix = keyPrefix;
    this.#limit = limit;
  }

  get limit(): number {
    return this.#limit;
  }

  #key(owner: string): string {
    return `${this.#prefix}upload-volume:${userHash(owner)}`;
  }

  async #run(owner: string, charge: number, now: number): Promise<{ charged: boolean; used: number; member: string }> {
    const member = `${charge}:${randomUUID()}`;
    const result = await storeCall(() =>
      this.#redis.eval(chargeScript, 1, this.#key(owner), String(now), String(VOLUME_WINDOW_MS), String(this.#limit), String(charge), member),
    );
    const [charged, used] = result as [number, number];
    return { charged: charged === 1, used, member };
  }

  /** Bytes charged to `owner` in the last 24 hours. */
  async used(owner: string, now = Date.now()): Promise<number> {
    return (await this.#run(owner, 0, now)).used;
  }

  /** Charges `bytes` to `owner` (nothing for 0), or throws 413 when they do not fit. */
  async charge(owner: string, bytes: number, now = Date.now()): Promise<Receipt | undefined> {
    const { charged, used, member } = await this.#run(owner, bytes, now);
    if (charged) return { owner, member, bytes };
    checkVolume(used, bytes, this.#limit);
    return undefined;
  }

  /** Throws 413 unless some of `owner`'s volume is left (for an upload whose size is not declared). */
  async checkRoom(owner: string, now = Date.now()): Promise<void> {
    checkRoomLeft(await this.used(owner, now), this.#limit);
  }

  async refund(receipt: Receipt | undefined): Promise<void> {
    if (!receipt) return;
    await storeCall(() => this.#redis.zrem(this.#key(receipt.owner), receipt.member));
  }
}
