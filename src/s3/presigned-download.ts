// A presigned GET of one object, for clients sent to S3 to fetch the bytes
// themselves. Made by the SDK's presigner; the response-* parameters make S3
// answer with the headers the proxy would have set (they are signed, so the
// holder of the URL cannot change them).
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

export interface PresignedDownload {
  bucket: string;
  /** the key in the bucket, the operator's prefix included */
  fullKey: string;
  ttlSeconds: number;
  contentType: string;
  contentDisposition?: string | undefined;
  cacheControl?: string | undefined;
}

export function presignDownload(s3: S3Client, input: PresignedDownload): Promise<string> {
  const command = new GetObjectCommand({
    Bucket: input.bucket,
    Key: input.fullKey,
    ResponseContentType: input.contentType,
    ...(input.contentDisposition === undefined ? {} : { ResponseContentDisposition: input.contentDisposition }),
    ...(input.cacheControl === undefined ? {} : { ResponseCacheControl: input.cacheControl }),
  });
  return getSignedUrl(s3, command, { expiresIn: input.ttlSeconds });
}
