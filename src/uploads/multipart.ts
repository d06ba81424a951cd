// Multipart uploads: the proxy creates, lists, completes and aborts them
// with its own credentials; the client sends the parts to the URLs the
// proxy hands out (upload-urls.ts: presigned UploadPart URLs, or the
// proxy's data path). Who owns an upload is checked in one place,
// ownedUpload(), before anything else is done with it.
//
// S3 cannot bind a part's size in a presigned URL the proxy signs before
// the client has said it (unless the client declares it), so sizes are
// checked when the client asks to complete: the parts' sizes (ListParts) against the declared size and the
// limit before S3 joins them, and the object's size (HeadObject) after; a
// mismatch then deletes the object. RGW ignores If-None-Match on
// CompleteMultipartUpload (AWS honours it), so with overwrites not allowed
// the proxy also looks for an existing object just before completing.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
} from '@aws-sdk/client-s3';
import type { Receipt } from './daily-volume.ts';
import type { UploadUrls } from './upload-urls.ts';
import { isNotFound, s3Problem } from './s3-failures.ts';
import type { UploadFacts } from './upload-events.ts';
import type { CompletedPart, MediaType } from './upload-input.ts';
import { checkDeclaredSize, checkPartsTotal, completedSizeOk, sizeLimit } from './upload-policy.ts';
import { UploadProblem, badInput } from './upload-problem.ts';
import type { UploadRecord } from './upload-records.ts';
import { checkType, chooseKey, fullKeyOf, objectExists, releaseClaim, type UploadDeps, type Uploader } from './upload-service.ts';

/**
 * How long Redis remembers a multipart upload after it was last used: part
 * URLs live UPLOAD_URL_TTL seconds each, and a client may pause (or be
 * interrupted) between parts and resume the next day.
 */
export const MULTIPART_MARGIN_SECONDS = 24 * 60 * 60;

export interface Part {
  PartNumber: number;
  ETag: string;
  Size: number;
}

export interface MultipartInput {
  name: string;
  type: MediaType;
  size?: number | undefined;
  metadata: Record<string, string>;
}

function recordTtlMs(deps: UploadDeps): number {
  return (deps.settings.urlTtlSeconds + MULTIPART_MARGIN_SECONDS) * 1000;
}

function describe(facts: UploadFacts, record: UploadRecord): void {
  facts.key = record.key;
  facts.uploadId = record.uploadId;
  facts.type = record.type;
  if (record.size !== undefined) facts.size = record.size;
}

export async function createMultipart(deps: UploadDeps, uploader: Uploader, input: MultipartInput, facts: UploadFacts): Promise<{ key: string; uploadId: string }> {
  checkDeclaredSize('multipart', input.size, deps.settings);
  checkType(deps, input.type);
  const ttlMs = recordTtlMs(deps);
  const chosen = await chooseKey(deps, uploader, input.name, ttlMs);
  facts.key = chosen.key;
  let receipt: Receipt | undefined;
  let uploadId: string | undefined;
  try {
    // undeclared: charged by its real size when it completes; it only needs some volume left
    if (input.size === undefined) await deps.volume?.checkRoom(uploader.owner);
    else receipt = await deps.volume?.charge(uploader.owner, input.size);
    try {
      const created = await deps.s3.send(
        new CreateMultipartUploadCommand({
          Bucket: deps.location.bucket,
          Key: chosen.fullKey,
          ContentType: input.type.value,
          ...(Object.keys(input.metadata).length > 0 ? { Metadata: input.metadata } : {}),
        }),
      );
      uploadId = created.UploadId;
    } catch (error) {
      throw s3Problem(error, 'CreateMultipartUpload');
    }
    if (!uploadId) throw new UploadProblem(502, 's3_error', 'S3 failed to start the upload', 'CreateMultipartUpload: no UploadId');
    facts.uploadId = uploadId;
    const now = Date.now();
    await deps.records.save({
      uploadId,
      owner: uploader.owner,
      key: chosen.key,
      name: input.name,
      type: input.type.value,
      ...(input.size === undefined ? {} : { size: input.size }),
      createdAt: now,
      expiresAt: now + ttlMs,
    });
  } catch (error) {
    // an upload nobody can complete (its record was never written) is aborted at once
    const id = uploadId;
    await Promise.allSettled([
      releaseClaim(deps, uploader, chosen),
      deps.volume?.refund(receipt),
      id ? deps.s3.send(new AbortMultipartUploadCommand({ Bucket: deps.location.bucket, Key: chosen.fullKey, UploadId: id })) : undefined,
    ]);
    throw error;
  }
  facts.outcome = 'created';
  return { key: chosen.key, uploadId };
}

/**
 * The one owner check: the upload must be known, be the caller's, and be
 * at `key`. Anything else is 404 (unknown or forgotten) or 403.
 */
export async function ownedUpload(deps: UploadDeps, uploader: Uploader, uploadId: string, key: string, facts: UploadFacts): Promise<UploadRecord> {
  facts.uploadId = uploadId;
  facts.key = key;
  const record = await deps.records.load(uploadId);
  if (!record) throw new UploadProblem(404, 'unknown_upload', 'no such upload (completed, aborted, expired or never made here)');
  if (record.owner !== uploader.owner) {
    throw new UploadProblem(403, 'not_owner', 'this upload belongs to somebody else', `upload of ${record.owner}`);
  }
  if (record.key !== key) throw new UploadProblem(403, 'not_owner', 'key: does not match the upload', `the upload is at ${record.key}`);
  describe(facts, record);
  return record;
}

/** Keeps an upload that is being worked on from being forgotten, with its claim on the name. */
async function renew(deps: UploadDeps, record: UploadRecord): Promise<void> {
  const ttlMs = recordTtlMs(deps);
  await deps.records.save({ ...record, expiresAt: Date.now() + ttlMs });
  if (deps.settings.overwrite !== 'allow') await deps.records.claim(fullKeyOf(deps, record.key), record.owner, ttlMs);
}

/** S3's limit for one part */
export const MAX_PART_BYTES = 5 * 1024 ** 3;

/** The most one part of this upload may be: S3's limit, and no more than the whole may be. */
export function partLimit(deps: UploadDeps, record: UploadRecord): number {
  return Math.min(MAX_PART_BYTES, record.size ?? sizeLimit('multipart', deps.settings));
}

export interface PartOptions {
  md5?: string | undefined;
  /** the part's exact size, declared by the client */
  size?: number | undefined;
}

export async function signParts(
  deps: UploadDeps,
  urls: UploadUrls,
  record: UploadRecord,
  partNumbers: number[],
  options: PartOptions = {},
): Promise<Map<number, { url: string; headers: Record<string, string> }>> {
  const maxBytes = partLimit(deps, record);
  if (options.size !== undefined && options.size > maxBytes) {
    throw new UploadProblem(413, 'too_large', `size: one part of this upload may be at most ${maxBytes} bytes`);
  }
  await renew(deps, record);
  const signed = new Map<number, { url: string; headers: Record<string, string> }>();
  for (const partNumber of partNumbers) {
    signed.set(
      partNumber,
      await urls.part({
        fullKey: fullKeyOf(deps, record.key),
        key: record.key,
        owner: record.owner,
        uploadId: record.uploadId,
        partNumber,
        md5: options.md5,
        size: options.size,
        maxBytes,
        ttlSeconds: deps.settings.urlTtlSeconds,
      }),
    );
  }
  return signed;
}

async function allParts(deps: UploadDeps, record: UploadRecord): Promise<Part[]> {
  const parts: Part[] = [];
  let marker: string | undefined;
  for (;;) {
    let page;
    try {
      page = await deps.s3.send(
        new ListPartsCommand({
          Bucket: deps.location.bucket,
          Key: fullKeyOf(deps, record.key),
          UploadId: record.uploadId,
          ...(marker === undefined ? {} : { PartNumberMarker: marker }),
        }),
      );
    } catch (error) {
      throw s3Problem(error, 'ListParts');
    }
    for (const part of page.Parts ?? []) {
      if (part.PartNumber !== undefined && part.ETag !== undefined) parts.push({ PartNumber: part.PartNumber, ETag: part.ETag, Size: part.Size ?? 0 });
    }
    if (!page.IsTruncated) return parts;
    const next = page.NextPartNumberMarker;
    // a truncated page without a next marker would loop for ever
    if (next === undefined || next === marker) throw new UploadProblem(502, 's3_error', 'S3 failed to list the parts', 'ListParts: truncated without a next marker');
    marker = next;
  }
}

/** Every part uploaded so far (all pages of ListParts), for a client to resume. */
export async function listParts(deps: UploadDeps, record: UploadRecord): Promise<Part[]> {
  await renew(deps, record);
  return allParts(deps, record);
}

const bareETag = (etag: string) => etag.replace(/^W\//, '').replace(/"/g, '');

export async function completeMultipart(deps: UploadDeps, record: UploadRecord, parts: CompletedPart[], facts: UploadFacts): Promise<{ key: string; size: number }> {
  const { settings, location } = deps;
  const fullKey = fullKeyOf(deps, record.key);
  const uploaded = new Map((await allParts(deps, record)).map((part) => [part.PartNumber, part]));
  let total = 0;
  // S3 is sent the ETags as it listed them: Uppy strips their quotes
  const joined = parts.map((part) => {
    const found = uploaded.get(part.PartNumber);
    if (!found) throw badInput('parts', `part ${part.PartNumber} has not been uploaded`);
    if (bareETag(found.ETag) !== bareETag(part.ETag)) throw badInput('parts', `the ETag of part ${part.PartNumber} does not match the uploaded part`);
    total += found.Size;
    return { PartNumber: found.PartNumber, ETag: found.ETag };
  });
  const limit = sizeLimit('multipart', settings);
  checkPartsTotal(total, record.size, limit);
  if (settings.overwrite !== 'allow' && (await objectExists(deps, fullKey))) {
    throw new UploadProblem(409, 'exists', 'a file with this name was made while this upload was in progress', `key ${record.key}`);
  }
  // declared sizes were charged at creation; an undeclared one is charged now, by what S3 holds
  const receipt = record.size === undefined ? await deps.volume?.charge(record.owner, total) : undefined;
  try {
    await deps.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: location.bucket,
        Key: fullKey,
        UploadId: record.uploadId,
        MultipartUpload: { Parts: joined },
        ...(settings.overwrite === 'allow' ? {} : { IfNoneMatch: '*' }),
      }),
    );
  } catch (error) {
    await deps.volume?.refund(receipt).catch(() => undefined);
    throw s3Problem(error, 'CompleteMultipartUpload');
  }
  let objectSize: number | undefined;
  try {
    objectSize = (await deps.s3.send(new HeadObjectCommand({ Bucket: location.bucket, Key: fullKey }))).ContentLength;
  } catch (error) {
    throw s3Problem(error, 'HeadObject after CompleteMultipartUpload');
  }
  if (!completedSizeOk(objectSize, total, limit)) {
    try {
      await deps.s3.send(new DeleteObjectCommand({ Bucket: location.bucket, Key: fullKey }));
    } catch (error) {
      throw s3Problem(error, 'DeleteObject of a mismatched upload');
    }
    await deps.records.remove(record);
    throw new UploadProblem(422, 'size_mismatch', 'the uploaded object is not the size its parts promised; it was deleted', `object ${objectSize}, parts ${total}`);
  }
  await deps.records.remove(record);
  // the object holds the name now
  await deps.records.release(fullKey, record.owner);
  facts.outcome = 'completed';
  facts.bytes = total;
  return { key: record.key, size: total };
}

export async function abortMultipart(deps: UploadDeps, record: UploadRecord, facts: UploadFacts): Promise<void> {
  const fullKey = fullKeyOf(deps, record.key);
  try {
    await deps.s3.send(new AbortMultipartUploadCommand({ Bucket: deps.location.bucket, Key: fullKey, UploadId: record.uploadId }));
  } catch (error) {
    // already gone at S3 (aborted elsewhere, or by the lifecycle rule): forgetting it is all that is left
    if (!isNotFound(error)) throw s3Problem(error, 'AbortMultipartUpload');
  }
  await deps.records.remove(record);
  await deps.records.release(fullKey, record.owner);
  facts.outcome = 'aborted';
}

export interface UploadInProgress {
  uploadId: string;
  key: string;
  name: string;
  type: string;
  size?: number;
  /** ISO 8601 */
  createdAt: string;
  /** ISO 8601: when the proxy forgets it unless it is used again */
  expiresAt: string;
}

export async function uploadsInProgress(deps: UploadDeps, uploader: Uploader): Promise<UploadInProgress[]> {
  const records = await deps.records.listOwnedBy(uploader.owner);
  return records.map((r) => ({
    uploadId: r.uploadId,
    key: r.key,
    name: r.name,
    type: r.type,
    ...(r.size === undefined ? {} : { size: r.size }),
    createdAt: new Date(r.createdAt).toISOString(),
    expiresAt: new Date(r.expiresAt).toISOString(),
  }));
}
