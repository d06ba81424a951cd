// Redis going away and coming back, with a redis-server of this file's own
// (the shared one must stay up for everyone else). While it is away, anything
// needing a session answers 503 at once - never a redirect to SSO, never the
// object - and the healthcheck, which needs no Redis, is still served. When
// it returns, service resumes without restarting the proxy.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv, oauth2Sso } from '../support/proxy-env.ts';
import { createBucket, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { freePort } from '../support/free-port.ts';
import { startOwnRedis, type OwnRedis } from '../support/redis-server.ts';
import { UserAgent } from '../support/user-agent.ts';

const stack = s3Stack();

let bucket: string;
let sso: OAuth2Sso;
let proxy: ProxyProcess;
let redisPort: number;
let redisServer: OwnRedis | undefined;

async function killRedis(): Promise<void> {
  const server = redisServer;
  redisServer = undefined;
  await server?.kill();
}


test.before(async () => {
  bucket = await createBucket(stack, 'redis-outage');
  await putObject(stack, bucket, 'file.txt', 'content of file.txt', 'text/plain');
  await putObject(stack, bucket, 'health.txt', 'ok', 'text/plain');
  redisPort = await freePort();
  redisServer = await startOwnRedis(redisPort);
  sso = await startOAuth2Sso();
  proxy = await startProxy(
    proxyEnv(stack, {
      bucket,
      sso: oauth2Sso(sso),
      healthcheckKey: 'health.txt',
      redisUrl: `redis://127.0.0.1:${redisPort}`,
    }),
  );
});

test.after.always(async () => {
  await proxy?.stop();
  await sso?.close();
  await killRedis();
});

async function signIn(ua: UserAgent): Promise<void> {
  const result = await ua.signInOAuth2(`${proxy.url}/file.txt`);
  if (result.response.status !== 200) throw new Error(`sign-in failed: ${result.response.status}`);
  await result.response.arrayBuffer();
}

interface Outcome {
  status: number;
  location: string | null;
  retryAfter: string | null;
  body: string;
  ms: number;
}

async function get(ua: UserAgent, path: string, navigation = true): Promise<Outcome> {
  const started = Date.now();
  // a script says it is one (a client without fetch metadata counts as a navigation)
  const response = await ua.request(`${proxy.url}${path}`, navigation ? {} : { navigation, headers: { 'sec-fetch-mode': 'cors' } });
  const body = await response.text();
  return {
    status: response.status,
    location: response.headers.get('location'),
    retryAfter: response.headers.get('retry-after'),
    body,
    ms: Date.now() - started,
  };
}

/** Polls until `check` holds, for up to `ms`. */
async function eventually(check: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(200);
  }
  return false;
}

test.serial('a frozen Redis answers 503 within the command timeout, and sessions made before are valid once it thaws', async (t) => {
  const signedIn = new UserAgent();
  await signIn(signedIn);
  const stranger = new UserAgent();
  // past the second a looked-up session may answer from memory (nothing tells of a frozen Redis)
  await sleep(1_100);

  // SIGSTOP keeps Redis's memory (and the open connection): what a hung server looks like.
  redisServer!.freeze();
  try {
    const [withSession, withoutSession, script, health] = await Promise.all([
      get(signedIn, '/file.txt'),
      get(stranger, '/file.txt'),
      get(signedIn, '/file.txt', false),
      get(stranger, '/health.txt'),
    ]);
    // Starting a sign-in needs no Redis (the login state is a sealed cookie).
    t.is(withoutSession.status, 302, 'a stranger is still sent to SSO');
    for (const [name, outcome] of Object.entries({ withSession, script })) {
      t.is(outcome.status, 503, name);
      t.is(outcome.location, null, name);
      t.is(outcome.retryAfter, '1', name);
      t.false(outcome.body.includes('content of'), name);
      // The command timeout is 2 s; a loaded machine gets some slack.
      t.true(outcome.ms < 6_000, `${name} took ${outcome.ms} ms`);
    }
    t.is(health.status, 200);
    t.is(health.body, 'ok');
  } finally {
    redisServer!.thaw();
  }

  t.true(
    await eventually(async () => (await get(signedIn, '/file.txt')).status === 200),
    'the session made before the freeze works again',
  );
  const after = await get(signedIn, '/file.txt');
  t.is(after.status, 200);
  t.is(after.body, 'content of file.txt');
});

test.serial('a Redis that dies answers 503 at once, and a restarted one serves new sign-ins without restarting the proxy', async (t) => {
  const before = new UserAgent();
  await signIn(before);
  // Past the second a looked-up session may answer from memory: the proxy
  // learns of the death from its connections closing, and a request that
  // comes first could be answered from memory (CI once saw a 200 here).
  await sleep(1_100);

  await killRedis();
  const stranger = new UserAgent();
  const [withSession, withoutSession, health] = await Promise.all([
    get(before, '/file.txt'),
    get(stranger, '/file.txt'),
    get(stranger, '/health.txt'),
  ]);
  // Starting a sign-in needs no Redis (the login state is a sealed cookie).
  t.is(withoutSession.status, 302, 'a stranger is still sent to SSO');
  for (const [name, outcome] of Object.entries({ withSession })) {
    t.is(outcome.status, 503, name);
    t.is(outcome.location, null, name);
    t.false(outcome.body.includes('content of'), name);
    t.true(outcome.ms < 3_000, `${name} took ${outcome.ms} ms: refused connections fail fast`);
  }
  t.is(health.status, 200);
  t.is(health.body, 'ok');
  await proxy.waitForLog((line) => line.msg === 'redis connection lost');

  // Same port, empty memory (--save ''): the old session is gone with it.
  redisServer = await startOwnRedis(redisPort);
  t.true(
    await eventually(async () => (await get(stranger, '/file.txt')).status === 302),
    'sign-in starts again by itself',
  );
  await proxy.waitForLog((line) => line.msg === 'redis connection restored');
  const fresh = new UserAgent();
  const result = await fresh.signInOAuth2(`${proxy.url}/file.txt`);
  t.is(result.response.status, 200);
  t.is(await result.response.text(), 'content of file.txt');

  const old = await get(before, '/file.txt', false);
  t.is(old.status, 401, 'the session did not survive a restart without persistence');
});
