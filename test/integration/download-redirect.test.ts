// DOWNLOAD_REDIRECT_MIN_BYTES: large objects of types S3 may serve without the
// proxy's sandbox are answered, after the sign-in, with a 307 to a presigned
// GET that RGW serves byte for byte, with the headers the proxy would have set.
import test from 'ava';
import { createHash } from 'node:crypto';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv, oauth2Sso } from '../support/proxy-env.ts';
import { createBucket, patternBytes, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { signedInCookie } from '../support/user-agent.ts';
import { rawRequest } from '../support/raw-http.ts';
import { attachment } from '../../src/http/object-headers.ts';

const stack = s3Stack();
const MiB = 1024 * 1024;
const big = patternBytes(3 * MiB);
const small = patternBytes(64 * 1024, 3);

let bucket: string;
let sso: OAuth2Sso;
let proxy: ProxyProcess;
let cookie: string;

const sha256 = (data: Buffer | Uint8Array) => createHash('sha256').update(data).digest('hex');

test.before(async () => {
  bucket = await createBucket(stack, 'redirects');
  await putObject(stack, bucket, 'media/big.webm', big, 'video/webm', { 'Cache-Control': 'public, max-age=3600, s-maxage=600' });
  await putObject(stack, bucket, 'media/small.webm', small, 'video/webm');
  await putObject(stack, bucket, 'files/big.bin', big, 'application/octet-stream');
  await putObject(stack, bucket, 'files/rapport d’été.bin', big, 'application/octet-stream');
  await putObject(stack, bucket, 'files/big.html', big, 'text/html');
  await putObject(stack, bucket, 'files/big.svg', big, 'image/svg+xml');
  await putObject(stack, bucket, 'health.bin', big, 'application/octet-stream');
  sso = await startOAuth2Sso();
  proxy = await startProxy(
    proxyEnv(stack, {
      bucket,
      sso: oauth2Sso(sso),
      healthcheckKey: 'health.bin',
      extra: { DOWNLOAD_REDIRECT_MIN_BYTES: '1MiB', DOWNLOAD_REDIRECT_TTL: '30' },
    }),
  );
  cookie = await signedInCookie(`${proxy.url}/media/small.webm`, proxy.url);
});

test.after.always(async () => {
  await proxy?.stop();
  await sso?.close();
});

const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => rawRequest(proxy.url, path, { cookie, ...headers }, method);

test('a large object is a 307 to a presigned S3 GET, valid for DOWNLOAD_REDIRECT_TTL, whose body is byte-identical', async (t) => {
  const response = await get('/media/big.webm');
  t.is(response.status, 307);
  t.is(response.headers['cache-control'], 'no-store');
  const location = new URL(response.headers.location ?? '');
  t.is(location.origin, stack.endpoint.origin);
  t.is(location.pathname, `/${bucket}/media/big.webm`);
  t.is(location.searchParams.get('X-Amz-Expires'), '30');
  const atS3 = await fetch(location);
  t.is(atS3.status, 200);
  const body = Buffer.from(await atS3.arrayBuffer());
  t.is(body.length, big.length);
  t.is(sha256(body), sha256(big));
  t.is(atS3.headers.get('content-type'), 'video/webm');
  // made private as the proxy makes it; s-maxage addresses shared caches only
  t.is(atS3.headers.get('cache-control'), 'private, max-age=3600');
});

test('a smaller object is streamed by the proxy, sandboxed', async (t) => {
  const response = await get('/media/small.webm');
  t.is(response.status, 200);
  t.is(response.headers.location, undefined);
  t.is(sha256(response.body), sha256(small));
  t.is(response.headers['content-security-policy'], 'sandbox allow-same-origin');
});

test('a Range request is redirected, and S3 answers the range at the presigned URL', async (t) => {
  const range = 'bytes=2000000-2099999';
  const response = await get('/media/big.webm', { range });
  t.is(response.status, 307);
  // the way a browser follows it: the Range header goes along, the cookie does not
  const followed = await fetch(`${proxy.url}/media/big.webm`, { headers: { cookie, range }, redirect: 'follow' });
  t.is(followed.status, 206);
  t.true(followed.url.startsWith(`${stack.endpoint.origin}/${bucket}/`), followed.url);
  t.is(followed.headers.get('content-range'), `bytes 2000000-2099999/${big.length}`);
  t.is(sha256(Buffer.from(await followed.arrayBuffer())), sha256(big.subarray(2_000_000, 2_100_000)));
});

test('HEAD of a large object is answered by the proxy itself', async (t) => {
  const response = await get('/media/big.webm', {}, 'HEAD');
  t.is(response.status, 200);
  t.is(response.headers.location, undefined);
  t.is(response.headers['content-length'], String(big.length));
  t.is(response.headers['content-security-policy'], 'sandbox allow-same-origin');
});

test('a conditional GET that S3 answers 304 is answered by the proxy, not redirected', async (t) => {
  const etag = (await get('/media/big.webm', {}, 'HEAD')).headers.etag ?? '';
  const response = await get('/media/big.webm', { 'if-none-match': etag });
  t.is(response.status, 304);
  t.is(response.headers.location, undefined);
});

test('the healthcheck key is never redirected, however large', async (t) => {
  const response = await rawRequest(proxy.url, '/health.bin');
  t.is(response.status, 200);
  t.is(response.headers.location, undefined);
  t.is(sha256(response.body), sha256(big));
});

test('without a session a large object is refused, not redirected', async (t) => {
  const response = await rawRequest(proxy.url, '/media/big.webm', { accept: 'application/json' });
  t.is(response.status, 401);
  t.is(response.headers.location, undefined);
});

test('?download keeps Content-Disposition: attachment through the redirect', async (t) => {
  const response = await get('/media/big.webm?download');
  t.is(response.status, 307);
  const atS3 = await fetch(response.headers.location ?? '');
  t.is(atS3.status, 200);
  t.is(atS3.headers.get('content-disposition'), 'attachment; filename=big.webm');
  t.is(sha256(Buffer.from(await atS3.arrayBuffer())), sha256(big));
});

test('a large binary is redirected as an attachment, so that no browser renders it on S3', async (t) => {
  const response = await get('/files/big.bin');
  t.is(response.status, 307);
  const atS3 = await fetch(response.headers.location ?? '');
  t.is(atS3.headers.get('content-disposition'), 'attachment; filename=big.bin');
  t.is(atS3.headers.get('content-type'), 'application/octet-stream');
  await atS3.body?.cancel();
});

test('a name that is not plain ASCII keeps its filename* through the redirect, as the proxy writes it', async (t) => {
  const response = await get(`/files/${encodeURIComponent('rapport d’été.bin')}`);
  t.is(response.status, 307);
  const atS3 = await fetch(response.headers.location ?? '');
  t.is(atS3.status, 200);
  t.is(atS3.headers.get('content-disposition'), attachment('files/rapport d’été.bin'));
  t.regex(atS3.headers.get('content-disposition') ?? '', /filename\*=UTF-8''rapport%20d%E2%80%99%C3%A9t%C3%A9\.bin$/);
  await atS3.body?.cancel();
});

test('large HTML and SVG are streamed by the proxy with its sandbox, never redirected', async (t) => {
  for (const path of ['/files/big.html', '/files/big.svg']) {
    const response = await get(path);
    t.is(response.status, 200, path);
    t.is(response.headers.location, undefined, path);
    t.is(response.headers['content-security-policy'], 'sandbox allow-same-origin', path);
    t.is(response.body.length, big.length, path);
  }
});

test('a presigned URL stops working once DOWNLOAD_REDIRECT_TTL has passed', async (t) => {
  const shortLived = await startProxy(
    proxyEnv(stack, { bucket, sso: oauth2Sso(sso), extra: { DOWNLOAD_REDIRECT_MIN_BYTES: '1MiB', DOWNLOAD_REDIRECT_TTL: '1' } }),
  );
  try {
    const shortCookie = await signedInCookie(`${shortLived.url}/media/small.webm`, shortLived.url);
    const response = await rawRequest(shortLived.url, '/media/big.webm', { cookie: shortCookie });
    t.is(response.status, 307);
    const location = response.headers.location ?? '';
    const fresh = await fetch(location, { headers: { range: 'bytes=0-9' } });
    t.is(fresh.status, 206);
    await fresh.body?.cancel();
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const expired = await fetch(location, { headers: { range: 'bytes=0-9' } });
    t.is(expired.status, 403);
    await expired.body?.cancel();
  } finally {
    await shortLived.stop();
  }
});
