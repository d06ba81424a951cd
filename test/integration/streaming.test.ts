// Streaming for real: backpressure reaches S3, a client that leaves cancels
// the S3 request, an S3 that fails mid-body breaks the client's transfer,
// and large downloads progress side by side. S3 is the real server; a TCP
// relay between proxy and S3 lets the tests watch and break the wire.
import test from 'ava';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv, oauth2Sso } from '../support/proxy-env.ts';
import { createBucket, patternBytes, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { startTcpRelay, type TcpRelay } from '../support/tcp-relay.ts';
import { signedInCookie } from '../support/user-agent.ts';
import { freePort } from '../support/free-port.ts';

const stack = s3Stack();
const size = 50 * 1024 * 1024;
const big = patternBytes(size, 11);
// Socket buffers on the way (S3 to proxy, proxy to client, both kernels and
// both processes' streams) hold some megabytes (about 14 MB measured here); a
// proxy that streams pulls no more than this from S3 while its client reads
// nothing, one that buffers pulls the whole object, twice as large.
const streamingWindow = 24 * 1024 * 1024;

let bucket: string;
let sso: OAuth2Sso;
let relay: TcpRelay;
let proxy: ProxyProcess;
let cookie: string;

test.before(async () => {
  bucket = await createBucket(stack, 'streaming');
  await putObject(stack, bucket, 'big.bin', big);
  await putObject(stack, bucket, 'small.txt', 'small', 'text/plain');
  sso = await startOAuth2Sso();
  relay = await startTcpRelay({ host: stack.endpoint.hostname, port: Number(stack.endpoint.port) });
  const env = proxyEnv(stack, {
    bucket,
    sso: oauth2Sso(sso),
    extra: { AWS_S3_RESPONSE_TIMEOUT: '1.5' },
  });
  env.AWS_S3_ENDPOINT = `${relay.url}/${bucket}/`;
  proxy = await startProxy(env);
  cookie = await signedInCookie(`${proxy.url}/small.txt`, proxy.url);
});

test.after.always(async () => {
  await proxy?.stop();
  await relay?.close();
  await sso?.close();
});

/** A raw GET whose body the test reads at its own pace. */
function get(path: string, headers: Record<string, string> = {}): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = http.get(`${proxy.url}${path}`, { headers: { cookie, ...headers }, agent: false }, resolve);
    request.on('error', reject);
  });
}

/** Polls `value` until it has not changed for half a second (at most 10 s), and returns it. */
async function settled(value: () => number): Promise<number> {
  let last = value();
  let stableSince = Date.now();
  for (const deadline = Date.now() + 10_000; Date.now() < deadline && Date.now() - stableSince < 500; ) {
    await sleep(50);
    const now = value();
    if (now !== last) {
      last = now;
      stableSince = Date.now();
    }
  }
  return last;
}

/** Reads until `bytes` have arrived, then pauses the stream (leaving the request open). */
function readAtLeast(response: http.IncomingMessage, bytes: number): Promise<number> {
  let received = 0;
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received >= bytes) {
        response.off('data', onData);
        response.pause();
        resolve(received);
      }
    };
    response.on('data', onData);
    response.once('error', reject);
  });
}

test.serial('a client that stops reading holds S3 back: the proxy pulls a bounded window, never the whole object', async (t) => {
  const before = relay.bytesToClient();
  const response = await get('/big.bin');
  t.is(response.statusCode, 200);
  // The client reads nothing past the headers (the test's own stream buffers
  // what Node reads ahead, a few kilobytes).
  response.pause();
  const hash = createHash('sha256');
  response.on('data', (chunk: Buffer) => hash.update(chunk));
  // Let every buffer between S3 and the client fill up: the count at the
  // relay stops growing once backpressure has reached S3.
  const pulled = await settled(() => relay.bytesToClient() - before);
  t.log(`S3 handed the proxy ${pulled} of ${size} bytes while the client read none`);
  t.true(pulled < streamingWindow, `S3 handed the proxy ${pulled} bytes while the client read none`);
  // and holding back lost nothing: the rest arrives whole
  await new Promise<void>((resolve, reject) => {
    response.once('end', resolve);
    response.once('error', reject);
    response.resume();
  });
  t.is(hash.digest('hex'), createHash('sha256').update(big).digest('hex'));
});

test.serial('a client that goes away cancels the S3 request at once', async (t) => {
  const before = relay.closedByClient();
  const response = await get('/big.bin', { 'x-request-id': 'abort-me' });
  await readAtLeast(response, 1024 * 1024);
  response.destroy();
  const line = await proxy.waitForLog((l) => l.msg === 'request' && l.requestId === 'abort-me', 5000);
  t.false(line.completed);
  t.true((line.bytesSent as number) < size);
  // the proxy closed its connection to S3: the relay saw it go
  for (let i = 0; i < 50 && relay.closedByClient() === before; i += 1) await sleep(20);
  t.true(relay.closedByClient() > before);
  // a client leaving is not S3 failing
  t.false(proxy.logs().some((l) => l.msg === 'S3 failed mid-body' && l.requestId === 'abort-me'));
});

test.serial('S3 failing mid-body breaks the transfer instead of ending it short', async (t) => {
  const response = await get('/big.bin');
  t.is(response.headers['content-length'], String(size));
  await readAtLeast(response, 2 * 1024 * 1024);
  relay.cutAll();
  const outcome = await new Promise<string>((resolve) => {
    response.on('error', () => resolve('error'));
    response.on('aborted', () => resolve('aborted'));
    response.on('end', () => resolve(response.complete ? 'complete' : 'incomplete'));
    response.resume();
  });
  t.not(outcome, 'complete');
  const warning = await proxy.waitForLog((l) => l.msg === 'S3 failed mid-body');
  t.is(warning.key, 'big.bin');
  // and the proxy goes on serving
  const again = await get('/small.txt');
  t.is(again.statusCode, 200);
  again.resume();
});

test.serial('two large downloads progress side by side', async (t) => {
  const expected = createHash('sha256').update(big).digest('hex');
  const hashOf = (response: http.IncomingMessage) =>
    new Promise<string>((resolve, reject) => {
      const hash = createHash('sha256');
      response.on('data', (chunk: Buffer) => hash.update(chunk));
      response.once('end', () => resolve(hash.digest('hex')));
      response.once('error', reject);
    });
  // A is held open mid-body while B runs from first byte to last: one large
  // download never waits for another.
  const a = await get('/big.bin');
  const aHash = createHash('sha256');
  a.on('data', (chunk: Buffer) => aHash.update(chunk));
  const aHead = await readAtLeast(a, 5 * 1024 * 1024);
  t.true(aHead < size, 'A is still mid-body');
  const b = await get('/big.bin');
  t.is(await hashOf(b), expected);
  t.false(a.complete, 'A was still open while B completed');
  await new Promise<void>((resolve, reject) => {
    a.once('end', resolve);
    a.once('error', reject);
    a.resume();
  });
  t.is(aHash.digest('hex'), expected);
});

test.serial('S3 silent past the timeout is a 504', async (t) => {
  relay.freeze();
  try {
    const started = Date.now();
    const response = await get('/small.txt');
    t.is(response.statusCode, 504);
    t.true(Date.now() - started < 5000);
    response.resume();
  } finally {
    relay.thaw();
    relay.cutAll();
  }
});

test('S3 unreachable is a 502', async (t) => {
  const closedPort = await freePort();
  const env = proxyEnv(stack, {
    bucket,
    sso: oauth2Sso(sso),
    healthcheckKey: 'small.txt',
  });
  env.AWS_S3_ENDPOINT = `http://127.0.0.1:${closedPort}/${bucket}/`;
  const unreachable = await startProxy(env);
  try {
    const response = await fetch(`${unreachable.url}/small.txt`);
    t.is(response.status, 502);
    t.false((await response.text()).includes('ECONNREFUSED'));
  } finally {
    await unreachable.stop();
  }
});
