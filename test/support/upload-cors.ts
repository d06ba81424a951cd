// Sets the bucket CORS rule the README gives for browser uploads
// (UPLOAD_DATA_PATH=direct) on a test or demo bucket, through the AWS SDK
// (the minio client has no PutBucketCors).
import { PutBucketCorsCommand, type CORSRule } from '@aws-sdk/client-s3';
import { uploadCorsRule } from '../../src/s3/bucket-cors.ts';
import type { S3Stack } from './s3-fixtures.ts';
import { sdkClient } from './s3-sdk.ts';

/** One rule per origin (a proxy may be opened as localhost and as 127.0.0.1). */
export async function allowBrowserUploads(stack: S3Stack, bucket: string, origins: string[]): Promise<void> {
  const client = sdkClient(stack);
  try {
    const rules: CORSRule[] = origins.map((origin) => uploadCorsRule(origin));
    await client.send(new PutBucketCorsCommand({ Bucket: bucket, CORSConfiguration: { CORSRules: rules } }));
  } finally {
    client.destroy();
  }
}
