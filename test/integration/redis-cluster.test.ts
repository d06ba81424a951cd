// Sessions in a real three-master Redis Cluster (scripts/redis-cluster-start.sh,
// in a state directory of this file's own), through ioredis's Cluster support:
// session keys spread over the slots of different masters, and downloads work.
// Also a real Sentinel (redis-server --sentinel) naming a private master.
import test from 'ava';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv, oauth2Sso } from '../support/proxy-env.ts';
import { createBucket, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { UserAgent } from '../support/user-agent.ts';
import { freePort } from '../support/free-port.ts';

const stack = s3Stack();
const run = promisify(execFile);
const scripts = fileURLToPath(new URL('../../scripts/', import.meta.url));

let stateDir: string;
let nodeUrls: string[];
let sso: OAuth2Sso;
let proxy: ProxyProcess;
let keyPrefix: string;
let bucket: string;
const children: ChildProcess[] = [];

test.before(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 's3proxy-redis-cluster-'));
  const { stdout } = await run('bash', [join(scripts, 'redis-cluster-start.sh'), stateDir], { timeout: 60_000 });
  nodeUrls = stdout.trim().split(',');
  bucket = await createBucket(stack, 'cluster');
  await putObject(stack, bucket, 'file.txt', 'from a cluster-backed proxy', 'text/plain');
  sso = await startOAuth2Sso();
  const env = proxyEnv(stack, {
    bucket,
    sso: oauth2Sso(sso),
    extra: {
      REDIS_USE_CLUSTER: 'true',
      // one seed node is enough: ioredis discovers the rest from it
      REDIS_CLUSTER_CONNECTION_URLS: nodeUrls[0]!,
    },
  });
  delete (env as Record<string, string | undefined>).REDIS_URL;
  keyPrefix = env.REDIS_KEY_PREFIX!;
  proxy = await startProxy(env);
});

test.after.always(async () => {
  for (const child of children) child.kill('SIGKILL');
  await proxy?.stop();
  await sso?.close();
  if (stateDir) {
    await run('bash', [join(scripts, 'redis-cluster-stop.sh'), stateDir], { timeout: 30_000 }).catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('sessions of twenty users land on more than one cluster master, and every user downloads', async (t) => {
  t.is(nodeUrls.length, 3);
  const users = Array.from({ length: 20 }, () => new UserAgent());
  for (const user of users) {
    const signedIn = await user.signInOAuth2(`${proxy.url}/file.txt`);
    t.is(signedIn.response.status, 200);
    t.is(await signedIn.response.text(), 'from a cluster-backed proxy');
  }
  for (const user of users) {
    const again = await user.request(`${proxy.url}/file.txt`);
    t.is(again.status, 200);
    await again.arrayBuffer();
  }

  const perNode: number[] = [];
  for (const url of nodeUrls) {
    const node = new Redis(url, { lazyConnect: true });
    try {
      await node.connect();
      // KEYS on a node lists only the keys of that node's own slots
      perNode.push((await node.keys(`${keyPrefix}session:*`)).length);
    } finally {
      node.disconnect();
    }
  }
  t.log(`session keys per master: ${perNode.join(', ')}`);
  t.is(perNode.reduce((sum, n) => sum + n, 0), users.length);
  t.true(perNode.filter((n) => n > 0).length >= 2, `keys per node: ${perNode.join(', ')}`);
});

async function redisAnswers(port: number): Promise<boolean> {
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null });
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

test('through Sentinel, the proxy finds the master by name and keeps sessions there', async (t) => {
  const masterPort = await freePort();
  const sentinelPort = await freePort();
  const dir = mkdtempSync(join(stateDir, 'sentinel-'));
  const master = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(masterPort), '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  children.push(master);
  const conf = join(dir, 'sentinel.conf');
  // Sentinel rewrites its configuration file, so it must be a file of its own
  writeFileSync(conf, `bind 127.0.0.1\nport ${sentinelPort}\ndir ${dir}\nsentinel monitor themaster 127.0.0.1 ${masterPort} 1\n`);
  const sentinel = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  children.push(sentinel);
  for (let i = 0; i < 100 && !((await redisAnswers(masterPort)) && (await redisAnswers(sentinelPort))); i += 1) await sleep(50);

  const env = proxyEnv(stack, {
    bucket,
    sso: oauth2Sso(sso),
    extra: {
      REDIS_USE_SENTINEL: 'true',
      REDIS_SENTINEL_MASTER_NAME: 'themaster',
      REDIS_SENTINEL_CONNECTION_URLS: `redis://127.0.0.1:${sentinelPort}`,
    },
  });
  delete (env as Record<string, string | undefined>).REDIS_URL;
  const viaSentinel = await startProxy(env);
  try {
    const user = new UserAgent();
    const signedIn = await user.signInOAuth2(`${viaSentinel.url}/file.txt`);
    t.is(signedIn.response.status, 200);
    t.is(await signedIn.response.text(), 'from a cluster-backed proxy');
    const direct = new Redis({ port: masterPort, host: '127.0.0.1' });
    try {
      t.is((await direct.keys(`${env.REDIS_KEY_PREFIX}session:*`)).length, 1);
    } finally {
      direct.disconnect();
    }
  } finally {
    await viaSentinel.stop();
    sentinel.kill('SIGKILL');
    master.kill('SIGKILL');
  }
});
