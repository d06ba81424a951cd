// Where the upload routes send a client with its bytes, one interface for
// both data paths (UPLOAD_DATA_PATH), so that the routes, their rules and
// their answers are the same and only the URLs differ:
// - direct: presigned S3 URLs (presign.ts), the bytes go from the client to S3;
// - proxy: the proxy's data path with a sealed capability (capability.ts),
//   the bytes go through the proxy (data-path.ts), which passes on to S3
//   what a presigned URL would have signed.
import type { S3Client } from '@aws-sdk/client-s3';
import { sealCapability } from './capability.ts';
import { presignPart, presignPost, presignPut, type PresignedPost, type PresignedPut } from './presign.ts';

/** The proxy's data path; the capability follows. */
export const dataPathPrefix = '/__s3proxy/data/';

interface Target {
  /** the bucket's full key */
  fullKey: string;
  /** the object's path as the proxy serves it */
  key: string;
  /** the lower-cased address the upload belongs to */
  owner: string;
  ttlSeconds: number;
}

export interface PutTarget extends Target {
  type: string;
  size: number;
  md5?: string | undefined;
  ifNoneMatch: boolean;
  metadata: Record<string, string>;
}

export interface PostTarget extends Target {
  type: string;
  minBytes: number;
  maxBytes: number;
  /** S3 cannot be told in a policy; the proxy can pass it on */
  ifNoneMatch: boolean;
  metadata: Record<string, string>;
}

export interface PartTarget extends Target {
  uploadId: string;
  partNumber: number;
  md5?: string | undefined;
  /** the part's exact size, when the client declared it */
  size?: number | undefined;
  /** the most one part may be */
  maxBytes: number;
}

export interface UploadUrls {
  put(target: PutTarget): Promise<PresignedPut>;
  post(target: PostTarget): Promise<PresignedPost>;
  part(target: PartTarget): Promise<{ url: string; headers: Record<string, string> }>;
}

const metaHeaders = (metadata: Record<string, string>) => Object.fromEntries(Object.entries(metadata).map(([k, v]) => [`x-amz-meta-${k}`, v]));

/** Presigned URLs of S3 itself. */
export function directUrls(s3: S3Client, bucket: string): UploadUrls {
  return {
    put: (t) => presignPut(s3, { bucket, fullKey: t.fullKey, type: t.type, size: t.size, md5: t.md5, ifNoneMatch: t.ifNoneMatch, metadata: t.metadata, ttlSeconds: t.ttlSeconds }),
    post: (t) => presignPost(s3, { bucket, fullKey: t.fullKey, type: t.type, minBytes: t.minBytes, maxBytes: t.maxBytes, metadata: t.metadata, ttlSeconds: t.ttlSeconds }),
    part: async (t) => ({
      url: await presignPart(s3, { bucket, fullKey: t.fullKey, uploadId: t.uploadId, partNumber: t.partNumber, md5: t.md5, size: t.size, ttlSeconds: t.ttlSeconds }),
      headers: { ...(t.md5 === undefined ? {} : { 'content-md5': t.md5 }), ...(t.size === undefined ? {} : { 'content-length': String(t.size) }) },
    }),
  };
}

/**
 * URLs of the proxy's data path at `origin` (the proxy as the client sees
 * it). A client sends the same headers as to S3; the proxy takes only
 * Content-Length from them and sends S3 what the capability says.
 */
export function proxyUrls(key: Uint8Array, origin: string): UploadUrls {
  const url = async (capability: Parameters<typeof sealCapability>[1], ttlSeconds: number) =>
    origin + dataPathPrefix + (await sealCapability(key, capability, ttlSeconds));
  return {
    async put(t) {
      const headers: Record<string, string> = {
        'content-type': t.type,
        'content-length': String(t.size),
        ...(t.md5 === undefined ? {} : { 'content-md5': t.md5 }),
        ...(t.ifNoneMatch ? { 'if-none-match': '*' } : {}),
        ...metaHeaders(t.metadata),
      };
      const capability = { kind: 'put' as const, owner: t.owner, key: t.key, size: t.size, type: t.type, md5: t.md5, ifNoneMatch: t.ifNoneMatch, metadata: t.metadata };
      return { url: await url(capability, t.ttlSeconds), headers };
    },
    async post(t) {
      const capability = { kind: 'post' as const, owner: t.owner, key: t.key, minBytes: t.minBytes, maxBytes: t.maxBytes, type: t.type, ifNoneMatch: t.ifNoneMatch, metadata: t.metadata };
      // Uppy posts the fields, then the file, to `url`, and takes `url` + fields.key
      // for the file's location, as it does with S3: the slash keeps that a path
      return { url: (await url(capability, t.ttlSeconds)) + '/', fields: { key: t.fullKey } };
    },
    async part(t) {
      const capability = {
        kind: 'part' as const,
        owner: t.owner,
        key: t.key,
        uploadId: t.uploadId,
        partNumber: t.partNumber,
        md5: t.md5,
        size: t.size,
        maxBytes: t.size ?? t.maxBytes,
      };
      return {
        url: await url(capability, t.ttlSeconds),
        headers: { ...(t.md5 === undefined ? {} : { 'content-md5': t.md5 }), ...(t.size === undefined ? {} : { 'content-length': String(t.size) }) },
      };
    },
  };
}
