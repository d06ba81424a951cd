// The sessions' memory and its invalidation across instances on a real
// three-master Redis Cluster (scripts/redis-cluster-start.sh) and through a
// real Sentinel: the subscriber of each instance hears a sign-out made on the
// other at once, whichever master it listens on.
import test, { type ExecutionContext } from 'ava';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv, oauth2Sso } from '../support/proxy-env.ts';
import { createBucket, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { UserAgent } from '../support/user-agent.ts';
import { freePort } from '../support/free-port.ts';
import { countSessionReads } from '../support/redis-monitor.ts';

const stack = s3Stack();
const run = promisify(execFile);
const scripts = fileURLToPath(new URL('../../scripts/', import.meta.url));

let stateDir: string;
let nodeUrls: string[];
let bucket: string;
let sso: OAuth2Sso;

test.before(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 's3proxy-session-cache-cluster-'));
  const { stdout } = await run('bash', [join(scripts, 'redis-cluster-start.sh'), stateDir], { timeout: 60_000 });
  nodeUrls = stdout.trim().split(',');
  bucket = await createBucket(stack, 'cache-cluster');
  await putObject(stack, bucket, 'file.txt', 'the file', 'text/plain');
  sso = await startOAuth2Sso();
});

test.after.always(async () => {
  await sso?.close();
  if (stateDir) {
    await run('bash', [join(scripts, 'redis-cluster-stop.sh'), stateDir], { timeout: 30_000 }).catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
  }
});

async function statusOf(user: UserAgent, proxy: ProxyProcess): Promise<number> {
  const response = await user.request(`${proxy.url}/file.txt`, { navigation: false, headers: { 'sec-fetch-mode': 'cors', 'sec-fetch-site': 'same-origin' } });
  await response.arrayBuffer();
  return response.status;
}

async function signOutOnOneRefusedOnTheOther(t: ExecutionContext, env: Record<string, string>, redisUrls: string[]): Promise<void> {
  const [a, b] = await Promise.all([startProxy(env), startProxy(env)]);
  t.teardown(() => Promise.all([a.stop(), b.stop()]));
  const reads = await countSessionReads(t, redisUrls, env.REDIS_KEY_PREFIX!);
  const user = new UserAgent();
  const signedIn = await user.signInOAuth2(`${a.url}/file.txt`);
  t.is(signedIn.response.status, 200);
  await signedIn.response.arrayBuffer();

  const before = reads();
  const filledAt = performance.now();
  t.is(await statusOf(user, b), 200);
  t.is(await statusOf(user, b), 200);
  t.is(reads(), before + 1, 'B read Redis once, then answered from memory');

  const cookie = (await user.jar.getCookieString(b.url))!;
  const signedOut = await user.request(`${a.url}/__s3proxy/logout`, { method: 'POST', navigation: true, fetchSite: 'same-origin', headers: { origin: a.url } });
  t.is(signedOut.status, 303);
  await signedOut.arrayBuffer();
  // the old cookie, replayed
  const replayed = await fetch(`${b.url}/file.txt`, { headers: { cookie } });
  t.is(replayed.status, 401);
  await replayed.arrayBuffer();
  t.true(performance.now() - filledAt < 1_000, 'fast enough to prove the memory was told');
}

test.serial('on a Redis Cluster, a sign-out on one instance is refused at once on another that just served the session from memory', async (t) => {
  const env = proxyEnv(stack, {
    bucket,
    sso: oauth2Sso(sso),
    extra: { REDIS_USE_CLUSTER: 'true', REDIS_CLUSTER_CONNECTION_URLS: nodeUrls[0]! },
  });
  delete (env as Record<string, string | undefined>).REDIS_URL;
  await signOutOnOneRefusedOnTheOther(t, env, nodeUrls);
});

test.serial('through Sentinel, a sign-out on one instance is refused at once on another that just served the session from memory', async (t) => {
  const masterPort = await freePort();
  const sentinelPort = await freePort();
  const dir = mkdtempSync(join(stateDir, 'sentinel-'));
  const master = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(masterPort), '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  t.teardown(() => master.kill('SIGKILL'));
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(conf, `bind 127.0.0.1\nport ${sentinelPort}\ndir ${dir}\nsentinel monitor themaster 127.0.0.1 ${masterPort} 1\n`);
  const sentinel = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  t.teardown(() => sentinel.kill('SIGKILL'));
  for (let i = 0; i < 100; i += 1) {
    const up = await Promise.all([masterPort, sentinelPort].map(async (port) => {
      const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null });
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        probe.disconnect();
      }
    }));
    if (up.every(Boolean)) break;
    await sleep(50);
  }
  const env = proxyEnv(stack, {
    bucket,
    sso: oauth2Sso(sso),
    extra: { REDIS_USE_SENTINEL: 'true', REDIS_SENTINEL_MASTER_NAME: 'themaster', REDIS_SENTINEL_CONNECTION_URLS: `redis://127.0.0.1:${sentinelPort}` },
  });
  delete (env as Record<string, string | undefined>).REDIS_URL;
  await signOutOnOneRefusedOnTheOther(t, env, [`redis://127.0.0.1:${masterPort}`]);
});
