// The bucket the benchmark reads, its objects, presigned URLs for asking S3
// directly, and a signed-in session for asking through the proxy.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { createBucket, patternBytes, type S3Stack } from '../../test/support/s3-fixtures.ts';
import { proxyEnv, oauth2Sso } from '../../test/support/proxy-env.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../../test/support/oauth2-sso-server.ts';
import { UserAgent } from '../../test/support/user-agent.ts';
import { startBenchProxy, type BenchProxy } from './proxy.ts';
import { collectRgwGarbage } from './rgw.ts';

export const MiB = 1024 * 1024;

export const objects = {
  small: { key: 'small-1k.bin', size: 1024 },
  medium: { key: 'medium-1m.bin', size: MiB },
  large: { key: 'large-100m.bin', size: 100 * MiB },
  huge: { key: 'huge-1g.bin', size: 1024 * MiB },
} as const;
export type ObjectName = keyof typeof objects;

const partSize = 64 * MiB;

function s3ClientFor(stack: S3Stack): S3Client {
  return new S3Client({
    endpoint: stack.endpoint.origin,
    region: stack.region,
    forcePathStyle: true,
    credentials: { accessKeyId: stack.accessKey, secretAccessKey: stack.secretKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // A full RGW memstore blocks writes instead of refusing them.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 120_000 },
  });
}

/**
 * Large objects go up in 64 MB parts cut from one pattern buffer, so the
 * 1 GB object never sits in memory here (it does in RGW's memstore).
 */
async function upload(s3: S3Client, bucket: string, key: string, size: number, pattern: Buffer): Promise<void> {
  if (size <= partSize) {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: pattern.subarray(0, size) }));
    return;
  }
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  try {
    const parts: Array<{ PartNumber: number; ETag: string }> = [];
    for (let offset = 0, number = 1; offset < size; offset += partSize, number += 1) {
      const body = pattern.subarray(0, Math.min(partSize, size - offset));
      const { ETag } = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: number, Body: body }));
      parts.push({ PartNumber: number, ETag: ETag! });
    }
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
  } catch (error) {
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId })).catch(() => undefined);
    throw error;
  }
}

export interface Bucket {
  name: string;
  /** a presigned GET for each object, valid for the whole run */
  direct: Record<ObjectName, string>;
  remove(): Promise<void>;
}

export async function prepareBucket(stack: S3Stack, names: ObjectName[], say: (line: string) => void): Promise<Bucket> {
  await collectRgwGarbage(say);
  const name = await createBucket(stack, 'bench');
  const s3 = s3ClientFor(stack);
  const uploaded: string[] = [];
  const remove = async () => {
    for (const key of uploaded) await s3.send(new DeleteObjectCommand({ Bucket: name, Key: key })).catch(() => undefined);
    await s3.send(new DeleteBucketCommand({ Bucket: name })).catch(() => undefined);
    s3.destroy();
    await collectRgwGarbage(say);
  };
  try {
    const pattern = patternBytes(partSize, 23);
    for (const object of names.map((n) => objects[n])) {
      const started = performance.now();
      uploaded.push(object.key);
      await upload(s3, name, object.key, object.size, pattern);
      if (object.size >= 100 * MiB) say(`uploaded ${object.key} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
    const direct = {} as Record<ObjectName, string>;
    for (const n of Object.keys(objects) as ObjectName[]) {
      direct[n] = await getSignedUrl(s3, new GetObjectCommand({ Bucket: name, Key: objects[n].key }), { expiresIn: 12 * 3600 });
    }
    return { name, direct, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}

export interface Session {
  sso: OAuth2Sso;
  env: Record<string, string>;
  /** `name=value` for the Cookie header; valid for every proxy started with `env` */
  cookie: string;
}

/**
 * One sign-in, through a proxy started for it: the session lives in Redis
 * under the env's key prefix, so every later proxy with the same env accepts
 * the cookie. The SSO server stays up for the proxy's periodic token checks.
 */
export async function signIn(stack: S3Stack, bucket: string, extra: Record<string, string>): Promise<Session> {
  const sso = await startOAuth2Sso();
  const env = proxyEnv(stack, {
    bucket,
    sso: oauth2Sso(sso),
    extra,
  });
  let proxy: BenchProxy | undefined;
  try {
    proxy = await startBenchProxy(env);
    const user = new UserAgent();
    const signedIn = await user.signInOAuth2(`${proxy.url}/${objects.small.key}`);
    if (signedIn.response.status !== 200) throw new Error(`sign-in ended with ${signedIn.response.status}`);
    await signedIn.response.arrayBuffer();
    const cookie = (await user.jar.getCookieString(proxy.url)) ?? '';
    if (!cookie) throw new Error('sign-in left no cookie');
    return { sso, env, cookie };
  } catch (error) {
    await sso.close();
    throw error;
  } finally {
    await proxy?.stop();
  }
}
