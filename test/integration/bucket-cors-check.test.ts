// At start-up, with uploads on and the browser sending bytes to S3, the proxy
// reads the real bucket's CORS (GetBucketCors) and logs one warning when a
// page on its origin could not upload.
import test from 'ava';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv, oauth2Sso } from '../support/proxy-env.ts';
import { createBucket, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { allowBrowserUploads } from '../support/upload-cors.ts';

const stack = s3Stack();
const publicUrl = 'https://assets.example.org';
let sso: OAuth2Sso;
const proxies: ProxyProcess[] = [];

test.before(async () => {
  sso = await startOAuth2Sso();
});

test.after.always(async () => {
  await Promise.all(proxies.map((proxy) => proxy.stop()));
  await sso?.close();
});

async function proxyFor(bucket: string, extra: Record<string, string>): Promise<ProxyProcess> {
  const proxy = await startProxy(proxyEnv(stack, { bucket, sso: oauth2Sso(sso), extra: { UPLOAD_PREFIX: 'uploads/{user}/', ...extra } }));
  proxies.push(proxy);
  return proxy;
}

const aboutCors = (msg: string) => /CORS/.test(msg);

test('a bucket without CORS gets one warning at start-up naming the problem', async (t) => {
  const proxy = await proxyFor(await createBucket(stack, 'cors-none'), { PUBLIC_URL: publicUrl });
  const line = await proxy.waitForLog((l) => aboutCors(l.msg));
  t.is(line.level, 40);
  t.regex(line.msg, /^uploads from the browser will fail: the bucket has no CORS configuration; see "Uploads from the browser" in the README/);
  t.is(proxy.logs().filter((l) => aboutCors(l.msg)).length, 1);
});

test("a bucket whose CORS names another origin gets a warning naming PUBLIC_URL's", async (t) => {
  const bucket = await createBucket(stack, 'cors-other');
  await allowBrowserUploads(stack, bucket, ['https://elsewhere.example.org']);
  const proxy = await proxyFor(bucket, { PUBLIC_URL: publicUrl });
  const line = await proxy.waitForLog((l) => aboutCors(l.msg));
  t.is(line.level, 40);
  t.regex(line.msg, /no CORS rule allows PUT from https:\/\/assets\.example\.org/);
});

test("a bucket whose CORS allows PUBLIC_URL's origin gets no warning", async (t) => {
  const bucket = await createBucket(stack, 'cors-ok');
  await allowBrowserUploads(stack, bucket, [publicUrl]);
  const proxy = await proxyFor(bucket, { PUBLIC_URL: publicUrl });
  const line = await proxy.waitForLog((l) => aboutCors(l.msg));
  t.is(line.level, 30);
  t.is(line.msg, "the bucket's CORS allows uploads from the browser");
  t.false(proxy.logs().some((l) => l.level >= 40 && aboutCors(l.msg)));
});

test('without PUBLIC_URL the warning says the origin could not be checked', async (t) => {
  const bucket = await createBucket(stack, 'cors-nourl');
  await allowBrowserUploads(stack, bucket, [publicUrl]);
  const proxy = await proxyFor(bucket, {});
  const line = await proxy.waitForLog((l) => aboutCors(l.msg));
  t.is(line.level, 40);
  t.regex(line.msg, /^could not check that the bucket's CORS allows the proxy's origin, because PUBLIC_URL is not set/);
});
