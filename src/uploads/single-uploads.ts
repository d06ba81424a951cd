// Uploads in one request: a PUT (what scripts use) and a form POST (what
// Uppy uses for small files). The proxy checks the rules, picks the key,
// charges the daily volume and hands out a URL (upload-urls.ts) whose
// signature, policy or capability makes S3 enforce the same rules.
import type { Receipt } from './daily-volume.ts';
import type { UploadUrls } from './upload-urls.ts';
import type { UploadFacts } from './upload-events.ts';
import type { MediaType } from './upload-input.ts';
import { checkDeclaredSize, checkRoomLeft, postPolicyBounds, sizeLimit } from './upload-policy.ts';
import { badInput } from './upload-problem.ts';
import { checkType, chooseKey, releaseClaim, type ChosenKey, type UploadDeps, type Uploader } from './upload-service.ts';

/** A claim on a single upload's name outlives its URL by this much (clock skew, a request in flight). */
export const SINGLE_CLAIM_MARGIN_SECONDS = 60;

export interface SingleUploadInput {
  name: string;
  type: MediaType;
  size?: number | undefined;
  md5?: string | undefined;
  metadata: Record<string, string>;
}

export interface PutAnswer {
  method: 'PUT';
  url: string;
  headers: Record<string, string>;
  key: string;
  /** seconds the URL stays valid */
  expires: number;
}

export interface PostAnswer {
  method: 'POST';
  url: string;
  fields: Record<string, string>;
  /** seconds the policy stays valid */
  expires: number;
  /** the object's path as the proxy serves it (fields.key is the bucket's full key, which S3 needs) */
  key: string;
}

/** Gives back what a request took before it failed; never hides the failure itself. */
async function undo(deps: UploadDeps, uploader: Uploader, chosen: ChosenKey, receipt: Receipt | undefined): Promise<void> {
  await Promise.allSettled([releaseClaim(deps, uploader, chosen), deps.volume?.refund(receipt)]);
}

export async function presignedPutFor(deps: UploadDeps, urls: UploadUrls, uploader: Uploader, input: SingleUploadInput, facts: UploadFacts): Promise<PutAnswer> {
  const { settings } = deps;
  if (input.size === undefined) throw badInput('size', 'is required (the signature binds it)');
  const size = input.size;
  checkDeclaredSize('put', size, settings);
  checkType(deps, input.type);
  const ttl = settings.urlTtlSeconds;
  const chosen = await chooseKey(deps, uploader, input.name, (ttl + SINGLE_CLAIM_MARGIN_SECONDS) * 1000);
  facts.key = chosen.key;
  let receipt: Receipt | undefined;
  try {
    receipt = await deps.volume?.charge(uploader.owner, size);
    const put = await urls.put({
      fullKey: chosen.fullKey,
      key: chosen.key,
      owner: uploader.owner,
      type: input.type.value,
      size,
      md5: input.md5,
      // rename picked a free name: if-none-match keeps it from replacing one that appears meanwhile
      ifNoneMatch: settings.overwrite !== 'allow',
      metadata: input.metadata,
      ttlSeconds: ttl,
    });
    facts.outcome = 'presigned';
    facts.bytes = size;
    return { method: 'PUT', url: put.url, headers: put.headers, key: chosen.key, expires: ttl };
  } catch (error) {
    await undo(deps, uploader, chosen, receipt);
    throw error;
  }
}

export async function presignedPostFor(deps: UploadDeps, urls: UploadUrls, uploader: Uploader, input: SingleUploadInput, facts: UploadFacts): Promise<PostAnswer> {
  const { settings } = deps;
  checkDeclaredSize('post', input.size, settings);
  checkType(deps, input.type);
  const ttl = settings.urlTtlSeconds;
  const chosen = await chooseKey(deps, uploader, input.name, (ttl + SINGLE_CLAIM_MARGIN_SECONDS) * 1000);
  facts.key = chosen.key;
  let receipt: Receipt | undefined;
  try {
    let remaining: number | undefined;
    if (deps.volume) {
      const used = await deps.volume.used(uploader.owner);
      if (input.size === undefined) checkRoomLeft(used, deps.volume.limit);
      remaining = Math.max(0, deps.volume.limit - used);
    }
    const bounds = postPolicyBounds(input.size, sizeLimit('post', settings), remaining);
    receipt = await deps.volume?.charge(uploader.owner, bounds.charge);
    const post = await urls.post({
      fullKey: chosen.fullKey,
      key: chosen.key,
      owner: uploader.owner,
      type: input.type.value,
      minBytes: bounds.min,
      maxBytes: bounds.max,
      ifNoneMatch: settings.overwrite !== 'allow',
      metadata: input.metadata,
      ttlSeconds: ttl,
    });
    facts.outcome = 'presigned';
    if (input.size !== undefined) facts.bytes = input.size;
    return { method: 'POST', url: post.url, fields: post.fields, expires: ttl, key: chosen.key };
  } catch (error) {
    await undo(deps, uploader, chosen, receipt);
    throw error;
  }
}
