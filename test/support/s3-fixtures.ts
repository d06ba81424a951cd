// The real S3 server the tests run against (started by test.sh), seeded with
// the minio client. Every test file works in buckets of its own.
import { randomBytes } from 'node:crypto';
import * as Minio from 'minio';

export interface S3Stack {
  endpoint: URL;
  region: string;
  accessKey: string;
  secretKey: string;
  limited?: { accessKey: string; secretKey: string; principal: string };
  redisUrl: string;
}

export function s3Stack(): S3Stack {
  const need = (name: string): string => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set: run the tests with ./test.sh, which starts S3 and Redis`);
    return value;
  };
  const limitedKey = process.env.S3_TEST_LIMITED_ACCESS_KEY;
  return {
    endpoint: new URL(need('S3_TEST_ENDPOINT')),
    region: need('S3_TEST_REGION'),
    accessKey: need('S3_TEST_ACCESS_KEY'),
    secretKey: need('S3_TEST_SECRET_KEY'),
    ...(limitedKey
      ? {
          limited: {
            accessKey: limitedKey,
            secretKey: need('S3_TEST_LIMITED_SECRET_KEY'),
            principal: need('S3_TEST_LIMITED_PRINCIPAL'),
          },
        }
      : {}),
    redisUrl: need('REDIS_TEST_URL'),
  };
}

export function s3Client(stack: S3Stack, keys: { accessKey: string; secretKey: string } = stack): Minio.Client {
  return new Minio.Client({
    endPoint: stack.endpoint.hostname,
    port: Number(stack.endpoint.port),
    useSSL: stack.endpoint.protocol === 'https:',
    accessKey: keys.accessKey,
    secretKey: keys.secretKey,
    region: stack.region,
    pathStyle: true,
  });
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export async function createBucket(stack: S3Stack, prefix: string): Promise<string> {
  const bucket = uniqueName(prefix);
  await s3Client(stack).makeBucket(bucket, stack.region);
  return bucket;
}

export async function putObject(
  stack: S3Stack,
  bucket: string,
  key: string,
  body: Buffer | string,
  contentType = 'application/octet-stream',
  metadata: Record<string, string> = {},
): Promise<void> {
  const data = typeof body === 'string' ? Buffer.from(body) : body;
  await s3Client(stack).putObject(bucket, key, data, data.length, { 'Content-Type': contentType, ...metadata });
}

/** The limited user may read objects of this bucket, and nothing else (no ListBucket). */
export async function grantGetObjectOnly(stack: S3Stack, bucket: string): Promise<void> {
  if (!stack.limited) throw new Error('this S3 server has no limited user');
  const policy = {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: [stack.limited.principal] },
        Action: ['s3:GetObject'],
        Resource: [`arn:aws:s3:::${bucket}/*`],
      },
    ],
  };
  await s3Client(stack).setBucketPolicy(bucket, JSON.stringify(policy));
}

/** Deterministic bytes, so a download can be compared without keeping a copy. */
export function patternBytes(size: number, seed = 7): Buffer {
  const buffer = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i += 1) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buffer[i] = x & 0xff;
  }
  return buffer;
}
