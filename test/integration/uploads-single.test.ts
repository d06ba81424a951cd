// Uploads in one request: presigned PUTs (POST /__s3proxy/uploads) and
// POST policies (Companion's GET /__s3proxy/s3/params), sent to the real S3
// server, and downloaded back through the proxy. Where S3 is the one that
// must refuse (a byte too many, another type, other bytes than the MD5, a
// replaced object, an expired URL, an unsigned header), the request goes to
// S3 and the bucket is looked at afterwards.
import test from 'ava';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT } from 'jose';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv, oauth2Sso } from '../support/proxy-env.ts';
import { patternBytes, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { UserAgent } from '../support/user-agent.ts';
import {
  ada,
  bob,
  callJson,
  download,
  existsAtS3,
  objectAtS3,
  postForm,
  s3Admin,
  sameOriginHeaders,
  signIn,
  startUploadProxy,
  type CallInit,
  type UploadProxy,
} from '../support/uploads.ts';

const stack = s3Stack();
const s3 = s3Admin(stack);
const maxBytes = 1_000_000;
const adaFolder = 'uploads/ada@example.org/';

let sso: OAuth2Sso;
let up: UploadProxy;
let proxy: ProxyProcess;
let adaAgent: UserAgent;
let bobAgent: UserAgent;

const md5 = (data: Buffer) => createHash('md5').update(data).digest('base64');
const atS3 = (key: string) => objectAtS3(s3, up.bucket, up.keyPrefix + key);

test.before(async () => {
  sso = await startOAuth2Sso();
  up = await startUploadProxy(stack, sso, 'uploads-single', {
    UPLOAD_MAX_BYTES: String(maxBytes),
    UPLOAD_ALLOWED_TYPES: 'text/plain,image/*,application/octet-stream,application/pdf',
  });
  proxy = up.proxy;
  adaAgent = await signIn(proxy, sso, ada);
  bobAgent = await signIn(proxy, sso, bob);
});

test.after.always(async () => {
  await proxy?.stop();
  await sso?.close();
});

async function presignPut(agent: UserAgent, body: Record<string, unknown>) {
  return callJson(agent, proxy, 'POST', '/__s3proxy/uploads', body);
}

function putTo(answer: { url: string; headers: Record<string, string> }, data: Buffer, headers = answer.headers) {
  return fetch(answer.url, { method: 'PUT', headers, body: new Uint8Array(data) });
}

// --- end to end -------------------------------------------------------------------

test('a presigned PUT puts the file in the user folder at S3, and it downloads through the proxy byte for byte', async (t) => {
  const data = patternBytes(200_000, 11);
  const answer = await presignPut(adaAgent, { filename: 'notes.bin', type: 'application/octet-stream', size: data.length, md5: md5(data) });
  t.is(answer.status, 200, JSON.stringify(answer.body));
  t.is(answer.body.method, 'PUT');
  t.is(answer.body.key, `${adaFolder}notes.bin`);
  t.is(answer.body.expires, 900);
  t.deepEqual(answer.body.headers, {
    'content-type': 'application/octet-stream',
    'content-length': String(data.length),
    'content-md5': md5(data),
    'if-none-match': '*',
  });
  t.false(answer.body.key.startsWith(up.keyPrefix), 'the key is the path the proxy serves, not the bucket key');
  const put = await putTo(answer.body, data);
  t.is(put.status, 200);
  const stored = await atS3(answer.body.key);
  t.truthy(stored);
  t.true(stored!.body.equals(data));
  t.is(stored!.type, 'application/octet-stream');
  const back = await download(adaAgent, proxy, answer.body.key);
  t.is(back.status, 200);
  t.true(back.body.equals(data));
});

test('a presigned POST (GET /s3/params, as Uppy asks) uploads a file that downloads through the proxy byte for byte', async (t) => {
  const data = patternBytes(50_000, 12);
  const query = new URLSearchParams({ filename: 'photo.png', type: 'image/png', 'metadata[name]': 'photo.png', 'metadata[relativePath]': 'null' });
  const answer = await callJson(adaAgent, proxy, 'GET', `/__s3proxy/s3/params?${query}`);
  t.is(answer.status, 200, JSON.stringify(answer.body));
  t.is(answer.body.method, 'POST');
  t.is(answer.body.expires, 900);
  t.is(answer.body.key, `${adaFolder}photo.png`);
  t.true(answer.body.url.endsWith('/'), 'Uppy appends fields.key to the URL for the location');
  t.is(answer.body.fields.key, `${up.keyPrefix}${adaFolder}photo.png`, 'S3 needs the bucket key in the form');
  t.is(answer.body.fields['Content-Type'], 'image/png');
  const posted = await postForm(answer.body.url, answer.body.fields, data);
  t.is(posted.status, 201, await posted.clone().text());
  const stored = await atS3(answer.body.key);
  t.true(stored!.body.equals(data));
  t.is(stored!.type, 'image/png');
  t.is(stored!.metadata.name, 'photo.png');
  const back = await download(adaAgent, proxy, answer.body.key);
  t.is(back.status, 200);
  t.true(back.body.equals(data));
});

test('each handed-out URL is one JSON log line with who, key, declared size and type, and the outcome', async (t) => {
  const answer = await presignPut(adaAgent, { filename: 'logged.txt', type: 'text/plain', size: 5 });
  t.is(answer.status, 200);
  const line = await proxy.waitForLog((l) => l.msg === 'upload' && l.key === `${adaFolder}logged.txt`);
  t.like(line, { event: 'upload', kind: 'put', outcome: 'presigned', user: 'ada@example.org', size: 5, type: 'text/plain' });
});

// --- what S3 itself refuses ---------------------------------------------------------

test('S3 refuses a POST one byte larger than the declared size, and stores nothing', async (t) => {
  const query = new URLSearchParams({ filename: 'exact.txt', type: 'text/plain', size: '10' });
  const answer = await callJson(adaAgent, proxy, 'GET', `/__s3proxy/s3/params?${query}`);
  t.is(answer.status, 200);
  const tooBig = await postForm(answer.body.url, answer.body.fields, Buffer.alloc(11, 'x'));
  t.is(tooBig.status, 400);
  t.regex(await tooBig.text(), /EntityTooLarge/);
  t.false(await existsAtS3(s3, up.bucket, answer.body.fields.key));
  const tooSmall = await postForm(answer.body.url, answer.body.fields, Buffer.alloc(9, 'x'));
  t.is(tooSmall.status, 400);
  t.false(await existsAtS3(s3, up.bucket, answer.body.fields.key));
  const exact = await postForm(answer.body.url, answer.body.fields, Buffer.alloc(10, 'x'));
  t.is(exact.status, 201);
});

test('S3 refuses a POST one byte over UPLOAD_MAX_BYTES when no size was declared', async (t) => {
  const query = new URLSearchParams({ filename: 'limit.bin', type: 'application/octet-stream' });
  const answer = await callJson(adaAgent, proxy, 'GET', `/__s3proxy/s3/params?${query}`);
  t.is(answer.status, 200);
  const over = await postForm(answer.body.url, answer.body.fields, Buffer.alloc(maxBytes + 1));
  t.is(over.status, 400);
  t.regex(await over.text(), /EntityTooLarge/);
  t.false(await existsAtS3(s3, up.bucket, answer.body.fields.key));
  const atLimit = await postForm(answer.body.url, answer.body.fields, Buffer.alloc(maxBytes));
  t.is(atLimit.status, 201);
});

test('S3 refuses a POST with another Content-Type than the declared one', async (t) => {
  const query = new URLSearchParams({ filename: 'typed.txt', type: 'text/plain' });
  const answer = await callJson(adaAgent, proxy, 'GET', `/__s3proxy/s3/params?${query}`);
  const html = await postForm(answer.body.url, answer.body.fields, Buffer.from('<script>alert(1)</script>'), { 'Content-Type': 'text/html' });
  t.is(html.status, 403);
  t.false(await existsAtS3(s3, up.bucket, answer.body.fields.key));
});

test('S3 refuses a POST for another key than the one in the policy', async (t) => {
  const query = new URLSearchParams({ filename: 'mine.txt', type: 'text/plain' });
  const answer = await callJson(adaAgent, proxy, 'GET', `/__s3proxy/s3/params?${query}`);
  const elsewhere = `${up.keyPrefix}uploads/bob@example.org/mine.txt`;
  const moved = await postForm(answer.body.url, answer.body.fields, Buffer.from('x'), { key: elsewhere });
  t.is(moved.status, 403);
  t.false(await existsAtS3(s3, up.bucket, elsewhere));
});

test('S3 refuses a PUT of other bytes than its md5', async (t) => {
  const data = Buffer.from('the bytes that were declared');
  const answer = await presignPut(adaAgent, { filename: 'digest.txt', type: 'text/plain', size: data.length, md5: md5(data) });
  t.is(answer.status, 200);
  const other = Buffer.from('the bytes that were swapped!');
  t.is(other.length, data.length);
  const put = await putTo(answer.body, other);
  t.is(put.status, 400);
  t.regex(await put.text(), /BadDigest/);
  t.false(await existsAtS3(s3, up.bucket, up.keyPrefix + answer.body.key));
});

test('S3 refuses a PUT whose content-type, length, or if-none-match differ from what was signed', async (t) => {
  const data = Buffer.from('signed headers');
  const answer = await presignPut(adaAgent, { filename: 'headers.txt', type: 'text/plain', size: data.length });
  t.is(answer.status, 200);
  const { headers } = answer.body as { headers: Record<string, string> };
  const otherType = await putTo(answer.body, data, { ...headers, 'content-type': 'text/html' });
  t.is(otherType.status, 403, 'another content-type');
  const { 'if-none-match': _dropped, ...withoutCondition } = headers;
  const unconditional = await putTo(answer.body, data, withoutCondition);
  t.is(unconditional.status, 403, 'without if-none-match');
  const longer = Buffer.concat([data, Buffer.from('!')]);
  const { 'content-length': _length, ...withoutLength } = headers;
  const moreBytes = await putTo(answer.body, longer, withoutLength);
  t.is(moreBytes.status, 403, 'one byte more');
  t.false(await existsAtS3(s3, up.bucket, up.keyPrefix + answer.body.key));
  const right = await putTo(answer.body, data);
  t.is(right.status, 200, 'the signed headers exactly');
});

test('with UPLOAD_OVERWRITE=never S3 refuses a presigned PUT over an object that appeared after the URL was handed out', async (t) => {
  const answer = await presignPut(adaAgent, { filename: 'race.txt', type: 'text/plain', size: 5 });
  t.is(answer.status, 200);
  // another writer gets there first, straight to the bucket
  await putObject(stack, up.bucket, up.keyPrefix + answer.body.key, 'first', 'text/plain');
  const put = await putTo(answer.body, Buffer.from('later'));
  t.is(put.status, 412);
  t.is((await atS3(answer.body.key))!.body.toString(), 'first');
});

test('with UPLOAD_OVERWRITE=never the proxy answers 409 for a name that exists, before any URL', async (t) => {
  await putObject(stack, up.bucket, `${up.keyPrefix}${adaFolder}taken.txt`, 'here', 'text/plain');
  const put = await presignPut(adaAgent, { filename: 'taken.txt', type: 'text/plain', size: 4 });
  t.is(put.status, 409);
  t.is(put.body.error.code, 'exists');
  t.false('url' in put.body);
  const post = await callJson(adaAgent, proxy, 'GET', `/__s3proxy/s3/params?${new URLSearchParams({ filename: 'taken.txt', type: 'text/plain' })}`);
  t.is(post.status, 409);
  const multipart = await callJson(adaAgent, proxy, 'POST', '/__s3proxy/s3/multipart', { filename: 'taken.txt', type: 'text/plain' });
  t.is(multipart.status, 409);
});

test('a URL handed out for a name keeps it: another user asking for the same key meanwhile gets 409', async (t) => {
  // one shared folder, so that two users can ask for the same key
  const shared = await startUploadProxy(stack, sso, 'uploads-shared', { UPLOAD_PREFIX: 'shared/' }, { bucket: up.bucket });
  t.teardown(() => shared.proxy.stop());
  const first = await signIn(shared.proxy, sso, ada);
  const second = await signIn(shared.proxy, sso, bob);
  const mine = await callJson(first, shared.proxy, 'POST', '/__s3proxy/uploads', { filename: 'agenda.txt', type: 'text/plain', size: 3 });
  t.is(mine.status, 200);
  t.is(mine.body.key, 'shared/agenda.txt');
  const again = await callJson(first, shared.proxy, 'POST', '/__s3proxy/uploads', { filename: 'agenda.txt', type: 'text/plain', size: 3 });
  t.is(again.status, 200, 'the same user may ask again for a URL it lost');
  const theirs = await callJson(second, shared.proxy, 'POST', '/__s3proxy/uploads', { filename: 'agenda.txt', type: 'text/plain', size: 3 });
  t.is(theirs.status, 409);
});

test('S3 refuses a presigned PUT and POST used after their expiry (UPLOAD_URL_TTL=2)', async (t) => {
  const short = await startUploadProxy(stack, sso, 'uploads-ttl', { UPLOAD_URL_TTL: '2' }, { bucket: up.bucket });
  t.teardown(() => short.proxy.stop());
  const agent = await signIn(short.proxy, sso, ada);
  const put = await callJson(agent, short.proxy, 'POST', '/__s3proxy/uploads', { filename: 'late.txt', type: 'text/plain', size: 4 });
  t.is(put.status, 200);
  t.is(put.body.expires, 2);
  const post = await callJson(agent, short.proxy, 'GET', `/__s3proxy/s3/params?${new URLSearchParams({ filename: 'late-post.txt', type: 'text/plain' })}`);
  t.is(post.status, 200);
  await sleep(3_000);
  const latePut = await putTo(put.body, Buffer.from('late'));
  t.is(latePut.status, 403);
  const latePost = await postForm(post.body.url, post.body.fields, Buffer.from('late'));
  t.is(latePost.status, 403);
  t.false(await existsAtS3(s3, up.bucket, up.keyPrefix + put.body.key));
  t.false(await existsAtS3(s3, up.bucket, up.keyPrefix + post.body.key));
});

// --- what the proxy refuses -----------------------------------------------------

const hostile: Array<[string, string, string]> = [
  ['dot-dot segments', '../../x', 'x'],
  ['a folder', 'a/b', 'b'],
  ['NUL', 'nul\u0000.txt', 'nul.txt'],
  ['CRLF', 'crlf\r\nx-amz-acl: public-read.txt', 'crlfx-amz-acl: public-read.txt'],
  ['a direction override', 'invoice\u202Etxt.exe', 'invoicetxt.exe'],
  ['300 bytes', 'n'.repeat(296) + '.txt', 'n'.repeat(251) + '.txt'],
];

for (const [what, raw, cleaned] of hostile) {
  test(`a file name with ${what} lands in the user's folder under its cleaned name, at S3`, async (t) => {
    const answer = await presignPut(adaAgent, { filename: raw, type: 'text/plain', size: 2 });
    t.is(answer.status, 200, JSON.stringify(answer.body));
    t.is(answer.body.key, adaFolder + cleaned);
    t.is((await putTo(answer.body, Buffer.from('ok'))).status, 200);
    t.true(await existsAtS3(s3, up.bucket, `${up.keyPrefix}${adaFolder}${cleaned}`));
    t.true(Buffer.byteLength(answer.body.key.slice(adaFolder.length)) <= 255);
  });
}

test('file names that clean to nothing are a 400 naming filename', async (t) => {
  for (const raw of ['../', '\u0000', '\u202E', '...', 'a/ ']) {
    const answer = await presignPut(adaAgent, { filename: raw, type: 'text/plain', size: 1 });
    t.is(answer.status, 400, JSON.stringify(raw));
    t.is(answer.body.error.code, 'bad_request');
    t.true(answer.body.error.message.startsWith('filename:'), answer.body.error.message);
  }
});

test('a type that is not allowed is refused on every route that starts an upload', async (t) => {
  const put = await presignPut(adaAgent, { filename: 'page.html', type: 'text/html', size: 1 });
  t.is(put.status, 403);
  t.is(put.body.error.code, 'not_allowed');
  t.true(put.body.error.message.startsWith('type:'));
  const post = await callJson(adaAgent, proxy, 'GET', `/__s3proxy/s3/params?${new URLSearchParams({ filename: 'page.html', type: 'text/html' })}`);
  t.is(post.status, 403);
  const multipart = await callJson(adaAgent, proxy, 'POST', '/__s3proxy/s3/multipart', { filename: 'page.html', type: 'text/html' });
  t.is(multipart.status, 403);
  const wildcard = await presignPut(adaAgent, { filename: 'pic.gif', type: 'image/gif', size: 1 });
  t.is(wildcard.status, 200, 'image/* allows image/gif');
});

test('bad input is a 400 that names the field', async (t) => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ filename: 'a.txt', type: 'text/plain' }, 'size:'],
    [{ filename: 'a.txt', type: 'text/plain', size: -1 }, 'size:'],
    [{ filename: 'a.txt', type: 'text/plain', size: '1e3' }, 'size:'],
    [{ filename: 'a.txt', type: 'text/plain\r\nx: y', size: 1 }, 'type:'],
    [{ filename: 'a.txt', size: 1 }, 'type:'],
    [{ type: 'text/plain', size: 1 }, 'filename:'],
    [{ filename: 'a.txt', type: 'text/plain', size: 1, md5: 'nope' }, 'md5:'],
    [{ filename: 'a.txt', type: 'text/plain', size: 1, metadata: { 'bad name': 'x' } }, 'metadata:'],
  ];
  for (const [body, field] of cases) {
    const answer = await presignPut(adaAgent, body);
    t.is(answer.status, 400, JSON.stringify(body));
    t.true(answer.body.error.message.startsWith(field), `${JSON.stringify(body)}: ${answer.body.error.message}`);
  }
  const notJson = await callJson(adaAgent, proxy, 'POST', '/__s3proxy/uploads', '{"filename": ');
  t.is(notJson.status, 400);
  t.true(notJson.body.error.message.startsWith('body:'));
});

test('a request body over 1 MiB is 413 in JSON, without being read to its end', async (t) => {
  const answer = await presignPut(adaAgent, { filename: 'a.txt', type: 'text/plain', size: 1, padding: 'x'.repeat(1024 * 1024) });
  t.is(answer.status, 413);
  t.is(answer.body.error.code, 'too_large');
  t.is(answer.headers.get('connection'), 'close');
});

test('a declared size over UPLOAD_MAX_BYTES is 413 before any URL', async (t) => {
  const put = await presignPut(adaAgent, { filename: 'huge.bin', type: 'application/octet-stream', size: maxBytes + 1 });
  t.is(put.status, 413);
  t.is(put.body.error.code, 'too_large');
  const post = await callJson(adaAgent, proxy, 'GET', `/__s3proxy/s3/params?${new URLSearchParams({ filename: 'huge.bin', type: 'application/octet-stream', size: String(maxBytes + 1) })}`);
  t.is(post.status, 413);
});

test('a cross-site POST with a session cookie is refused, and logged', async (t) => {
  const body = { filename: 'csrf.txt', type: 'text/plain', size: 1 };
  // the cookie is sent whatever SameSite would do: as with SameSite=None, or a browser that ignores it
  const cookie = (await adaAgent.jar.getCookieString(proxy.url)) ?? '';
  t.not(cookie, '');
  const post = (init: CallInit) => callJson(adaAgent, proxy, 'POST', '/__s3proxy/uploads', body, { ...init, headers: { cookie, ...init.headers } });
  const crossSite = await post({ navigation: false, fetchSite: 'cross-site', headers: { origin: 'https://evil.example' } });
  t.is(crossSite.status, 403);
  t.is(crossSite.body.error.code, 'cross_site');
  t.is((await post({ navigation: false, fetchSite: 'same-site', headers: { origin: 'http://other.127.0.0.1' } })).status, 403, 'same-site is not same-origin');
  t.is((await post({ headers: { origin: 'https://evil.example' } })).status, 403, 'no fetch metadata, a foreign Origin');
  t.is((await post({})).status, 403, 'no fetch metadata and no Origin');
  const params = await callJson(adaAgent, proxy, 'GET', `/__s3proxy/s3/params?${new URLSearchParams({ filename: 'csrf.txt', type: 'text/plain' })}`, undefined, {
    navigation: false,
    fetchSite: 'cross-site',
    headers: { cookie },
  });
  t.is(params.status, 403, 'a GET that hands out a URL too');
  const multipart = await callJson(adaAgent, proxy, 'POST', '/__s3proxy/s3/multipart', { filename: 'csrf.txt', type: 'text/plain' }, {
    navigation: false,
    fetchSite: 'cross-site',
    headers: { cookie },
  });
  t.is(multipart.status, 403);
  t.false('url' in crossSite.body);
  t.is((await post({ headers: { origin: proxy.url } })).status, 200, 'no fetch metadata, the proxy\'s own Origin');
  const line = await proxy.waitForLog((l) => l.msg === 'upload' && l.outcome === 'refused' && l.status === 403 && l.user === 'ada@example.org' && String(l.reason).includes('cross-site'));
  t.is(line.level, 40, 'logged as a warning');
});

test('bearer callers are not held to the same-origin rule: an API key upload from a script, no Origin, no fetch metadata', async (t) => {
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const dir = await mkdtemp(path.join(tmpdir(), 'uploads-bearer-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'ada@example.org_public.pem'), keys.publicKey.export({ type: 'spki', format: 'pem' }).toString());
  const api = await startUploadProxy(stack, sso, 'uploads-bearer', {}, { bucket: up.bucket, extra: { API_PUBLIC_KEYS_DIR: dir, API_AUDIENCE: 'https://assets.example.org' } });
  t.teardown(() => api.proxy.stop());
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ sub: 'ada@example.org', aud: 'https://assets.example.org', iat: now, exp: now + 300 })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
    .sign(keys.privateKey);
  const data = Buffer.from('from a script');
  for (const [name, headers] of [
    ['script.txt', {}],
    ['script-2.txt', { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' }],
  ] as const) {
    const response = await fetch(`${api.proxy.url}/__s3proxy/uploads`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ filename: name, type: 'text/plain', size: data.length }),
    });
    t.is(response.status, 200, JSON.stringify(headers));
    const answer = (await response.json()) as { url: string; headers: Record<string, string>; key: string };
    t.is(answer.key, `${adaFolder}${name}`);
    t.is((await putTo(answer, data)).status, 200);
  }
  t.true((await atS3(`${adaFolder}script.txt`))!.body.equals(data));
});

test('without a session every upload route answers 401 in JSON', async (t) => {
  const stranger = new UserAgent();
  const routes: Array<[string, string, unknown?]> = [
    ['GET', '/__s3proxy/s3/params?filename=a.txt&type=text/plain'],
    ['POST', '/__s3proxy/uploads', { filename: 'a.txt', type: 'text/plain', size: 1 }],
    ['GET', '/__s3proxy/uploads'],
    ['POST', '/__s3proxy/s3/multipart', { filename: 'a.txt', type: 'text/plain' }],
    ['GET', '/__s3proxy/s3/multipart/some-id/batch?key=a&partNumbers=1'],
    ['GET', '/__s3proxy/s3/multipart/some-id/1?key=a'],
    ['GET', '/__s3proxy/s3/multipart/some-id?key=a'],
    ['POST', '/__s3proxy/s3/multipart/some-id/complete?key=a', { parts: [] }],
    ['DELETE', '/__s3proxy/s3/multipart/some-id?key=a'],
  ];
  for (const [method, path, body] of routes) {
    const answer = await callJson(stranger, proxy, method, path, body);
    t.is(answer.status, 401, `${method} ${path}`);
    t.is(answer.body.error.code, 'unauthenticated', `${method} ${path}`);
    t.is(answer.headers.get('cache-control'), 'no-store');
  }
});

test('a user cannot put files in somebody else\'s folder: the key is always under their own', async (t) => {
  const answer = await presignPut(bobAgent, { filename: '../ada@example.org/notes.txt', type: 'text/plain', size: 1 });
  t.is(answer.status, 200);
  t.is(answer.body.key, 'uploads/bob@example.org/notes.txt');
});

test('with uploads off, every upload route is 404', async (t) => {
  const off = await startProxy(proxyEnv(stack, { bucket: up.bucket, keyPrefix: up.keyPrefix, sso: oauth2Sso(sso) }));
  t.teardown(() => off.stop());
  const agent = await signIn(off, sso, ada);
  for (const [method, path] of [
    ['GET', '/__s3proxy/s3/params?filename=a.txt&type=text/plain'],
    ['POST', '/__s3proxy/uploads'],
    ['GET', '/__s3proxy/uploads'],
    ['POST', '/__s3proxy/s3/multipart'],
    ['GET', '/__s3proxy/s3/multipart/x/1?key=a'],
    ['DELETE', '/__s3proxy/s3/multipart/x?key=a'],
  ] as const) {
    const response = await agent.request(`${off.url}${path}`, { method, navigation: false, headers: sameOriginHeaders(off) });
    t.is(response.status, 404, `${method} ${path}`);
    await response.arrayBuffer();
  }
});
