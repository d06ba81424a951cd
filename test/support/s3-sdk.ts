// The AWS SDK against the test S3 server, for what the minio client lacks
// (bucket CORS) and for asking S3 about multipart uploads; and removing a
// bucket a test filled with large uploads, so that they do not pile up in
// the test stack's memory-backed store.
import {
  AbortMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import type { S3Stack } from './s3-fixtures.ts';

export function sdkClient(stack: S3Stack): S3Client {
  return new S3Client({
    region: stack.region,
    endpoint: stack.endpoint.origin,
    forcePathStyle: true,
    credentials: { accessKeyId: stack.accessKey, secretAccessKey: stack.secretKey },
    // RGW refuses the SDK's newer default checksums (see .cache/stack/s3.env)
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Aborts the bucket's open multipart uploads, deletes its objects, then the bucket. */
export async function removeBucket(client: S3Client, bucket: string): Promise<void> {
  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  for (const upload of uploads.Uploads ?? []) {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key!, UploadId: upload.UploadId! }));
  }
  for (;;) {
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    const objects = (listed.Contents ?? []).map((item) => ({ Key: item.Key! }));
    if (objects.length === 0) break;
    await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects } }));
  }
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
}
