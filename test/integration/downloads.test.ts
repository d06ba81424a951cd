// Downloads through the proxy from the real S3 server: bytes, ranges, HEAD,
// key encoding, the prefix boundary, the healthcheck, and S3's errors.
import test from 'ava';
import { createHash } from 'node:crypto';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv, oauth2Sso } from '../support/proxy-env.ts';
import { createBucket, patternBytes, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { startGetOnlyProxy } from '../support/get-only-proxy.ts';
import { UserAgent, signedInCookie } from '../support/user-agent.ts';
import { rawRequest } from '../support/raw-http.ts';
import { startS3Recorder, type S3Ask, type S3Recorder } from '../support/s3-recorder.ts';

const stack = s3Stack();
const bigSize = 50 * 1024 * 1024;
const big = patternBytes(bigSize);
const small = Buffer.from('0123456789abcdefghij');
const trickyKeys = ['with space.txt', '日本語/ファイル.txt', "a+b=c&d(e)'f!g*h~i.txt", '100%.txt', 'double//slash.txt'];

let bucket: string;
let sso: OAuth2Sso;
let proxy: ProxyProcess;
let user: UserAgent;
// A second proxy, same bucket and prefix, whose S3 is a recording relay: what
// S3 was asked for is read there, at S3's side of the wire.
let recorder: S3Recorder;
let recorded: ProxyProcess;
let recordedCookie: string;
const reservedContent = 'AN OBJECT UNDER A RESERVED PATH';

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
  await putObject(stack, bucket, 'public/x/y.txt', 'the key with its dot segment resolved', 'text/plain');
  // Objects whose keys are the proxy's own paths: only the proxy's guard keeps them from being served.
  for (const key of ['__s3proxy/x', '__s3proxy/anything', '__s3proxy/me', '__redirect_from_sso']) {
    await putObject(stack, bucket, `public/${key}`, reservedContent, 'text/plain');
  }
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

  recorder = await startS3Recorder({ host: stack.endpoint.hostname, port: Number(stack.endpoint.port) });
  const recordedEnv = proxyEnv(stack, { bucket, keyPrefix: 'public/', sso: oauth2Sso(sso) });
  recordedEnv.AWS_S3_ENDPOINT = `${recorder.url}/${bucket}/public/`;
  recorded = await startProxy(recordedEnv);
  recordedCookie = await signedInCookie(`${recorded.url}/small.txt`, recorded.url);
});

test.after.always(async () => {
  await proxy?.stop();
  await recorded?.stop();
  await recorder?.close();
  await sso?.close();
});

/** One request through the recording proxy, with what S3 was asked for meanwhile (tests using it are serial). */
async function throughRecorder(path: string): Promise<{ status: number; body: string; asked: S3Ask[] }> {
  recorder.clear();
  const response = await rawRequest(recorded.url, path, { cookie: recordedCookie, accept: 'application/json' });
  return { status: response.status, body: response.body.toString(), asked: recorder.asked(bucket) };
}

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

test.serial('dot segments never read outside the prefix: S3 is asked only for the literal key under it, or for nothing', async (t) => {
  const cases: Array<[string, string]> = [
    ['/../secret.txt', 'public/../secret.txt'],
    ['/%2e%2e/secret.txt', 'public/../secret.txt'],
    ['/a/%2E%2E/%2E%2E/secret.txt', 'public/a/../../secret.txt'],
  ];
  for (const [path, literalKey] of cases) {
    const { status, body, asked } = await throughRecorder(path);
    t.false(body.includes('outside the prefix'), path);
    // Refusing the path (400) and asking S3 for the literal key (404: no such
    // object) both keep the read inside; a resolved key is neither.
    if (status === 400) {
      t.deepEqual(asked, [], `${path}: refused, yet S3 was asked`);
    } else {
      t.is(status, 404, path);
      t.deepEqual(asked, [{ kind: 'object', method: 'GET', key: literalKey }], path);
    }
  }
});

test.serial('a path with a dot segment names the literal key or is refused, never the resolved key', async (t) => {
  const { status, body, asked } = await throughRecorder('/x/./y.txt');
  t.not(body, 'the key with its dot segment resolved');
  if (status === 400) {
    t.deepEqual(asked, []);
  } else {
    t.is(status, 200);
    t.is(body, 'a key with a dot segment');
    t.deepEqual(asked, [{ kind: 'object', method: 'GET', key: 'public/x/./y.txt' }]);
  }
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

test.serial('paths the proxy keeps for itself are not proxied, though objects with those keys exist', async (t) => {
  // no route of the proxy's own answers these: the reserved-path guard must
  for (const path of ['/__s3proxy/x', '/__s3proxy/anything', '/%5F%5Fs3proxy/x', '/__s3proxy%2Fx', '/%5f%5fredirect_from_sso']) {
    const { status, body, asked } = await throughRecorder(path);
    t.is(status, 404, path);
    t.false(body.includes(reservedContent), `${path} served the object`);
    t.deepEqual(asked, [], `${path}: S3 was asked`);
  }
  // own routes answer as themselves, never with the object of that key
  for (const path of ['/__s3proxy/me', '/__redirect_from_sso']) {
    const { body, asked } = await throughRecorder(path);
    t.false(body.includes(reservedContent), `${path} served the object`);
    t.deepEqual(asked.filter((a) => a.kind === 'object'), [], `${path}: S3 was asked for an object`);
  }
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
