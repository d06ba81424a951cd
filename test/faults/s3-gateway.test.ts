// S3 itself failing, for real: the proxy's S3 is an endpoint of the test's
// own (test/support/killable-s3.ts) that is killed mid-download and frozen
// before it answers. With the Ceph stack that is a second radosgw process,
// SIGKILLed and SIGSTOPped; with any other S3 server a relay in front of it,
// killed and frozen at the relay. Each test's output says which. The shared
// S3 endpoint other test files use is not touched.
import test from 'ava';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv, oauth2Sso } from '../support/proxy-env.ts';
import { createBucket, patternBytes, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { signedInCookie } from '../support/user-agent.ts';
import { startKillableS3, type KillableS3 } from '../support/killable-s3.ts';

const stack = s3Stack();
const size = 50 * 1024 * 1024;
const big = patternBytes(size, 23);

let s3: KillableS3;
let bucket: string;
let sso: OAuth2Sso;
let proxy: ProxyProcess;
let cookie: string;

function get(path: string, headers: Record<string, string> = {}): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = http.get(`${proxy.url}${path}`, { headers: { cookie, ...headers }, agent: false }, resolve);
    request.on('error', reject);
  });
}

async function status(path: string): Promise<number> {
  const response = await get(path);
  response.resume();
  return response.statusCode ?? 0;
}

/** How a body ended: 'complete' only when every promised byte arrived. */
function outcomeOf(response: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    response.on('error', () => resolve('error'));
    response.on('aborted', () => resolve('aborted'));
    response.on('close', () => resolve(response.complete ? 'complete' : 'incomplete'));
    response.on('end', () => resolve(response.complete ? 'complete' : 'incomplete'));
    response.resume();
  });
}

test.before(async () => {
  bucket = await createBucket(stack, 'faults-s3');
  await putObject(stack, bucket, 'big.bin', big);
  await putObject(stack, bucket, 'small.txt', 'small', 'text/plain');
  s3 = await startKillableS3(stack);
  sso = await startOAuth2Sso();
  const env = proxyEnv(stack, {
    bucket,
    sso: oauth2Sso(sso),
    extra: { AWS_S3_RESPONSE_TIMEOUT: '2' },
  });
  env.AWS_S3_ENDPOINT = `${s3.url}/${bucket}/`;
  proxy = await startProxy(env);
  cookie = await signedInCookie(`${proxy.url}/small.txt`, proxy.url);
});

test.after.always(async () => {
  await proxy?.stop();
  await sso?.close();
  await s3?.close();
});

test.serial('S3 killed mid-download: a broken transfer, the proxy stays up, and recovers when S3 returns', async (t) => {
  t.timeout(90_000);
  t.log(`S3 here: ${s3.how}`);
  const response = await get('/big.bin', { 'x-request-id': 'killed-mid-body' });
  t.is(response.statusCode, 200);
  t.is(response.headers['content-length'], String(size));
  let received = 0;
  await new Promise<void>((resolve) => {
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received < 2 * 1024 * 1024) return;
      response.pause();
      response.off('data', onData);
      resolve();
    };
    response.on('data', onData);
  });
  await s3.kill();
  const outcome = await Promise.race([outcomeOf(response), sleep(30_000, 'timed out')]);

  t.not(outcome, 'complete');
  t.not(outcome, 'timed out');
  const line = await proxy.waitForLog((l) => l.msg === 'request' && l.requestId === 'killed-mid-body', 10_000);
  t.false(line.completed);
  t.true((line.bytesSent as number) < size);

  // S3 down: answered, not hung, and the proxy process is still there
  const started = Date.now();
  t.is(await status('/small.txt'), 502);
  t.true(Date.now() - started < 5_000);
  t.is(proxy.child.exitCode, null);

  // back on the same port: no proxy restart needed
  await s3.restart();
  let recovered = 0;
  for (let i = 0; i < 50 && recovered !== 200; i += 1) {
    recovered = await status('/small.txt');
    if (recovered !== 200) await sleep(100);
  }
  t.is(recovered, 200);
  const whole = await get('/big.bin');
  const hash = createHash('sha256');
  for await (const chunk of whole) hash.update(chunk as Buffer);
  t.is(hash.digest('hex'), createHash('sha256').update(big).digest('hex'));
});

test.serial('S3 stopped before answering: 504 within the configured timeout, and service after it resumes', async (t) => {
  t.timeout(60_000);
  t.log(`S3 here: ${s3.how}`);
  t.is(await status('/small.txt'), 200);
  s3.freeze();
  try {
    const started = Date.now();
    const code = await status('/small.txt');
    const elapsed = Date.now() - started;
    t.is(code, 504);
    // AWS_S3_RESPONSE_TIMEOUT=2: not before it, and not long after (a shared, busy machine)
    t.true(elapsed >= 1_900, `answered after ${elapsed} ms`);
    t.true(elapsed < 8_000, `answered after ${elapsed} ms`);
  } finally {
    s3.thaw();
  }
  let resumed = 0;
  for (let i = 0; i < 50 && resumed !== 200; i += 1) {
    resumed = await status('/small.txt');
    if (resumed !== 200) await sleep(100);
  }
  t.is(resumed, 200);
  t.is(proxy.child.exitCode, null);
});
