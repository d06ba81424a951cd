// Presigned requests a client sends to S3 itself: a PUT, a POST policy, an
// UploadPart. Made by the SDK's presigners only. What the operator's rules
// bind is signed, so that S3, not only the proxy, refuses anything else:
//
// - PUT: content-type, content-length, content-md5 when given (S3 then
//   checks the bytes) and if-none-match: * when nothing may be replaced.
//   The presigner leaves content-type unsigned unless told
//   (signableHeaders), and would hoist x-amz-meta-* into the query, where a
//   client could not see it has to send them (unhoistableHeaders).
// - POST: the exact key, Content-Type and content-length-range in the
//   policy, and its expiry.
// - UploadPart: the upload id and part number, content-md5 and
//   content-length when given.
//
// Each URL is checked for the headers it must have signed before it leaves,
// so a change in the SDK's defaults fails loudly instead of silently.
import { PutObjectCommand, UploadPartCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { UploadProblem } from './upload-problem.ts';

export interface PresignedPut {
  url: string;
  /** the headers the client must send, exactly */
  headers: Record<string, string>;
}

export interface PresignedPost {
  /** the bucket's URL, ending with '/' (Uppy appends the key to it for the location) */
  url: string;
  fields: Record<string, string>;
}

function assertSigned(url: string, headers: Iterable<string>): void {
  const signed = new Set((new URL(url).searchParams.get('X-Amz-SignedHeaders') ?? '').split(';'));
  for (const header of headers) {
    if (!signed.has(header)) throw new UploadProblem(500, 'internal', 'the upload URL could not be made', `presigner left ${header} unsigned`);
  }
}

const metaHeaders = (metadata: Record<string, string>) => Object.fromEntries(Object.entries(metadata).map(([k, v]) => [`x-amz-meta-${k}`, v]));

export async function presignPut(
  s3: S3Client,
  input: {
    bucket: string;
    fullKey: string;
    type: string;
    size: number;
    md5?: string | undefined;
    ifNoneMatch: boolean;
    metadata: Record<string, string>;
    ttlSeconds: number;
  },
): Promise<PresignedPut> {
  const command = new PutObjectCommand({
    Bucket: input.bucket,
    Key: input.fullKey,
    ContentType: input.type,
    ContentLength: input.size,
    ...(input.md5 === undefined ? {} : { ContentMD5: input.md5 }),
    ...(input.ifNoneMatch ? { IfNoneMatch: '*' } : {}),
    ...(Object.keys(input.metadata).length > 0 ? { Metadata: input.metadata } : {}),
  });
  const meta = metaHeaders(input.metadata);
  const url = await getSignedUrl(s3, command, {
    expiresIn: input.ttlSeconds,
    signableHeaders: new Set(['content-type']),
    unhoistableHeaders: new Set(Object.keys(meta)),
  });
  const headers: Record<string, string> = {
    'content-type': input.type,
    'content-length': String(input.size),
    ...(input.md5 === undefined ? {} : { 'content-md5': input.md5 }),
    ...(input.ifNoneMatch ? { 'if-none-match': '*' } : {}),
    ...meta,
  };
  assertSigned(url, Object.keys(headers));
  return { url, headers };
}

export async function presignPost(
  s3: S3Client,
  input: {
    bucket: string;
    fullKey: string;
    type: string;
    minBytes: number;
    maxBytes: number;
    metadata: Record<string, string>;
    ttlSeconds: number;
  },
): Promise<PresignedPost> {
  // S3 puts the uploaded file's own name in place of ${filename} in any
  // field, the key included, and the SDK turns such a key into a
  // starts-with condition: either way the client would choose the name.
  if (input.fullKey.includes('${filename}')) throw new UploadProblem(400, 'bad_request', 'filename: must not contain ${filename}');
  const fields: Record<string, string> = {
    'Content-Type': input.type,
    // Companion's choice: S3 answers 201 with an XML document naming the key
    success_action_status: '201',
    ...metaHeaders(input.metadata),
  };
  // the SDK adds every field (Content-Type too) and the key as exact conditions
  const post = await createPresignedPost(s3, {
    Bucket: input.bucket,
    Key: input.fullKey,
    Conditions: [['content-length-range', input.minBytes, input.maxBytes]],
    Fields: fields,
    Expires: input.ttlSeconds,
  });
  return { url: post.url.endsWith('/') ? post.url : `${post.url}/`, fields: post.fields };
}

export async function presignPart(
  s3: S3Client,
  input: { bucket: string; fullKey: string; uploadId: string; partNumber: number; md5?: string | undefined; size?: number | undefined; ttlSeconds: number },
): Promise<string> {
  const command = new UploadPartCommand({
    Bucket: input.bucket,
    Key: input.fullKey,
    UploadId: input.uploadId,
    PartNumber: input.partNumber,
    ...(input.md5 === undefined ? {} : { ContentMD5: input.md5 }),
    ...(input.size === undefined ? {} : { ContentLength: input.size }),
  });
  const url = await getSignedUrl(s3, command, { expiresIn: input.ttlSeconds });
  assertSigned(url, [...(input.md5 === undefined ? [] : ['content-md5']), ...(input.size === undefined ? [] : ['content-length'])]);
  return url;
}
