// A proxy whose S3 credentials may get objects but not list the bucket: the
// set-up behind every 403-instead-of-404 test.
import { startProxy, type ProxyProcess } from './proxy-process.ts';
import { proxyEnv, type SsoForTest } from './proxy-env.ts';
import { createBucket, grantGetObjectOnly, putObject, type S3Stack } from './s3-fixtures.ts';

/** A new bucket holding `there.txt` ("here"), served by a proxy with the limited user's keys. */
export async function startGetOnlyProxy(stack: S3Stack, sso: SsoForTest, bucketPrefix: string): Promise<ProxyProcess> {
  if (!stack.limited) throw new Error('the test S3 server must provide a limited user (S3_TEST_LIMITED_ACCESS_KEY)');
  const bucket = await createBucket(stack, bucketPrefix);
  await putObject(stack, bucket, 'there.txt', 'here', 'text/plain');
  await grantGetObjectOnly(stack, bucket);
  return startProxy(proxyEnv(stack, { bucket, sso, credentials: stack.limited }));
}
