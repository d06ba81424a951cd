// What Redis knows about uploads: each multipart upload's owner, key,
// declared size and type (so that only its owner can sign, list, complete
// or abort it), an index of each user's uploads in progress, and claims on
// names that a URL has been handed out for (so that `never` and `rename`
// see an upload that has not landed yet). Every command touches one key,
// so Redis Cluster needs no hash tags; a Redis failure is StoreUnavailable.
import { createHash } from 'node:crypto';
import { storeCall, type RedisClient } from '../store/redis-client.ts';
import { userHash } from './object-name.ts';
import type { ClaimHolder } from './upload-policy.ts';

export interface UploadRecord {
  uploadId: string;
  /** lower-cased e-mail address of the identity that created it */
  owner: string;
  /** the object's path as the proxy serves it (relative to the operator's key prefix) */
  key: string;
  /** the cleaned file name that was asked for (the key's last part may differ after a rename) */
  name: string;
  /** the declared media type, as declared */
  type: string;
  /** the declared size; absent: not declared */
  size?: number;
  /** epoch milliseconds */
  createdAt: number;
  /** epoch milliseconds after which Redis forgets it, unless it is used again */
  expiresAt: number;
}

// Lists an upload id in its owner's index, drops entries that have lapsed,
// and lets the index live as long as its longest-lived entry.
const indexScript = `redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[1])
redis.call('zadd', KEYS[1], ARGV[2], ARGV[3])
local last = redis.call('zrange', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('pexpireat', KEYS[1], last[2])
return 1`;

// Takes a free claim, or says who holds it: 'nobody' (now taken), 'self', 'other'.
const claimScript = `local holder = redis.call('get', KEYS[1])
if not holder then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 'nobody'
end
if holder == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  return 'self'
end
return 'other'`;

const releaseScript = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;

function isRecord(value: unknown): value is UploadRecord {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return (
    typeof r.uploadId === 'string' &&
    typeof r.owner === 'string' &&
    typeof r.key === 'string' &&
    typeof r.name === 'string' &&
    typeof r.type === 'string' &&
    (r.size === undefined || typeof r.size === 'number') &&
    typeof r.createdAt === 'number' &&
    typeof r.expiresAt === 'number'
  );
}

export class UploadRecords {
  readonly #redis: RedisClient;
  readonly #prefix: string;

  constructor(redis: RedisClient, keyPrefix: string) {
    this.#redis = redis;
    this.#prefix = keyPrefix;
  }

  #recordKey(uploadId: string): string {
    return `${this.#prefix}upload:${uploadId}`;
  }

  #indexKey(owner: string): string {
    return `${this.#prefix}uploads-of:${userHash(owner)}`;
  }

  // full keys can be 1 KB of any text: a digest keeps Redis keys short and plain
  #claimKey(fullKey: string): string {
    return `${this.#prefix}upload-claim:${createHash('sha256').update(fullKey, 'utf8').digest('base64url')}`;
  }

  /** Saves (or renews) a record until `record.expiresAt`, listed under its owner. */
  async save(record: UploadRecord, now = Date.now()): Promise<void> {
    const ttlMs = Math.max(1, record.expiresAt - now);
    // listed before it exists, so that no record is ever unlisted
    await storeCall(() => this.#redis.eval(indexScript, 1, this.#indexKey(record.owner), String(now), String(record.expiresAt), record.uploadId));
    await storeCall(() => this.#redis.set(this.#recordKey(record.uploadId), JSON.stringify(record), 'PX', ttlMs));
  }

  async load(uploadId: string): Promise<UploadRecord | undefined> {
    const raw = await storeCall(() => this.#redis.get(this.#recordKey(uploadId)));
    if (raw === null) return undefined;
    try {
      const parsed: unknown = JSON.parse(raw);
      return isRecord(parsed) ? parsed : undefined;
    } catch {
      return undefined;
    }
  }

  async remove(record: UploadRecord): Promise<void> {
    await storeCall(() => this.#redis.del(this.#recordKey(record.uploadId)));
    await storeCall(() => this.#redis.zrem(this.#indexKey(record.owner), record.uploadId));
  }

  /** This owner's uploads in progress, oldest first. */
  async listOwnedBy(owner: string, now = Date.now()): Promise<UploadRecord[]> {
    const index = this.#indexKey(owner);
    const ids = await storeCall(() => this.#redis.zrangebyscore(index, String(now), '+inf'));
    const records: UploadRecord[] = [];
    for (const id of ids) {
      const record = await this.load(id);
      // an index entry outlives a record removed on another instance between the two commands
      if (record && record.owner === owner) records.push(record);
      else await storeCall(() => this.#redis.zrem(index, id));
    }
    return records.sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Claims `fullKey` for `owner` for `ttlMs` if nobody holds it; says who held it before. */
  async claim(fullKey: string, owner: string, ttlMs: number): Promise<ClaimHolder> {
    const holder = await storeCall(() => this.#redis.eval(claimScript, 1, this.#claimKey(fullKey), owner, String(Math.max(1, ttlMs))));
    return holder === 'nobody' || holder === 'self' ? holder : 'other';
  }

  /** Gives up `owner`'s claim on `fullKey` (somebody else's stays). */
  async release(fullKey: string, owner: string): Promise<void> {
    await storeCall(() => this.#redis.eval(releaseScript, 1, this.#claimKey(fullKey), owner));
  }
}
