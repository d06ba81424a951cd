// What every upload needs before a URL is handed out: the caller may
// upload at all, and a key is chosen under the overwrite mode. The parts
// here are shared by single uploads (PUT, POST) and multipart uploads.
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { BucketLocation, Config } from '../config/config.ts';
import type { UploadSettings } from '../config/upload-settings.ts';
import type { Identity } from '../shared/identity.ts';
import type { RedisClient } from '../store/redis-client.ts';
import { DailyVolume } from './daily-volume.ts';
import { keyFits, numberedName, userPrefix } from './object-name.ts';
import { isNotFound, s3Problem } from './s3-failures.ts';
import type { UploadFacts } from './upload-events.ts';
import type { MediaType } from './upload-input.ts';
import { checkServableKey, keyVerdict, mayUpload, RENAME_ATTEMPTS, typeAllowed } from './upload-policy.ts';
import { UploadProblem } from './upload-problem.ts';
import { UploadRecords } from './upload-records.ts';

export interface UploadDeps {
  settings: UploadSettings;
  location: BucketLocation;
  /** never a destination: it is served without sign-in */
  healthcheckKey?: string | undefined;
  s3: S3Client;
  records: UploadRecords;
  /** present when UPLOAD_DAILY_BYTES is set */
  volume?: DailyVolume | undefined;
}

/** The parts uploads need, or undefined when the operator has not turned uploads on. */
export function uploadDeps(config: Config, redis: RedisClient, s3: S3Client): UploadDeps | undefined {
  const settings = config.uploads;
  if (settings === undefined) return undefined;
  return {
    settings,
    location: config.s3.location,
    healthcheckKey: config.healthcheckKey,
    s3,
    records: new UploadRecords(redis, config.redisKeyPrefix),
    volume: settings.dailyBytes === undefined ? undefined : new DailyVolume(redis, config.redisKeyPrefix, settings.dailyBytes),
  };
}

/** Who is uploading: the identity, and the owner name records keep (the lower-cased address). */
export interface Uploader {
  identity: Identity;
  owner: string;
}

/** The caller as an uploader, or 403 when the operator does not let them upload. */
export function admit(deps: UploadDeps, identity: Identity, facts: UploadFacts): Uploader {
  const owner = identity.email.toLowerCase();
  facts.user = owner === '' ? identity.id : owner;
  if (owner === '') throw new UploadProblem(403, 'not_allowed', 'uploads need an identity with an e-mail address');
  if (!mayUpload(identity, deps.settings.allowedUsers)) {
    throw new UploadProblem(403, 'not_allowed', 'you may not upload here', 'not in UPLOAD_ALLOWED_USERS');
  }
  return { identity, owner };
}

export function checkType(deps: UploadDeps, type: MediaType): void {
  if (!typeAllowed(type.essence, deps.settings.allowedTypes)) {
    throw new UploadProblem(403, 'not_allowed', 'type: files of this type may not be uploaded', `type ${type.essence} not in UPLOAD_ALLOWED_TYPES`);
  }
}

export function fullKeyOf(deps: UploadDeps, key: string): string {
  return deps.location.keyPrefix + key;
}

export async function objectExists(deps: UploadDeps, fullKey: string): Promise<boolean> {
  try {
    await deps.s3.send(new HeadObjectCommand({ Bucket: deps.location.bucket, Key: fullKey }));
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw s3Problem(error, 'HeadObject');
  }
}

export interface ChosenKey {
  /** the object's path as the proxy serves it */
  key: string;
  fullKey: string;
  /** this request took a claim on it (to give back if the URL is not handed out after all) */
  claimed: boolean;
}

/**
 * The key for `name` in the uploader's folder. `allow`: the name as it is.
 * `never`: the name, or 409 when an object or somebody else's upload in
 * progress has it. `rename`: the first of `name`, `name (1)`, ... that no
 * object and no upload in progress has. Outside `allow`, the chosen key is
 * claimed for `claimTtlMs`, so that the next request sees it taken before
 * the object exists.
 */
export async function chooseKey(deps: UploadDeps, uploader: Uploader, name: string, claimTtlMs: number): Promise<ChosenKey> {
  const folder = userPrefix(deps.settings.prefixTemplate, uploader.owner);
  const mode = deps.settings.overwrite;
  const attempts = mode === 'rename' ? RENAME_ATTEMPTS : 1;
  for (let n = 0; n < attempts; n++) {
    const key = folder + numberedName(name, n);
    const fullKey = fullKeyOf(deps, key);
    if (!keyFits(fullKey)) throw new UploadProblem(400, 'bad_request', 'filename: too long for the upload folder (S3 keys have at most 1024 bytes)');
    checkServableKey(key, deps.healthcheckKey);
    if (mode === 'allow') return { key, fullKey, claimed: false };
    const exists = await objectExists(deps, fullKey);
    let verdict = keyVerdict(mode, exists, 'nobody');
    if (verdict === 'use') {
      const holder = await deps.records.claim(fullKey, uploader.owner, claimTtlMs);
      verdict = keyVerdict(mode, false, holder);
      if (verdict === 'use') return { key, fullKey, claimed: holder === 'nobody' };
    }
    if (verdict === 'conflict') {
      throw new UploadProblem(409, 'exists', exists ? 'a file with this name exists' : 'a file with this name is being uploaded', `key ${key}`);
    }
  }
  throw new UploadProblem(409, 'exists', `${RENAME_ATTEMPTS} files with this name exist already`);
}

/** Gives back a claim this request took, when its URL was not handed out after all. */
export async function releaseClaim(deps: UploadDeps, uploader: Uploader, chosen: ChosenKey): Promise<void> {
  if (chosen.claimed) await deps.records.release(chosen.fullKey, uploader.owner);
}
