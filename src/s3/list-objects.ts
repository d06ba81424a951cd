// One page of a folder: ListObjectsV2 with '/' as the delimiter, under the
// operator's key prefix. The mapping from the SDK's answer and the meaning of
// its errors are pure, so they are unit-tested without S3.
import { ListObjectsV2Command, type ListObjectsV2CommandOutput, type S3Client } from '@aws-sdk/client-s3';
import type { BucketLocation } from '../config/config.ts';
import { classifyS3Response } from './s3-errors.ts';

/** S3 never returns more per page. */
export const maxKeysPerPage = 1000;

export interface ListedFolder {
  /** the last segment, without its '/' (may be empty: keys can contain '//') */
  name: string;
  /** relative to the operator's prefix; ends with '/' */
  key: string;
}

export interface ListedObject {
  name: string;
  /** relative to the operator's prefix */
  key: string;
  size: number;
  lastModified: Date | undefined;
  etag: string | undefined;
}

export interface ListingPage {
  /** the folder listed, relative to the operator's prefix: '' or ends with '/' */
  prefix: string;
  folders: ListedFolder[];
  objects: ListedObject[];
  /** S3's continuation token, opaque, when there is more */
  nextPageToken: string | undefined;
  /** S3 returned nothing at all, not even the folder's own marker */
  nothingThere: boolean;
}

export type ListOutput = Pick<ListObjectsV2CommandOutput, 'CommonPrefixes' | 'Contents' | 'IsTruncated' | 'NextContinuationToken' | 'KeyCount'>;

export function pageFromListOutput(output: ListOutput, keyPrefix: string, prefix: string): ListingPage {
  const full = keyPrefix + prefix;
  const folders: ListedFolder[] = [];
  for (const common of output.CommonPrefixes ?? []) {
    const fullKey = common.Prefix;
    // S3 only answers under the prefix asked for; anything else is not shown.
    if (fullKey === undefined || !fullKey.startsWith(full) || fullKey.length <= full.length) continue;
    folders.push({ name: fullKey.slice(full.length, -1), key: fullKey.slice(keyPrefix.length) });
  }
  const objects: ListedObject[] = [];
  for (const item of output.Contents ?? []) {
    const fullKey = item.Key;
    // Keys ending in '/' are folder markers made by consoles and sync tools, not files.
    if (fullKey === undefined || !fullKey.startsWith(full) || fullKey.endsWith('/')) continue;
    objects.push({
      name: fullKey.slice(full.length),
      key: fullKey.slice(keyPrefix.length),
      size: item.Size ?? 0,
      lastModified: item.LastModified,
      etag: item.ETag,
    });
  }
  const counted = output.KeyCount ?? (output.Contents?.length ?? 0) + (output.CommonPrefixes?.length ?? 0);
  return {
    prefix,
    folders,
    objects,
    nextPageToken: output.IsTruncated && output.NextContinuationToken ? output.NextContinuationToken : undefined,
    nothingThere: counted === 0,
  };
}

export async function listFolder(
  client: S3Client,
  location: BucketLocation,
  prefix: string,
  pageToken: string | undefined,
  abortSignal?: AbortSignal,
): Promise<ListingPage> {
  const output = await client.send(
    new ListObjectsV2Command({
      Bucket: location.bucket,
      Prefix: location.keyPrefix + prefix,
      Delimiter: '/',
      MaxKeys: maxKeysPerPage,
      ...(pageToken === undefined ? {} : { ContinuationToken: pageToken }),
    }),
    abortSignal ? { abortSignal } : {},
  );
  return pageFromListOutput(output, location.keyPrefix, prefix);
}

export interface ListFailure {
  /** 499: the client left first */
  status: 400 | 403 | 404 | 499 | 500 | 502 | 504;
  logAs: 'info' | 'error';
  reason: string;
  /** S3's error code, or the SDK's error name when S3 never answered */
  code: string | undefined;
  s3Status: number | undefined;
}

/** What a failed ListObjectsV2 means for the client, with the same rules as object requests. */
export function classifyListError(error: unknown): ListFailure {
  const e = (error ?? {}) as { name?: string; code?: string; Code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = typeof e.name === 'string' ? e.name : undefined;
  const s3Status = e.$metadata?.httpStatusCode;
  if (name === 'AbortError') return { status: 499, logAs: 'info', reason: 'the client went away before S3 answered', code: name, s3Status };
  if (name === 'TimeoutError' || e.code === 'ETIMEDOUT') {
    return { status: 504, logAs: 'error', reason: 'S3 did not answer the listing in time', code: name, s3Status };
  }
  if (typeof s3Status === 'number') {
    const code = e.Code ?? name;
    const outcome = classifyS3Response(s3Status, code);
    if (outcome.kind === 'error') return { status: outcome.status, logAs: outcome.logAs, reason: outcome.reason, code, s3Status };
    // A successful status the SDK could not read (a proxy's HTML page, a truncated body).
    return { status: 502, logAs: 'error', reason: `S3's listing could not be read: ${e.message ?? 'unknown'}`, code, s3Status };
  }
  if (name === 'CredentialsProviderError' || name === 'ProviderError' || name === 'TokenProviderError') {
    return { status: 500, logAs: 'error', reason: `no credentials for S3: ${name}`, code: name, s3Status };
  }
  return { status: 502, logAs: 'error', reason: `S3 could not be reached: ${e.message ?? 'unknown'}`, code: e.code ?? name, s3Status };
}
