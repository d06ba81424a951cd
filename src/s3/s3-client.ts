// The one AWS SDK client of the process, for what the SDK already does well
// (ListObjectsV2 and its XML); object bodies keep going through S3Origin.
import { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config/config.ts';

export function createS3Client(s3: Config['s3']): S3Client {
  const { location } = s3;
  // Virtual-host locations only come from AWS hostnames, where the SDK's own
  // endpoint for the region names the bucket the same way.
  const endpoint = location.style === 'path' ? { endpoint: location.origin, forcePathStyle: true } : {};
  return new S3Client({
    region: s3.region,
    // undefined: the SDK's default provider chain, as the signer uses
    credentials: s3.credentials,
    ...endpoint,
    // S3-compatible servers (Ceph RGW, older MinIO) reject the newer default checksums.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // One attempt, bounded like an object request: a person is waiting, and a
    // retry after a timeout would triple the wait before the 504.
    maxAttempts: 1,
    requestHandler: {
      requestTimeout: s3.upstreamTimeoutMs,
      connectionTimeout: s3.upstreamTimeoutMs,
      throwOnRequestTimeout: true,
    },
  });
}
