// S3 itself failing, for real: an extra radosgw process of the test Ceph
// cluster (scripts/rgw-gateway.sh) is the proxy's S3, and the tests SIGKILL
// and SIGSTOP it. The shared gateway other test files use is not touched.
import test from 'ava';
import http from 'node:http';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv, oauth2Sso } from '../support/proxy-env.ts';
import { createBucket, patternBytes, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { signedInCookie } from '../support/user-agent.ts';

const stack = s3Stack();
const size = 50 * 1024 * 1024;
const big = patternBytes(size, 23);
const gatewayScript = fileURLToPath(new URL('../../scripts/rgw-gateway.sh', import.meta.url));
const run = promisify(execFile);
// Only a Ceph test stack can start a second gateway (S3_TEST_CEPH_CONF comes from rgw-start.sh).
const withGateway = process.env.S3_TEST_CEPH_CONF ? test.serial : test.serial.skip;

let stateDir: string;
let gatewayPort: number;
let gatewayPid: number;
let bucket: string;
let sso: OAuth2Sso;
let proxy: ProxyProcess;
let cookie: string;

async function startGateway(port?: number): Promise<void> {
  const args = [gatewayScript, 'start', stateDir, ...(port === undefined ? [] : [String(port)])];
  const { stdout } = await run('bash', args, { timeout: 60_000 });
  const [p, pid] = stdout.trim().split(' ').map(Number);
  gatewayPort = p!;
  gatewayPid = pid!;
}

function signal(sig: NodeJS.Signals): void {
  try {
    process.kill(gatewayPid, sig);
  } catch {
    // already gone
  }
}

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
  if (!process.env.S3_TEST_CEPH_CONF) return;
  stateDir = mkdtempSync(join(tmpdir(), 's3proxy-gateway-'));
  bucket = await createBucket(stack, 'faults-s3');
  await putObject(stack, bucket, 'big.bin', big);
  await putObject(stack, bucket, 'small.txt', 'small', 'text/plain');
  await startGateway();
  sso = await startOAuth2Sso();
  const env = proxyEnv(stack, {
    bucket,
    sso: oauth2Sso(sso),
    extra: { AWS_S3_RESPONSE_TIMEOUT: '2' },
  });
  env.AWS_S3_ENDPOINT = `http://127.0.0.1:${gatewayPort}/${bucket}/`;
  proxy = await startProxy(env);
  cookie = await signedInCookie(`${proxy.url}/small.txt`, proxy.url);
});

test.after.always(async () => {
  if (gatewayPid) signal('SIGCONT');
  await proxy?.stop();
  await sso?.close();
  if (stateDir) {
    await run('bash', [gatewayScript, 'stop', stateDir], { timeout: 30_000 }).catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
  }
});

withGateway('S3 killed mid-download: a broken transfer, the proxy stays up, and recovers when S3 returns', async (t) => {
  t.timeout(90_000);
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
  // SIGKILL through the script, which also releases the dead gateway's
  // watches so the shared gateway is not held up by them
  await run('bash', [gatewayScript, 'kill', stateDir], { timeout: 30_000 });
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
  await startGateway(gatewayPort);
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

withGateway('S3 stopped before answering: 504 within the configured timeout, and service after it resumes', async (t) => {
  t.timeout(60_000);
  t.is(await status('/small.txt'), 200);
  signal('SIGSTOP');
  try {
    const started = Date.now();
    const code = await status('/small.txt');
    const elapsed = Date.now() - started;
    t.is(code, 504);
    // AWS_S3_RESPONSE_TIMEOUT=2: not before it, and not long after (a shared, busy machine)
    t.true(elapsed >= 1_900, `answered after ${elapsed} ms`);
    t.true(elapsed < 8_000, `answered after ${elapsed} ms`);
  } finally {
    signal('SIGCONT');
  }
  let resumed = 0;
  for (let i = 0; i < 50 && resumed !== 200; i += 1) {
    resumed = await status('/small.txt');
    if (resumed !== 200) await sleep(100);
  }
  t.is(resumed, 200);
  t.is(proxy.child.exitCode, null);
});
