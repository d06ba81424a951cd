// UPLOAD_DATA_PATH=proxy against the built proxy, the real S3 server (RGW)
// and Redis: the routes hand out URLs of the proxy's own data path, the
// proxy streams each body to S3, and what S3 holds is asked of S3 itself
// (GetObject, HeadObject, ListParts with the admin's keys). Between the
// proxy and S3 sits a TCP relay, so that a test can cut or freeze S3 in the
// middle of a part and see the proxy drop its connection to S3.
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { HeadObjectCommand, ListPartsCommand } from '@aws-sdk/client-s3';
import { request } from 'undici';
import { capabilityKey, sealCapability, type Capability } from '../../src/uploads/capability.ts';
import type { ProxyProcess } from '../support/proxy-process.ts';
import { createBucket, patternBytes, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { startTcpRelay, type TcpRelay } from '../support/tcp-relay.ts';
import { removeBucket } from '../support/s3-sdk.ts';
import type { UserAgent } from '../support/user-agent.ts';
import {
  ada,
  bob,
  callJson,
  download,
  existsAtS3,
  objectAtS3,
  postForm,
  s3Admin,
  setAbortIncompleteRule,
  signIn,
  startUploadProxy,
  type UploadProxy,
} from '../support/uploads.ts';

const stack = s3Stack();
const s3 = s3Admin(stack);
const MiB = 1024 * 1024;
const adaFolder = 'uploads/ada@example.org/';
const cliJs = fileURLToPath(new URL('../../dist/cli/s3proxy.js', import.meta.url));
/** AWS_S3_RESPONSE_TIMEOUT: how long S3 may sit on bytes before the proxy gives up */
const s3TimeoutSeconds = 4;

let sso: OAuth2Sso;
let relay: TcpRelay;
let up: UploadProxy;
let proxy: ProxyProcess;
let adaAgent: UserAgent;
let bobAgent: UserAgent;
let keysDir: string;
let work: string;

const md5 = (data: Uint8Array) => createHash('md5').update(data).digest('base64');
const md5Hex = (data: Uint8Array) => createHash('md5').update(data).digest('hex');
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
const fullKey = (key: string) => up.keyPrefix + key;

test.before(async () => {
  sso = await startOAuth2Sso();
  relay = await startTcpRelay({ host: stack.endpoint.hostname, port: Number(stack.endpoint.port) });
  const bucket = await createBucket(stack, 'uploads-proxy');
  await putObject(stack, bucket, 'public/index.txt', 'index', 'text/plain');
  await setAbortIncompleteRule(s3, bucket);
  keysDir = await mkdtemp(path.join(tmpdir(), 'uploads-proxy-keys-'));
  work = await mkdtemp(path.join(tmpdir(), 'uploads-proxy-work-'));
  up = await startUploadProxy(
    stack,
    sso,
    'uploads-proxy',
    { UPLOAD_DATA_PATH: 'proxy', UPLOAD_MAX_BYTES: '64MiB', UPLOAD_OVERWRITE: 'rename' },
    {
      bucket,
      extra: {
        // the proxy reaches S3 through the relay
        AWS_S3_ENDPOINT: `${relay.url}/${bucket}/public/`,
        AWS_S3_RESPONSE_TIMEOUT: String(s3TimeoutSeconds),
        API_PUBLIC_KEYS_DIR: keysDir,
        API_AUDIENCE: 'https://assets.example.org',
      },
    },
  );
  proxy = up.proxy;
  adaAgent = await signIn(proxy, sso, ada);
  bobAgent = await signIn(proxy, sso, bob);
});

test.after.always(async () => {
  await proxy?.stop();
  await relay?.close();
  await sso?.close();
  if (up?.bucket) await removeBucket(s3, up.bucket).catch(() => undefined);
  for (const dir of [keysDir, work]) if (dir) await rm(dir, { recursive: true, force: true });
});

interface PutAnswer {
  method: string;
  url: string;
  headers: Record<string, string>;
  key: string;
}

async function askPut(body: Record<string, unknown>, agent = adaAgent): Promise<PutAnswer> {
  const answer = await callJson(agent, proxy, 'POST', '/__s3proxy/uploads', body);
  if (answer.status !== 200) throw new Error(`POST /__s3proxy/uploads: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

interface Created {
  key: string;
  uploadId: string;
}

async function createUpload(body: Record<string, unknown>): Promise<Created> {
  const answer = await callJson(adaAgent, proxy, 'POST', '/__s3proxy/s3/multipart', body);
  if (answer.status !== 200) throw new Error(`create: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

const uploadPath = (upload: Created, tail = '', query: Record<string, string> = {}) =>
  `/__s3proxy/s3/multipart/${encodeURIComponent(upload.uploadId)}${tail}?${new URLSearchParams({ key: upload.key, ...query })}`;

async function partUrl(upload: Created, partNumber: number, query: Record<string, string> = {}): Promise<string> {
  const answer = await callJson(adaAgent, proxy, 'GET', uploadPath(upload, `/${partNumber}`, query));
  if (answer.status !== 200) throw new Error(`part ${partNumber}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.url;
}

/** The parts S3 holds for an upload, asked of S3 itself. */
async function partsAtS3(upload: Created): Promise<Array<{ PartNumber: number; Size: number }>> {
  const listed = await s3.send(new ListPartsCommand({ Bucket: up.bucket, Key: fullKey(upload.key), UploadId: upload.uploadId }));
  return (listed.Parts ?? []).map((p) => ({ PartNumber: p.PartNumber!, Size: p.Size! }));
}

interface Sent {
  status: number;
  etag: string | undefined;
  body: any;
}

/** A PUT of `body` (bytes, or chunks sent one by one with `gapMs` between them, chunked unless `headers` say a length). */
async function send(url: string, body: Uint8Array | Uint8Array[], headers: Record<string, string> = {}, gapMs = 0): Promise<Sent> {
  const chunks = Array.isArray(body) ? body : undefined;
  async function* slowly() {
    for (const [i, chunk] of chunks!.entries()) {
      if (i > 0 && gapMs > 0) await sleep(gapMs);
      yield chunk;
    }
  }
  // undici sends an async iterable as it comes (its types do not say so)
  const response = await request(url, { method: 'PUT', headers, body: chunks ? (slowly() as unknown as Readable) : (body as Uint8Array) });
  const text = await response.body.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: the test says so
  }
  const etag = response.headers.etag;
  return { status: response.statusCode, etag: Array.isArray(etag) ? etag[0] : etag, body: parsed };
}

// --- single PUT -----------------------------------------------------------------

test('a PUT URL points at the proxy; the bytes go through it to S3 with the declared type, MD5 and metadata, S3\'s ETag comes back, and the file downloads byte for byte', async (t) => {
  const data = patternBytes(3 * MiB + 5, 11);
  const answer = await askPut({ filename: 'report.bin', type: 'application/x-report', size: data.length, md5: md5(data), metadata: { project: 'apollo' } });
  t.true(answer.url.startsWith(`${proxy.url}/__s3proxy/data/`), answer.url);
  t.false(answer.url.includes(relay.url) || answer.url.includes(stack.endpoint.host), 'nothing in it points at S3');
  t.is(answer.key, `${adaFolder}report.bin`);
  // sent as a script sends it: exactly the headers handed out, no cookie
  const sent = await send(answer.url, data, answer.headers);
  t.is(sent.status, 200, JSON.stringify(sent.body));
  t.is(sent.etag, `"${md5Hex(data)}"`);
  const stored = await objectAtS3(s3, up.bucket, fullKey(answer.key));
  t.truthy(stored);
  t.true(stored!.body.equals(data));
  t.is(stored!.type, 'application/x-report');
  t.deepEqual(stored!.metadata, { project: 'apollo' });
  const downloaded = await download(adaAgent, proxy, answer.key);
  t.is(downloaded.status, 200);
  t.is(sha256(downloaded.body), sha256(data));
});

test('S3 checks the bound MD5 of a PUT through the proxy: other bytes are a 400 in JSON and nothing is stored', async (t) => {
  const data = Buffer.from('the bytes that were promised');
  const answer = await askPut({ filename: 'digest.txt', type: 'text/plain', size: data.length, md5: md5(data) });
  const other = Buffer.from('the bytes that were sent!!!!');
  t.is(other.length, data.length);
  const sent = await send(answer.url, other, { 'content-length': String(other.length) });
  t.is(sent.status, 400, JSON.stringify(sent.body));
  t.is(sent.body.error.code, 'bad_request');
  t.regex(sent.body.error.message, /md5/);
  t.false(JSON.stringify(sent.body).includes('BadDigest'), "S3's own words stay in the log");
  t.false(await existsAtS3(s3, up.bucket, fullKey(answer.key)));
});

test('S3 enforces If-None-Match through the proxy: a PUT URL used twice stores the first file and answers 409 to the second', async (t) => {
  const answer = await askPut({ filename: 'once.txt', type: 'text/plain', size: 5 });
  t.is((await send(answer.url, Buffer.from('first'))).status, 200);
  const again = await send(answer.url, Buffer.from('again'));
  t.is(again.status, 409, JSON.stringify(again.body));
  t.is(again.body.error.code, 'exists');
  t.is((await objectAtS3(s3, up.bucket, fullKey(answer.key)))!.body.toString(), 'first');
});

test('an empty file goes up through the proxy', async (t) => {
  const answer = await askPut({ filename: 'empty.txt', type: 'text/plain', size: 0 });
  const sent = await send(answer.url, Buffer.alloc(0));
  t.is(sent.status, 200, JSON.stringify(sent.body));
  const stored = await objectAtS3(s3, up.bucket, fullKey(answer.key));
  t.is(stored?.body.length, 0);
});

test('a Content-Length other than the declared size is refused before a byte goes to S3: longer is 413, shorter is 400', async (t) => {
  const answer = await askPut({ filename: 'length.txt', type: 'text/plain', size: 10 });
  const longer = await send(answer.url, Buffer.from('eleven byte'));
  t.is(longer.status, 413, JSON.stringify(longer.body));
  t.is(longer.body.error.code, 'too_large');
  const shorter = await send(answer.url, Buffer.from('nine byte'));
  t.is(shorter.status, 400, JSON.stringify(shorter.body));
  t.regex(shorter.body.error.message, /Content-Length: must be the declared size, 10 bytes/);
  t.false(await existsAtS3(s3, up.bucket, fullKey(answer.key)));
  // the same URL still takes the declared bytes
  t.is((await send(answer.url, Buffer.from('ten bytes!'))).status, 200);
});

test('a chunked PUT body is held to the declared size as it flows: one byte too many is cut off with 413 and S3 has no object; the exact size is stored', async (t) => {
  const answer = await askPut({ filename: 'flowing.bin', type: 'application/octet-stream', size: 1000 });
  // the declared size arrives first, then, a moment later, one byte more
  const long = await send(answer.url, [patternBytes(1000, 1), Buffer.from([7])], {}, 300);
  t.is(long.status, 413, JSON.stringify(long.body));
  t.regex(long.body.error.message, /nothing was stored/);
  const short = await send(answer.url, [patternBytes(600, 1), patternBytes(399, 2)], {}, 100);
  t.is(short.status, 400, JSON.stringify(short.body));
  t.false(await existsAtS3(s3, up.bucket, fullKey(answer.key)));
  const exact = patternBytes(1000, 3);
  const ok = await send(answer.url, [exact.subarray(0, 400), exact.subarray(400)], {}, 100);
  t.is(ok.status, 200, JSON.stringify(ok.body));
  t.true((await objectAtS3(s3, up.bucket, fullKey(answer.key)))!.body.equals(exact));
});

// --- who may use a URL -------------------------------------------------------------

test("the capability alone lets a client send (like a presigned URL); with a session it must be the owner's: bob's cookie on ada's URL is 403 and nothing is stored", async (t) => {
  const answer = await askPut({ filename: 'whose.txt', type: 'text/plain', size: 4 });
  const asBob = await bobAgent.request(answer.url, { method: 'PUT', navigation: false, headers: { 'content-type': 'text/plain' }, body: 'mine' });
  const bobBody = (await asBob.json()) as { error: { code: string } };
  t.is(asBob.status, 403);
  t.is(bobBody.error.code, 'not_owner');
  t.false(await existsAtS3(s3, up.bucket, fullKey(answer.key)));
  const line = await proxy.waitForLog((l) => l.msg === 'upload' && l.outcome === 'refused' && l.status === 403 && String(l.reason).includes('signed in as bob@example.org'));
  t.is(line.user, 'ada@example.org');
  const asAda = await adaAgent.request(answer.url, { method: 'PUT', navigation: false, headers: { 'content-type': 'text/plain' }, body: 'mine' });
  t.is(asAda.status, 200);
  t.is((await objectAtS3(s3, up.bucket, fullKey(answer.key)))!.body.toString(), 'mine');
});

test('a forged, altered, expired or foreign capability is 403 in JSON and reaches nothing at S3', async (t) => {
  const answer = await askPut({ filename: 'forged.txt', type: 'text/plain', size: 4 });
  const token = answer.url.slice(`${proxy.url}/__s3proxy/data/`.length);
  const flipped = token.slice(0, -3) + (token.at(-3) === 'A' ? 'B' : 'A') + token.slice(-2);
  const capability: Capability = { kind: 'put', owner: 'ada@example.org', key: `${adaFolder}forged.txt`, size: 4, type: 'text/plain' };
  // sealed with the proxy's own secret (SSO_CLIENT_SECRET here), but long expired
  const expired = await sealCapability(capabilityKey(sso.clientSecret), capability, 60, Date.now() - 3_600_000);
  // made with another secret: what a forger without it would have to do
  const foreign = await sealCapability(capabilityKey('not the secret of this proxy at all'), capability, 600);
  for (const [what, bad] of [
    ['altered', flipped],
    ['expired', expired],
    ['foreign', foreign],
    ['garbage', 'not-a-capability'],
  ] as const) {
    const sent = await send(`${proxy.url}/__s3proxy/data/${bad}`, Buffer.from('evil'));
    t.is(sent.status, 403, `${what}: ${JSON.stringify(sent.body)}`);
    t.is(sent.body.error.code, 'not_allowed', what);
  }
  t.false(await existsAtS3(s3, up.bucket, fullKey(capability.key)));
  // the control: the same capability, sealed with the proxy's secret and fresh, is taken
  const fresh = await sealCapability(capabilityKey(sso.clientSecret), capability, 60);
  t.is((await send(`${proxy.url}/__s3proxy/data/${fresh}`, Buffer.from('good'))).status, 200);
});

test('a PUT URL does not take a POST, and the capability never appears in the log', async (t) => {
  const answer = await askPut({ filename: 'method.txt', type: 'text/plain', size: 2 });
  const response = await fetch(answer.url, { method: 'POST', body: 'hi' });
  t.is(response.status, 405);
  t.is(response.headers.get('allow'), 'PUT');
  await response.arrayBuffer();
  const token = answer.url.slice(`${proxy.url}/__s3proxy/data/`.length);
  await proxy.waitForLog((l) => l.msg === 'request' && l.route === 'upload-data' && l.status === 405);
  t.false(proxy.stdout().includes(token));
  t.true(proxy.logs().some((l) => l.msg === 'request' && l.path === '/__s3proxy/data/…'));
});

// --- form POST (what Uppy sends for small files) --------------------------------------

test('the presigned POST route hands out a form URL of the proxy; a browser-style form posts the file through it to S3, with its declared type', async (t) => {
  const data = patternBytes(200_000, 4);
  const answer = await callJson(adaAgent, proxy, 'GET', '/__s3proxy/s3/params?filename=photo.png&type=image/png');
  t.is(answer.status, 200, JSON.stringify(answer.body));
  t.is(answer.body.method, 'POST');
  t.true(answer.body.url.startsWith(`${proxy.url}/__s3proxy/data/`), answer.body.url);
  const posted = await postForm(answer.body.url, answer.body.fields, data);
  t.is(posted.status, 201, await posted.clone().text());
  t.is(posted.headers.get('etag'), `"${md5Hex(data)}"`);
  const stored = await objectAtS3(s3, up.bucket, fullKey(answer.body.key));
  t.true(stored!.body.equals(data));
  t.is(stored!.type, 'image/png');
});

test('a form POST whose file is not the last field, or is larger than the limit, is refused and nothing is stored', async (t) => {
  const late = await callJson(adaAgent, proxy, 'GET', '/__s3proxy/s3/params?filename=late.txt&type=text/plain');
  const form = new FormData();
  form.set('file', new Blob([Buffer.from('early file')]), 'late.txt');
  form.set('after', 'a field after the file');
  const response = await fetch(late.body.url, { method: 'POST', body: form });
  t.is(response.status, 400, await response.clone().text());
  t.false(await existsAtS3(s3, up.bucket, fullKey(late.body.key)));

  const sized = await callJson(adaAgent, proxy, 'GET', '/__s3proxy/s3/params?filename=sized.txt&type=text/plain&size=5');
  const tooLong = await postForm(sized.body.url, sized.body.fields, Buffer.from('six by'));
  t.is(tooLong.status, 413, await tooLong.clone().text());
  t.false(await existsAtS3(s3, up.bucket, fullKey(sized.body.key)));
  t.is((await postForm(sized.body.url, sized.body.fields, Buffer.from('five!'))).status, 201);
});

/** What the socket has received until `done` says it is enough, or the proxy closes it. */
async function readUntil(socket: net.Socket, done: (text: string) => boolean): Promise<{ text: string; closed: boolean }> {
  let text = '';
  let closed = false;
  await new Promise<void>((resolve) => {
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (done(text)) finish();
    };
    const onEnd = () => {
      closed = true;
      finish();
    };
    const finish = () => {
      socket.off('data', onData).off('end', onEnd).off('close', onEnd).off('error', onEnd);
      resolve();
    };
    socket.on('data', onData).on('end', onEnd).on('close', onEnd).on('error', onEnd);
  });
  return { text, closed };
}

/**
 * Sends a request with `body` on a raw connection but holds its last `held` bytes back until
 * the proxy has answered; then sends them and a second request on the same
 * connection. The answer, and what became of the connection.
 */
async function refuseWhileSending(
  t: ExecutionContext,
  method: string,
  target: string,
  head: Record<string, string>,
  body: Buffer,
  held = 20,
): Promise<{ answer: string; keptOpen: boolean; next: string }> {
  const url = new URL(target, proxy.url);
  const socket = net.connect(Number(url.port), url.hostname);
  t.teardown(() => socket.destroy());
  // writing to a connection the proxy has closed fails (EPIPE, reset): keptOpen reports it
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  const lines = Object.entries({ host: url.host, ...head, 'content-length': String(body.length) }).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.write(`${method} ${url.pathname}${url.search} HTTP/1.1\r\n${lines.join('')}\r\n`);
  socket.write(body.subarray(0, body.length - held));
  const answer = await readUntil(socket, (text) => {
    const length = /\r\ncontent-length: (\d+)\r\n/i.exec(text);
    const bodyAt = text.indexOf('\r\n\r\n');
    return length !== null && bodyAt >= 0 && text.length - bodyAt - 4 >= Number(length[1]);
  });
  socket.write(body.subarray(body.length - held));
  await sleep(100);
  const keptOpen = !answer.closed && !socket.destroyed && !socket.readableEnded;
  if (!keptOpen) return { answer: answer.text, keptOpen, next: '' };
  socket.write(`GET /__s3proxy/s3/params HTTP/1.1\r\nhost: ${url.host}\r\n\r\n`);
  const next = await readUntil(socket, (text) => /^HTTP\/1\.1 \d{3} /.test(text));
  return { answer: answer.text, keptOpen, next: next.text };
}

test('a request refused while its client still sends a short body is answered, the rest is read, and the connection serves the next request', async (t) => {
  // a form whose file is a byte longer than declared, refused on seeing its head
  const sized = await callJson(adaAgent, proxy, 'GET', '/__s3proxy/s3/params?filename=still-sending.txt&type=text/plain&size=5');
  const form = new FormData();
  for (const [name, value] of Object.entries(sized.body.fields as Record<string, string>)) form.set(name, value);
  form.set('file', new Blob([Buffer.from('six by')]), 'file');
  const encoded = new Request('http://x/', { method: 'POST', body: form });
  const formBody = Buffer.from(await encoded.arrayBuffer());
  const tooLong = await refuseWhileSending(t, 'POST', sized.body.url, { 'content-type': encoded.headers.get('content-type')! }, formBody);
  t.regex(tooLong.answer, /^HTTP\/1\.1 413 /);
  // refused before reading: a forged upload URL, and a request for one without a session
  const forged = await refuseWhileSending(t, 'PUT', '/__s3proxy/data/not-a-capability', {}, patternBytes(64 * 1024, 3));
  t.regex(forged.answer, /^HTTP\/1\.1 403 /);
  const anonymous = await refuseWhileSending(t, 'POST', '/__s3proxy/uploads', { 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ filename: 'a.txt', pad: 'x'.repeat(4000) })));
  t.regex(anonymous.answer, /^HTTP\/1\.1 401 /);
  for (const [name, refused] of Object.entries({ tooLong, forged, anonymous })) {
    t.notRegex(refused.answer, /connection: close/i, name);
    t.true(refused.keptOpen, `${name}: the proxy kept the connection`);
    t.regex(refused.next, /^HTTP\/1\.1 401 /, `${name}: the next request was read and answered`);
  }
  t.false(await existsAtS3(s3, up.bucket, fullKey(sized.body.key)));
});

test('a request refused with more than 1 MiB of its body still to come is answered, then the connection is closed', async (t) => {
  const refused = await refuseWhileSending(t, 'PUT', '/__s3proxy/data/not-a-capability', {}, patternBytes(2 * MiB, 3), MiB + 1);
  // The answer goes out before the close; on a loaded machine the reset that
  // closing on unread bytes causes can overtake it (the cost of not reading them).
  if (refused.answer !== '') {
    t.regex(refused.answer, /^HTTP\/1\.1 403 /);
    t.regex(refused.answer, /connection: close/i);
  }
  t.false(refused.keptOpen);
});

// --- multipart ----------------------------------------------------------------------

test.serial('a multipart upload whose parts go through the proxy, four at a time, completes at S3 and downloads byte for byte', async (t) => {
  const data = patternBytes(16 * MiB + 123, 5);
  const partSize = 5 * MiB;
  const upload = await createUpload({ filename: 'parallel.bin', type: 'application/octet-stream', size: data.length });
  const numbers = [1, 2, 3, 4];
  const batch = await callJson(adaAgent, proxy, 'GET', uploadPath(upload, '/batch', { partNumbers: numbers.join(',') }));
  t.is(batch.status, 200);
  const sent = await Promise.all(
    numbers.map(async (n) => {
      const url = batch.body.presignedUrls[String(n)] as string;
      t.true(url.startsWith(`${proxy.url}/__s3proxy/data/`));
      const bytes = data.subarray((n - 1) * partSize, Math.min(n * partSize, data.length));
      // in pieces, so that the parts are in flight together
      const pieces = Array.from({ length: Math.ceil(bytes.length / MiB) }, (_, i) => bytes.subarray(i * MiB, (i + 1) * MiB));
      return { n, bytes, result: await send(url, pieces, { 'content-length': String(bytes.length) }, 50) };
    }),
  );
  for (const { n, bytes, result } of sent) {
    t.is(result.status, 200, `part ${n}: ${JSON.stringify(result.body)}`);
    t.is(result.etag, `"${md5Hex(bytes)}"`, `part ${n}`);
  }
  t.deepEqual((await partsAtS3(upload)).map((p) => p.PartNumber), numbers);
  const completed = await callJson(adaAgent, proxy, 'POST', uploadPath(upload, '/complete'), {
    parts: sent.map(({ n, result }) => ({ PartNumber: n, ETag: result.etag!.replace(/"/g, '') })),
  });
  t.is(completed.status, 200, JSON.stringify(completed.body));
  const head = await s3.send(new HeadObjectCommand({ Bucket: up.bucket, Key: fullKey(upload.key) }));
  t.is(head.ContentLength, data.length);
  t.regex(String(head.ETag), /-4"$/);
  const downloaded = await download(adaAgent, proxy, upload.key);
  t.is(sha256(downloaded.body), sha256(data));
});

test('a part body longer than its declared size is refused, by Content-Length at once and chunked as it flows, and S3 lists no such part', async (t) => {
  const upload = await createUpload({ filename: 'declared-parts.bin', type: 'application/octet-stream' });
  const url = await partUrl(upload, 1, { size: '1000' });
  const byLength = await send(url, patternBytes(1001, 1));
  t.is(byLength.status, 413, JSON.stringify(byLength.body));
  const flowing = await send(url, [patternBytes(1000, 1), Buffer.from([1])], {}, 300);
  t.is(flowing.status, 413, JSON.stringify(flowing.body));
  t.deepEqual(await partsAtS3(upload), [], 'S3 has no part 1');
  // the control: the declared size is taken, and S3 lists it
  t.is((await send(url, patternBytes(1000, 1))).status, 200);
  t.deepEqual(await partsAtS3(upload), [{ PartNumber: 1, Size: 1000 }]);
});

test('a part without a declared size needs a Content-Length, at most the upload\'s declared size', async (t) => {
  const upload = await createUpload({ filename: 'bounded-parts.bin', type: 'application/octet-stream', size: 2000 });
  const url = await partUrl(upload, 1);
  const tooLarge = await send(url, patternBytes(2001, 1));
  t.is(tooLarge.status, 413, JSON.stringify(tooLarge.body));
  const chunked = await send(url, [patternBytes(10, 1)]);
  t.is(chunked.status, 411, JSON.stringify(chunked.body));
  t.deepEqual(await partsAtS3(upload), []);
  t.is((await send(url, patternBytes(2000, 1))).status, 200);
});

/** A PUT over a raw socket that sends the headers and `bytes` of a `length`-byte body, then goes away. */
async function goAwayMidBody(url: string, length: number, bytes: number): Promise<void> {
  const target = new URL(url);
  const socket = net.connect(Number(target.port), target.hostname);
  await once(socket, 'connect');
  socket.on('error', () => undefined);
  socket.write(`PUT ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\nContent-Length: ${length}\r\n\r\n`);
  socket.write(patternBytes(bytes, 9));
  await sleep(700);
  socket.destroy();
}

test.serial('a client that goes away mid-part leaves no part at S3: the proxy drops its request to S3 at once, and the URL still works', async (t) => {
  const upload = await createUpload({ filename: 'abandoned.bin', type: 'application/octet-stream' });
  const url = await partUrl(upload, 1);
  const closedBefore = relay.closedByClient();
  await goAwayMidBody(url, 5 * MiB, 2 * MiB);
  // the proxy closes its connection to S3 (a request S3 was still reading), within moments
  const deadline = Date.now() + 3_000;
  while (relay.closedByClient() === closedBefore && Date.now() < deadline) await sleep(50);
  t.true(relay.closedByClient() > closedBefore, 'the proxy dropped its connection to S3');
  t.deepEqual(await partsAtS3(upload), []);
  await sleep(1_000);
  t.deepEqual(await partsAtS3(upload), [], 'and S3 did not make one later either');
  const line = await proxy.waitForLog((l) => l.msg === 'upload' && l.uploadId === upload.uploadId && l.outcome === 'refused');
  t.regex(String(line.reason), /client gone/);
  const data = patternBytes(5 * MiB, 9);
  t.is((await send(url, data)).status, 200);
  t.deepEqual(await partsAtS3(upload), [{ PartNumber: 1, Size: 5 * MiB }]);
});

test.serial('S3 failing mid-part (its connection cut) is a JSON 502 for the client, and the part sent again is stored', async (t) => {
  const upload = await createUpload({ filename: 'cut.bin', type: 'application/octet-stream' });
  const url = await partUrl(upload, 1);
  const data = patternBytes(6 * MiB, 12);
  const pieces = Array.from({ length: 6 }, (_, i) => data.subarray(i * MiB, (i + 1) * MiB));
  const cutting = (async () => {
    await sleep(400);
    relay.cutAll();
  })();
  const failed = await send(url, pieces, { 'content-length': String(data.length) }, 200);
  await cutting;
  t.is(failed.status, 502, JSON.stringify(failed.body));
  t.is(failed.body.error.code, 's3_error');
  t.regex(failed.body.error.message, /send them again/);
  t.deepEqual(await partsAtS3(upload), []);
  const again = await send(url, data);
  t.is(again.status, 200, JSON.stringify(again.body));
  t.is(again.etag, `"${md5Hex(data)}"`);
  t.deepEqual(await partsAtS3(upload), [{ PartNumber: 1, Size: data.length }]);
});

test.serial('S3 that stops taking the bytes mid-part is a JSON 504 after AWS_S3_RESPONSE_TIMEOUT, and the part sent again is stored', async (t) => {
  t.timeout(60_000);
  const upload = await createUpload({ filename: 'frozen.bin', type: 'application/octet-stream' });
  const url = await partUrl(upload, 1);
  const data = patternBytes(8 * MiB, 13);
  const pieces = Array.from({ length: 8 }, (_, i) => data.subarray(i * MiB, (i + 1) * MiB));
  const freezing = (async () => {
    await sleep(300);
    relay.freeze();
  })();
  const started = Date.now();
  const failed = await send(url, pieces, { 'content-length': String(data.length) }, 100);
  const seconds = (Date.now() - started) / 1000;
  await freezing;
  relay.thaw();
  t.is(failed.status, 504, JSON.stringify(failed.body));
  t.is(failed.body.error.code, 's3_error');
  t.true(seconds >= s3TimeoutSeconds, `answered after ${seconds} s`);
  const again = await send(url, data);
  t.is(again.status, 200, JSON.stringify(again.body));
  t.deepEqual(await partsAtS3(upload), [{ PartNumber: 1, Size: data.length }]);
});

// --- the command-line client and the page's policy ------------------------------------

test('the command-line client uploads in one PUT and in parallel parts through the proxy, and the files are at S3 byte for byte', async (t) => {
  t.timeout(90_000);
  const user = `cli-${randomBytes(3).toString('hex')}@example.org`;
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [cliJs, ...args], { cwd: work, env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
  const keygen = await run(['keygen', '--user', user]);
  t.is(keygen.code, 0, keygen.stderr);
  await copyFile(path.join(work, `${user}_public.pem`), path.join(keysDir, `${user}_public.pem`));
  const small = randomBytes(300_000);
  const large = randomBytes(17 * MiB);
  await writeFile(path.join(work, 'small.dat'), small);
  await writeFile(path.join(work, 'large.dat'), large);
  const uploaded = await run([
    'upload',
    '--url', proxy.url,
    '--user', user,
    '--private-key', path.join(work, `${user}_private.pem`),
    '--audience', 'https://assets.example.org',
    '--multipart-threshold', '8MiB',
    '--part-size', '5MiB',
    '--concurrency', '3',
    path.join(work, 'small.dat'),
    path.join(work, 'large.dat'),
  ]);
  t.is(uploaded.code, 0, uploaded.stderr);
  const folder = `uploads/${user}/`;
  t.true((await objectAtS3(s3, up.bucket, fullKey(folder + 'small.dat')))!.body.equals(small));
  const head = await s3.send(new HeadObjectCommand({ Bucket: up.bucket, Key: fullKey(folder + 'large.dat') }));
  t.regex(String(head.ETag), /-4"$/, 'four parts');
  t.is(sha256((await objectAtS3(s3, up.bucket, fullKey(folder + 'large.dat')))!.body), sha256(large));
  // the bytes came through the proxy's data path: one PUT and four parts, each a request there
  const through = (name: string) => proxy.logs().filter((l) => l.msg === 'request' && l.route === 'upload-data' && l.key === folder + name && l.status === 200).length;
  t.is(through('small.dat'), 1);
  t.is(through('large.dat'), 4);
});

test("in proxy mode a folder listing's CSP lets the page connect to the proxy's own origin only, and the bucket's CORS is not asked for", async (t) => {
  const response = await adaAgent.request(`${proxy.url}/`, { headers: { accept: 'text/html' } });
  t.is(response.status, 200);
  await response.text();
  const csp = response.headers.get('content-security-policy') ?? '';
  t.regex(csp, /connect-src 'self'(;|$)/, csp);
  t.false(csp.includes(relay.url) || csp.includes(stack.endpoint.host), csp);
  // this bucket has no CORS rule: direct mode would have warned at start-up
  t.deepEqual(proxy.logs().filter((l) => /CORS/.test(l.msg)).map((l) => l.msg), []);
});

// --- the same promises with UPLOAD_DATA_PATH=direct (S3 keeps them itself) --------------

test.serial('direct mode too: a client gone mid-part leaves no part, S3 cut mid-part is an error to the client, and the same part URL then works', async (t) => {
  const direct = await startUploadProxy(stack, sso, 'uploads-direct', {}, { bucket: up.bucket, extra: { AWS_S3_ENDPOINT: `${relay.url}/${up.bucket}/public/` } });
  t.teardown(() => direct.proxy.stop());
  const agent = await signIn(direct.proxy, sso, ada);
  const created = await callJson(agent, direct.proxy, 'POST', '/__s3proxy/s3/multipart', { filename: 'direct.bin', type: 'application/octet-stream' });
  t.is(created.status, 200);
  const upload = created.body as Created;
  const signed = await callJson(agent, direct.proxy, 'GET', uploadPath(upload, '/1'));
  const url = signed.body.url as string;
  t.true(url.startsWith(`${relay.url}/`), 'a presigned URL of S3 (here: of the relay in front of it)');
  await goAwayMidBody(url, 5 * MiB, 2 * MiB);
  await sleep(500);
  t.deepEqual(await partsAtS3(upload), []);
  const data = patternBytes(6 * MiB, 14);
  const pieces = Array.from({ length: 6 }, (_, i) => data.subarray(i * MiB, (i + 1) * MiB));
  const cutting = (async () => {
    await sleep(400);
    relay.cutAll();
  })();
  const failed = await send(url, pieces, { 'content-length': String(data.length) }, 200).then(
    (sent) => `answered ${sent.status}`,
    (error: Error) => `failed: ${error.message}`,
  );
  await cutting;
  t.regex(failed, /^failed: /, failed);
  t.deepEqual(await partsAtS3(upload), []);
  const again = await send(url, data);
  t.is(again.status, 200);
  t.is(again.etag, `"${md5Hex(data)}"`);
  t.deepEqual(await partsAtS3(upload), [{ PartNumber: 1, Size: data.length }]);
});
