// Downloads through the proxy from the real S3 server: bytes, ranges, HEAD,
// key encoding, the prefix boundary, the healthcheck, and S3's errors.
import test from 'ava';
import { createHash } from 'node:crypto';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv, oauth2Sso } from '../support/proxy-env.ts';
import { createBucket, patternBytes, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { startGetOnlyProxy } from '../support/get-only-proxy.ts';
import { UserAgent } from '../support/user-agent.ts';
import { rawRequest } from '../support/raw-http.ts';

const stack = s3Stack();
const bigSize = 50 * 1024 * 1024;
const big = patternBytes(bigSize);
const small = Buffer.from('0123456789abcdefghij');
const trickyKeys = ['with space.txt', '日本語/ファイル.txt', "a+b=c&d(e)'f!g*h~i.txt", '100%.txt', 'double//slash.txt'];

let bucket: string;
let sso: OAuth2Sso;
let proxy: ProxyProcess;
let user: UserAgent;

const sha256 = (data: Buffer | Uint8Array) => createHash('sha256').update(data).digest('hex');
const encodePath = (key: string) => '/' + key.split('/').map(encodeURIComponent).join('/');

test.before(async () => {
  bucket = await createBucket(stack, 'downloads');
  await putObject(stack, bucket, 'public/big.bin', big);
  await putObject(stack, bucket, 'public/small.txt', small, 'text/plain');
  await putObject(stack, bucket, 'public/health.txt', 'ok', 'text/plain');
  await putObject(stack, bucket, 'public/page.html', '<script>alert(1)</script>', 'text/html');
  await putObject(stack, bucket, 'secret.txt', 'outside the prefix', 'text/plain');
  await putObject(stack, bucket, '../secret.txt', 'dot-dot key outside the prefix', 'text/plain');
  for (const key of trickyKeys) await putObject(stack, bucket, `public/${key}`, `content of ${key}`, 'text/plain');
  await putObject(stack, bucket, 'public/x/./y.txt', 'a key with a dot segment', 'text/plain');
  sso = await startOAuth2Sso();
  proxy = await startProxy(
    proxyEnv(stack, {
      bucket,
      keyPrefix: 'public/',
      sso: oauth2Sso(sso),
      healthcheckKey: 'health.txt',
    }),
  );
  user = new UserAgent();
  const signedIn = await user.signInOAuth2(`${proxy.url}/small.txt`);
  if (signedIn.response.status !== 200) throw new Error(`sign-in failed: ${signedIn.response.status}`);
});

test.after.always(async () => {

  await proxy?.stop();
  await sso?.close();
});

test('a signed-in user downloads a 50 MB object byte for byte', async (t) => {
  const response = await user.request(`${proxy.url}/big.bin`);
  t.is(response.status, 200);
  t.is(response.headers.get('content-length'), String(bigSize));
  t.is(response.headers.get('accept-ranges'), 'bytes');
  t.is(response.headers.get('content-range'), null);
  t.is(sha256(new Uint8Array(await response.arrayBuffer())), sha256(big));
});

test('ranges are passed through: open-ended, offset, suffix', async (t) => {
  const cases: Array<[string, number, number]> = [
    ['bytes=0-', 0, bigSize - 1],
    ['bytes=1-', 1, bigSize - 1],
    ['bytes=-100', bigSize - 100, bigSize - 1],
    ['bytes=1000-1999', 1000, 1999],
  ];
  for (const [range, first, last] of cases) {
    const response = await user.request(`${proxy.url}/big.bin`, { headers: { range } });
    t.is(response.status, 206, range);
    t.is(response.headers.get('content-range'), `bytes ${first}-${last}/${bigSize}`, range);
    t.is(response.headers.get('content-length'), String(last - first + 1), range);
    const body = Buffer.from(await response.arrayBuffer());
    t.true(body.equals(big.subarray(first, last + 1)), range);
  }
});

test('an unsatisfiable range is 416 with the size in Content-Range', async (t) => {
  const response = await user.request(`${proxy.url}/small.txt`, { headers: { range: 'bytes=1000-2000' } });
  t.is(response.status, 416);
  t.is(response.headers.get('content-range'), `bytes */${small.length}`);
  t.false((await response.text()).includes('<Error>'));
});

test('HEAD answers with the headers and no body', async (t) => {
  const response = await user.request(`${proxy.url}/big.bin`, { method: 'HEAD' });
  t.is(response.status, 200);
  t.is(response.headers.get('content-length'), String(bigSize));
  t.truthy(response.headers.get('etag'));
  t.is((await response.arrayBuffer()).byteLength, 0);
});

test('conditional requests: a matching ETag is 304, a failed If-Match is 412', async (t) => {
  const first = await user.request(`${proxy.url}/small.txt`);
  const etag = first.headers.get('etag')!;
  await first.arrayBuffer();
  const notModified = await user.request(`${proxy.url}/small.txt`, { headers: { 'if-none-match': etag } });
  t.is(notModified.status, 304);
  t.is(notModified.headers.get('etag'), etag);
  const failed = await user.request(`${proxy.url}/small.txt`, { headers: { 'if-match': '"not-the-etag"' } });
  t.is(failed.status, 412);
  t.false((await failed.text()).includes('<Error>'));
});

test('If-Range with the current ETag keeps the range, with a stale one sends the whole object', async (t) => {
  const head = await user.request(`${proxy.url}/small.txt`, { method: 'HEAD' });
  const etag = head.headers.get('etag')!;
  const fresh = await user.request(`${proxy.url}/small.txt`, { headers: { range: 'bytes=2-4', 'if-range': etag } });
  t.is(fresh.status, 206);
  t.is(await fresh.text(), '234');
  const stale = await user.request(`${proxy.url}/small.txt`, { headers: { range: 'bytes=2-4', 'if-range': '"stale"' } });
  t.is(stale.status, 200);
  t.is(stale.headers.get('content-range'), null);
  t.is(await stale.text(), small.toString());
});

test('?download saves the object under its own name, RFC 6266 for non-ASCII names', async (t) => {
  const plain = await user.request(`${proxy.url}/small.txt?download`);
  t.is(plain.headers.get('content-disposition'), 'attachment; filename=small.txt');
  await plain.arrayBuffer();
  const unicode = await user.request(`${proxy.url}${encodePath('日本語/ファイル.txt')}?download=1`);
  const disposition = unicode.headers.get('content-disposition') ?? '';
  t.true(disposition.startsWith('attachment;'), disposition);
  t.true(disposition.includes(`filename*=UTF-8''%E3%83%95%E3%82%A1%E3%82%A4%E3%83%AB.txt`), disposition);
  await unicode.arrayBuffer();
});

test('keys with spaces, unicode, punctuation, percent signs and double slashes round-trip', async (t) => {
  for (const key of trickyKeys) {
    const response = await user.request(proxy.url + encodePath(key));
    t.is(response.status, 200, key);
    t.is(await response.text(), `content of ${key}`, key);
  }
});

test('a literal plus in the path is a plus in the key', async (t) => {
  const response = await user.request(`${proxy.url}/a+b=c&d(e)'f!g*h~i.txt`);
  t.is(response.status, 200);
});

test('malformed percent-encoding is 400', async (t) => {
  for (const path of ['/%zz', '/a%', '/%C0%AF']) {
    const response = await user.request(proxy.url + path);
    t.is(response.status, 400, path);
    await response.arrayBuffer();
  }
});

test('dot segments never read outside the prefix: S3 is asked for the literal key under it', async (t) => {
  const cookie = (await user.jar.getCookieString(proxy.url)) ?? '';
  const cases: Array<[string, string]> = [
    ['/../secret.txt', 'public/../secret.txt'],
    ['/%2e%2e/secret.txt', 'public/../secret.txt'],
    ['/a/%2E%2E/%2E%2E/secret.txt', 'public/a/../../secret.txt'],
  ];
  for (const [path, expectedKey] of cases) {
    const requestId = `escape-${Buffer.from(path).toString('hex')}`;
    const response = await rawRequest(proxy.url, path, { cookie, 'x-request-id': requestId });
    t.false(response.body.toString().includes('outside the prefix'), path);
    t.is(response.status, 404, path);
    const line = await proxy.waitForLog((l) => l.msg === 'request' && l.requestId === requestId);
    t.is(line.key, expectedKey, path);
  }
});

test('a key with a dot segment is served as the literal key', async (t) => {
  const cookie = (await user.jar.getCookieString(proxy.url)) ?? '';
  const response = await rawRequest(proxy.url, '/x/./y.txt', { cookie });
  t.is(response.status, 200);
  t.is(response.body.toString(), 'a key with a dot segment');
});

test('a missing key is 404 when the credentials may list the bucket', async (t) => {
  const response = await user.request(`${proxy.url}/no-such-key.txt`);
  t.is(response.status, 404);
  const body = await response.text();
  t.false(body.includes('NoSuchKey'));
  t.regex(body, /Request id: \S+/);
  t.is(response.headers.get('x-amz-request-id'), null);
});

test('objects a browser would run are sandboxed and never sniffed', async (t) => {
  const response = await user.request(`${proxy.url}/page.html`);
  t.is(response.status, 200);
  const csp = response.headers.get('content-security-policy') ?? '';
  t.true(csp.startsWith('sandbox'), csp);
  t.false(csp.includes('allow-scripts'), csp);
  t.is(response.headers.get('x-content-type-options'), 'nosniff');
});

test('no S3 header leaks into a response', async (t) => {
  const response = await user.request(`${proxy.url}/small.txt`);
  await response.arrayBuffer();
  for (const name of response.headers.keys()) t.false(name.startsWith('x-amz-'), name);
});

test('the healthcheck key is served without a session', async (t) => {
  const response = await fetch(`${proxy.url}/health.txt`);
  t.is(response.status, 200);
  t.is(await response.text(), 'ok');
});

test('no other key is served without a session', async (t) => {
  const navigation = await new UserAgent().request(`${proxy.url}/small.txt`);
  t.is(navigation.status, 302);
  t.true(navigation.headers.get('location')!.startsWith(sso.url));
  const script = await fetch(`${proxy.url}/small.txt`, { headers: { accept: '*/*' } });
  t.is(script.status, 401);
  t.false((await script.text()).includes('0123456789'));
  const near = await fetch(`${proxy.url}/health.txt/`, { headers: { accept: '*/*' } });
  t.is(near.status, 401);
});

test('paths the proxy keeps for itself are not proxied', async (t) => {
  const response = await user.request(`${proxy.url}/__s3proxy/anything`);
  t.is(response.status, 404);
  await response.arrayBuffer();
});

test('a missing key is 403 when the credentials may only get objects', async (t) => {
  const limited = await startGetOnlyProxy(stack, oauth2Sso(sso), 'limited');
  try {
    const ua = new UserAgent();
    const present = await ua.signInOAuth2(`${limited.url}/there.txt`);
    t.is(present.response.status, 200);
    t.is(await present.response.text(), 'here');
    const missing = await ua.request(`${limited.url}/not-there.txt`);
    t.is(missing.status, 403);
    t.false((await missing.text()).includes('AccessDenied'));
  } finally {
    await limited.stop();
  }
});

test("wrong S3 credentials are a 500 and an error log naming S3's code, never S3's body", async (t) => {
  const wrong = await startProxy(
    proxyEnv(stack, {
      bucket,
      sso: oauth2Sso(sso),
      credentials: { accessKey: stack.accessKey, secretKey: 'not-the-secret-key-at-all' },
    }),
  );
  try {
    const ua = new UserAgent();
    const result = await ua.signInOAuth2(`${wrong.url}/public/small.txt`);
    t.is(result.response.status, 500);
    const body = await result.response.text();
    t.false(body.includes('SignatureDoesNotMatch'));
    const line = await wrong.waitForLog((l) => l.s3Code !== undefined);
    t.is(line.s3Code, 'SignatureDoesNotMatch');
    t.false(wrong.stdout().includes('not-the-secret-key-at-all'));
  } finally {
    await wrong.stop();
  }
});
