// Multipart uploads through Companion's routes, exactly as @uppy/aws-s3
// calls them: the proxy creates, lists, completes and aborts with its own
// credentials, the parts go straight to the real S3 server through
// presigned UploadPart URLs, and what S3 holds is checked at S3.
import test from 'ava';
import { createHash } from 'node:crypto';
import { GetBucketLifecycleConfigurationCommand } from '@aws-sdk/client-s3';
import type { LogLine, ProxyProcess } from '../support/proxy-process.ts';
import { patternBytes, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import type { UserAgent } from '../support/user-agent.ts';
import {
  ada,
  bob,
  callJson,
  download,
  existsAtS3,
  multipartUploadsAtS3,
  objectAtS3,
  proxyPath,
  s3Admin,
  signIn,
  startUploadProxy,
  type UploadProxy,
} from '../support/uploads.ts';

const stack = s3Stack();
const s3 = s3Admin(stack);
const MiB = 1024 * 1024;
const partSize = 5 * MiB;

let sso: OAuth2Sso;
let up: UploadProxy;
let proxy: ProxyProcess;
let adaAgent: UserAgent;
let bobAgent: UserAgent;

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

test.before(async () => {
  sso = await startOAuth2Sso();
  up = await startUploadProxy(stack, sso, 'uploads-multipart', { UPLOAD_MAX_BYTES: '48MiB' });
  proxy = up.proxy;
  adaAgent = await signIn(proxy, sso, ada);
  bobAgent = await signIn(proxy, sso, bob);
});

test.after.always(async () => {
  await proxy?.stop();
  await sso?.close();
});

interface Created {
  key: string;
  uploadId: string;
}

async function create(agent: UserAgent, body: Record<string, unknown>, on: ProxyProcess = proxy): Promise<Created> {
  const answer = await callJson(agent, on, 'POST', '/__s3proxy/s3/multipart', body);
  if (answer.status !== 200) throw new Error(`create: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

const uploadPath = (upload: Created, tail = '') =>
  `/__s3proxy/s3/multipart/${encodeURIComponent(upload.uploadId)}${tail}?${new URLSearchParams({ key: upload.key })}`;

async function signPart(agent: UserAgent, upload: Created, partNumber: number, on: ProxyProcess = proxy): Promise<string> {
  const answer = await callJson(agent, on, 'GET', uploadPath(upload, `/${partNumber}`));
  if (answer.status !== 200) throw new Error(`sign part ${partNumber}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.url;
}

/** A part sent to S3 as Uppy sends it (a PUT of the bytes); its ETag. */
async function putPart(url: string, data: Uint8Array, headers: Record<string, string> = {}): Promise<string> {
  const response = await fetch(url, { method: 'PUT', body: data, headers });
  if (response.status !== 200) throw new Error(`part PUT: ${response.status} ${await response.text()}`);
  const etag = response.headers.get('etag');
  if (!etag) throw new Error('part PUT: no ETag');
  return etag;
}

async function complete(agent: UserAgent, upload: Created, parts: Array<{ PartNumber: number; ETag: string }>, on: ProxyProcess = proxy) {
  return callJson(agent, on, 'POST', uploadPath(upload, '/complete'), { parts });
}

// --- end to end --------------------------------------------------------------------

test('the test bucket carries the AbortIncompleteMultipartUpload rule the README asks for', async (t) => {
  const lifecycle = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: up.bucket }));
  t.true((lifecycle.Rules ?? []).some((rule) => rule.Status === 'Enabled' && rule.AbortIncompleteMultipartUpload?.DaysAfterInitiation === 1));
});

test('create, sign, list and complete make one object at S3 that downloads through the proxy byte for byte', async (t) => {
  const data = patternBytes(partSize + 1000, 21);
  const upload = await create(adaAgent, { filename: 'movie.bin', type: 'video/webm', metadata: { name: 'movie.bin', relativePath: null } });
  t.is(upload.key, 'uploads/ada@example.org/movie.bin');
  t.true((await multipartUploadsAtS3(s3, up.bucket)).includes(upload.uploadId), 'S3 has the upload');
  const first = await putPart(await signPart(adaAgent, upload, 1), data.subarray(0, partSize));
  const second = await putPart(await signPart(adaAgent, upload, 2), data.subarray(partSize));
  const listed = await callJson(adaAgent, proxy, 'GET', uploadPath(upload));
  t.is(listed.status, 200);
  t.deepEqual(listed.body, [
    { PartNumber: 1, ETag: first, Size: partSize },
    { PartNumber: 2, ETag: second, Size: 1000 },
  ]);
  // as Uppy sends them: ETags without their quotes
  const done = await complete(adaAgent, upload, [
    { PartNumber: 1, ETag: first.replaceAll('"', '') },
    { PartNumber: 2, ETag: second.replaceAll('"', '') },
  ]);
  t.is(done.status, 200, JSON.stringify(done.body));
  t.deepEqual(done.body, { location: `${proxy.url}${proxyPath(upload.key)}`, key: upload.key });
  const stored = await objectAtS3(s3, up.bucket, up.keyPrefix + upload.key);
  t.is(sha256(stored!.body), sha256(data));
  t.is(stored!.type, 'video/webm');
  t.is(stored!.metadata.name, 'movie.bin');
  t.false((await multipartUploadsAtS3(s3, up.bucket)).includes(upload.uploadId), 'S3 finished the upload');
  const back = await download(adaAgent, proxy, upload.key);
  t.is(back.status, 200);
  t.is(sha256(back.body), sha256(data));
  const line = await proxy.waitForLog((l) => l.msg === 'upload' && l.outcome === 'completed' && l.uploadId === upload.uploadId);
  t.like(line, { kind: 'multipart', user: 'ada@example.org', key: upload.key, type: 'video/webm' });
});

test('the batch route signs several parts at once, and its URLs upload', async (t) => {
  const data = patternBytes(partSize + 10, 22);
  const upload = await create(adaAgent, { filename: 'batch.bin', type: 'application/octet-stream', size: data.length });
  const batch = await callJson(adaAgent, proxy, 'GET', `${uploadPath(upload, '/batch')}&partNumbers=1,2`);
  t.is(batch.status, 200);
  t.deepEqual(Object.keys(batch.body.presignedUrls).sort(), ['1', '2']);
  const first = await putPart(batch.body.presignedUrls['1'], data.subarray(0, partSize));
  const second = await putPart(batch.body.presignedUrls['2'], data.subarray(partSize));
  const done = await complete(adaAgent, upload, [
    { PartNumber: 1, ETag: first },
    { PartNumber: 2, ETag: second },
  ]);
  t.is(done.status, 200);
  t.true((await objectAtS3(s3, up.bucket, up.keyPrefix + upload.key))!.body.equals(data));
});

test('a 40 MB upload in 5 MB parts, interrupted after 3 parts, resumes through list-parts and downloads byte for byte', async (t) => {
  const data = patternBytes(8 * partSize, 23);
  const part = (n: number) => data.subarray((n - 1) * partSize, n * partSize);
  const started = await create(adaAgent, { filename: 'big.bin', type: 'application/octet-stream', size: data.length });
  const batch = await callJson(adaAgent, proxy, 'GET', `${uploadPath(started, '/batch')}&partNumbers=1,2,3,4,5,6,7,8`);
  t.is(batch.status, 200);
  for (const n of [1, 2, 3]) await putPart(batch.body.presignedUrls[String(n)], part(n));

  // the interruption: the browser is gone with what it knew; the same user comes back in a new session
  const again = await signIn(proxy, sso, ada);
  const inProgress = await callJson(again, proxy, 'GET', '/__s3proxy/uploads');
  t.is(inProgress.status, 200);
  const found = inProgress.body.uploads.find((u: { name: string }) => u.name === 'big.bin');
  t.like(found, { uploadId: started.uploadId, key: started.key, size: data.length, type: 'application/octet-stream' });
  const resumed: Created = { uploadId: found.uploadId, key: found.key };
  const listed = await callJson(again, proxy, 'GET', uploadPath(resumed));
  t.is(listed.status, 200);
  t.deepEqual(listed.body.map((p: { PartNumber: number; Size: number }) => [p.PartNumber, p.Size]), [
    [1, partSize],
    [2, partSize],
    [3, partSize],
  ]);
  const parts: Array<{ PartNumber: number; ETag: string }> = listed.body.map((p: { PartNumber: number; ETag: string }) => ({ PartNumber: p.PartNumber, ETag: p.ETag }));
  for (const n of [4, 5, 6, 7, 8]) parts.push({ PartNumber: n, ETag: await putPart(await signPart(again, resumed, n), part(n)) });
  const done = await complete(again, resumed, parts);
  t.is(done.status, 200, JSON.stringify(done.body));
  const stored = await objectAtS3(s3, up.bucket, up.keyPrefix + resumed.key);
  t.is(stored!.body.length, data.length);
  t.is(sha256(stored!.body), sha256(data));
  const back = await download(again, proxy, resumed.key);
  t.is(sha256(back.body), sha256(data));
  const after = await callJson(again, proxy, 'GET', '/__s3proxy/uploads');
  t.false(after.body.uploads.some((u: { uploadId: string }) => u.uploadId === started.uploadId), 'no longer in progress');
});

// serial: a thousand PUTs at once would slow the other tests' requests to S3 past their timeouts
test.serial('list-parts returns every page of ListParts: 1,001 parts', async (t) => {
  const upload = await create(adaAgent, { filename: 'many.bin', type: 'application/octet-stream' });
  const batch = await callJson(adaAgent, proxy, 'GET', `${uploadPath(upload, '/batch')}&partNumbers=${Array.from({ length: 1000 }, (_, i) => i + 1).join(',')}`);
  t.is(batch.status, 200);
  const urls: string[] = Array.from({ length: 1000 }, (_, i) => batch.body.presignedUrls[String(i + 1)]);
  urls.push(await signPart(adaAgent, upload, 1001));
  let next = 0;
  const worker = async () => {
    while (next < urls.length) {
      const i = next++;
      await putPart(urls[i]!, Uint8Array.of(i % 256));
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const listed = await callJson(adaAgent, proxy, 'GET', uploadPath(upload));
  t.is(listed.status, 200);
  t.is(listed.body.length, 1001);
  t.deepEqual(listed.body.map((p: { PartNumber: number }) => p.PartNumber), Array.from({ length: 1001 }, (_, i) => i + 1));
  t.true(listed.body.every((p: { Size: number }) => p.Size === 1));
  t.is((await callJson(adaAgent, proxy, 'DELETE', uploadPath(upload))).status, 200);
});

test('abort deletes the upload at S3 and the proxy forgets it', async (t) => {
  const upload = await create(adaAgent, { filename: 'dropped.bin', type: 'application/octet-stream' });
  await putPart(await signPart(adaAgent, upload, 1), patternBytes(1000, 24));
  const aborted = await callJson(adaAgent, proxy, 'DELETE', uploadPath(upload));
  t.is(aborted.status, 200);
  t.deepEqual(aborted.body, {});
  t.false((await multipartUploadsAtS3(s3, up.bucket)).includes(upload.uploadId));
  const listed = await callJson(adaAgent, proxy, 'GET', uploadPath(upload));
  t.is(listed.status, 404);
  t.is(listed.body.error.code, 'unknown_upload');
  const line = await proxy.waitForLog((l) => l.msg === 'upload' && l.outcome === 'aborted' && l.uploadId === upload.uploadId);
  t.is(line.user, 'ada@example.org');
});

// --- refusals ----------------------------------------------------------------------------

test('S3 refuses a part whose bytes do not match the md5 it was signed for', async (t) => {
  const upload = await create(adaAgent, { filename: 'digest.bin', type: 'application/octet-stream' });
  const data = patternBytes(1000, 25);
  const md5 = createHash('md5').update(data).digest('base64');
  const signed = await callJson(adaAgent, proxy, 'GET', `${uploadPath(upload, '/1')}&md5=${encodeURIComponent(md5)}`);
  t.is(signed.status, 200);
  t.deepEqual(signed.body.headers, { 'content-md5': md5 });
  const other = await fetch(signed.body.url, { method: 'PUT', body: patternBytes(1000, 26), headers: { 'content-md5': md5 } });
  t.is(other.status, 400);
  t.regex(await other.text(), /BadDigest/);
  const unsent = await fetch(signed.body.url, { method: 'PUT', body: data });
  t.is(unsent.status, 403, 'the signed content-md5 must be sent');
  const listed = await callJson(adaAgent, proxy, 'GET', uploadPath(upload));
  t.deepEqual(listed.body, []);
  t.is((await fetch(signed.body.url, { method: 'PUT', body: data, headers: { 'content-md5': md5 } })).status, 200);
});

test("another user can neither sign, list, complete nor abort somebody's upload, and each refusal is logged", async (t) => {
  const upload = await create(adaAgent, { filename: 'private.bin', type: 'application/octet-stream' });
  const etag = await putPart(await signPart(adaAgent, upload, 1), patternBytes(100, 27));
  const attempts: Array<[string, string, unknown?]> = [
    ['GET', uploadPath(upload, '/1')],
    ['GET', `${uploadPath(upload, '/batch')}&partNumbers=1,2`],
    ['GET', uploadPath(upload)],
    ['POST', uploadPath(upload, '/complete'), { parts: [{ PartNumber: 1, ETag: etag }] }],
    ['DELETE', uploadPath(upload)],
  ];
  for (const [method, path, body] of attempts) {
    const answer = await callJson(bobAgent, proxy, method, path, body);
    t.is(answer.status, 403, `${method} ${path}`);
    t.is(answer.body.error.code, 'not_owner');
    t.false(JSON.stringify(answer.body).includes('ada@'), 'the answer does not say whose it is');
  }
  const isRefusal = (l: LogLine) => l.msg === 'upload' && l.uploadId === upload.uploadId && l.outcome === 'refused' && l.user === 'bob@example.org';
  // log lines reach stdout a moment after the answers
  await proxy.waitForLog(() => proxy.logs().filter(isRefusal).length >= attempts.length);
  const refusals = proxy.logs().filter(isRefusal);
  t.is(refusals.length, attempts.length);
  t.true(refusals.every((l) => l.level === 40 && l.status === 403));
  // untouched: still at S3, and its owner completes it
  t.true((await multipartUploadsAtS3(s3, up.bucket)).includes(upload.uploadId));
  t.false(await existsAtS3(s3, up.bucket, up.keyPrefix + upload.key));
  const done = await complete(adaAgent, upload, [{ PartNumber: 1, ETag: etag }]);
  t.is(done.status, 200);
});

test('a key that does not match the upload id is 403, and an unknown upload id is 404', async (t) => {
  const upload = await create(adaAgent, { filename: 'one.bin', type: 'application/octet-stream' });
  const other = await create(adaAgent, { filename: 'two.bin', type: 'application/octet-stream' });
  const mismatched = await callJson(adaAgent, proxy, 'GET', uploadPath({ uploadId: upload.uploadId, key: other.key }, '/1'));
  t.is(mismatched.status, 403);
  t.true(mismatched.body.error.message.startsWith('key:'));
  const outside = await callJson(adaAgent, proxy, 'DELETE', uploadPath({ uploadId: upload.uploadId, key: '../public/index.txt' }));
  t.is(outside.status, 403);
  t.true((await multipartUploadsAtS3(s3, up.bucket)).includes(upload.uploadId));
  const unknown = await callJson(adaAgent, proxy, 'GET', uploadPath({ uploadId: 'not-an-upload', key: upload.key }, '/1'));
  t.is(unknown.status, 404);
  t.is(unknown.body.error.code, 'unknown_upload');
  const missingKey = await callJson(adaAgent, proxy, 'GET', `/__s3proxy/s3/multipart/${encodeURIComponent(upload.uploadId)}/1`);
  t.is(missingKey.status, 400);
  t.true(missingKey.body.error.message.startsWith('key:'));
  for (const partNumber of ['0', '10001', 'x']) {
    const bad = await callJson(adaAgent, proxy, 'GET', uploadPath(upload, `/${partNumber}`));
    t.is(bad.status, 400, partNumber);
  }
});

test('parts that do not add up to the declared size are 422 before S3 joins them, and no object appears', async (t) => {
  const upload = await create(adaAgent, { filename: 'short.bin', type: 'application/octet-stream', size: 2000 });
  const etag = await putPart(await signPart(adaAgent, upload, 1), patternBytes(1999, 28));
  const done = await complete(adaAgent, upload, [{ PartNumber: 1, ETag: etag }]);
  t.is(done.status, 422);
  t.is(done.body.error.code, 'size_mismatch');
  t.false(await existsAtS3(s3, up.bucket, up.keyPrefix + upload.key));
  t.true((await multipartUploadsAtS3(s3, up.bucket)).includes(upload.uploadId), 'left for the client to fix or abort');
});

test('completing with a part that was never uploaded, or with a wrong ETag, is 400', async (t) => {
  const upload = await create(adaAgent, { filename: 'gaps.bin', type: 'application/octet-stream' });
  const etag = await putPart(await signPart(adaAgent, upload, 1), patternBytes(10, 29));
  const missing = await complete(adaAgent, upload, [
    { PartNumber: 1, ETag: etag },
    { PartNumber: 2, ETag: etag },
  ]);
  t.is(missing.status, 400);
  t.true(missing.body.error.message.startsWith('parts:'));
  const wrong = await complete(adaAgent, upload, [{ PartNumber: 1, ETag: '"0123456789abcdef0123456789abcdef"' }]);
  t.is(wrong.status, 400);
  const notAList = await complete(adaAgent, upload, 'nope' as never);
  t.is(notAList.status, 400);
  t.false(await existsAtS3(s3, up.bucket, up.keyPrefix + upload.key));
});

test("S3 refusing the completion (a part under 5 MB before the last) is a 400 in the proxy's words, without S3's error document", async (t) => {
  const upload = await create(adaAgent, { filename: 'tiny-parts.bin', type: 'application/octet-stream' });
  const first = await putPart(await signPart(adaAgent, upload, 1), patternBytes(10, 33));
  const second = await putPart(await signPart(adaAgent, upload, 2), patternBytes(10, 34));
  const done = await complete(adaAgent, upload, [
    { PartNumber: 1, ETag: first },
    { PartNumber: 2, ETag: second },
  ]);
  t.is(done.status, 400);
  t.is(done.body.error.code, 'bad_request');
  t.true(done.body.error.message.startsWith('parts:'));
  t.false(/<Error>|EntityTooSmall|RequestId|<\?xml/.test(JSON.stringify(done.body)));
  t.false(await existsAtS3(s3, up.bucket, up.keyPrefix + upload.key));
  const line = await proxy.waitForLog((l) => l.msg === 'upload' && l.uploadId === upload.uploadId && l.outcome === 'refused');
  t.regex(String(line.reason), /EntityTooSmall/, "S3's code is in the log");
});

test('with UPLOAD_OVERWRITE=never, completing over an object that appeared meanwhile is 409 (RGW ignores If-None-Match there)', async (t) => {
  const upload = await create(adaAgent, { filename: 'clash.bin', type: 'application/octet-stream' });
  const etag = await putPart(await signPart(adaAgent, upload, 1), patternBytes(10, 30));
  await putObject(stack, up.bucket, up.keyPrefix + upload.key, 'first', 'text/plain');
  const done = await complete(adaAgent, upload, [{ PartNumber: 1, ETag: etag }]);
  t.is(done.status, 409);
  t.is(done.body.error.code, 'exists');
  t.is((await objectAtS3(s3, up.bucket, up.keyPrefix + upload.key))!.body.toString(), 'first');
});

test('a declared size over the limit is 413 at create; undeclared parts over the limit are 422 at complete', async (t) => {
  const small = await startUploadProxy(stack, sso, 'uploads-multipart-small', { UPLOAD_MAX_BYTES: String(partSize + 100) }, { bucket: up.bucket });
  t.teardown(() => small.proxy.stop());
  const agent = await signIn(small.proxy, sso, ada);
  const declared = await callJson(agent, small.proxy, 'POST', '/__s3proxy/s3/multipart', { filename: 'over.bin', type: 'application/octet-stream', size: partSize + 101 });
  t.is(declared.status, 413);
  t.is(declared.body.error.code, 'too_large');
  const upload = await create(agent, { filename: 'over.bin', type: 'application/octet-stream' }, small.proxy);
  const first = await putPart(await signPart(agent, upload, 1, small.proxy), patternBytes(partSize, 31));
  const second = await putPart(await signPart(agent, upload, 2, small.proxy), patternBytes(101, 32));
  const done = await complete(agent, upload, [
    { PartNumber: 1, ETag: first },
    { PartNumber: 2, ETag: second },
  ], small.proxy);
  t.is(done.status, 422);
  t.false(await existsAtS3(s3, up.bucket, up.keyPrefix + upload.key));
});

test("GET /__s3proxy/uploads lists only the caller's own uploads in progress", async (t) => {
  const mine = await create(bobAgent, { filename: 'bobs.bin', type: 'application/octet-stream', size: 3 });
  const list = await callJson(bobAgent, proxy, 'GET', '/__s3proxy/uploads');
  t.is(list.status, 200);
  t.true(list.body.uploads.some((u: { uploadId: string }) => u.uploadId === mine.uploadId));
  t.true(list.body.uploads.every((u: { key: string }) => u.key.startsWith('uploads/bob@example.org/')));
  const entry = list.body.uploads.find((u: { uploadId: string }) => u.uploadId === mine.uploadId);
  t.truthy(Date.parse(entry.createdAt));
  t.true(Date.parse(entry.expiresAt) > Date.now());
  const adas = await callJson(adaAgent, proxy, 'GET', '/__s3proxy/uploads');
  t.false(adas.body.uploads.some((u: { uploadId: string }) => u.uploadId === mine.uploadId));
});
