// An anonymous flood cannot fill Redis: a visitor who has not come back from
// SSO costs Redis nothing, because the login state travels in a sealed
// cookie. And the cookies do not pile up in a browser either: at most ten
// flows at once, the oldest dropped.
//
// The flood runs against a Redis of its own, so that its key count, memory
// and command counters move only for this proxy. Nothing here reaches S3
// (every request stops at the way to SSO or at the callback), so the proxy
// is pointed at a bucket that need not exist.
import test from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { oauth2Sso, proxyEnv } from '../support/proxy-env.ts';
import { s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { freePort } from '../support/free-port.ts';
import { untilSubscribed } from '../support/invalidation-subscribers.ts';
import { navigationHeaders, UserAgent } from '../support/user-agent.ts';

const stack = s3Stack();
const callbackPath = '/__redirect_from_sso';
const cookieName = 'assets_session_id';

const bucket = 'login-flood-never-read';
let sso: OAuth2Sso;

test.before(async () => {
  sso = await startOAuth2Sso();
});

test.after.always(async () => {
  await sso?.close();
});

/** A throwaway redis-server of the test's own. */
async function privateRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  probe.on('error', () => {}); // refused until the server listens
  for (let attempt = 0; ; attempt += 1) {
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch (error) {
      if (attempt > 100) throw error;
      await sleep(50);
    }
  }
  probe.disconnect();
  return {
    url,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    },
  };
}

/** Calls per command since start-up, from INFO commandstats. */
async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const match of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1]!, Number(match[2]));
  return calls;
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))![1]);
}

test('20,000 anonymous navigations leave Redis as it was: no key, no write, no memory', async (t) => {
  const redisServer = await privateRedis();
  t.teardown(() => redisServer.stop());
  const env = proxyEnv(stack, { bucket, sso: oauth2Sso(sso), redisUrl: redisServer.url });
  const proxy = await startProxy(env);
  t.teardown(() => proxy.stop());
  const redis = new Redis(redisServer.url);
  t.teardown(() => redis.disconnect());

  // its start-up commands (the invalidation subscriber's) are done before the count starts
  t.true(await untilSubscribed(redis, 1), 'the proxy subscribed to invalidations');
  const keysBefore = await redis.dbsize();
  const memoryBefore = await usedMemory(redis);
  const callsBefore = await commandCalls(redis);

  const pool = new Pool(proxy.url, { connections: 8 });
  t.teardown(() => pool.close());
  const total = 20_000;
  let sent = 0;
  let redirectedWithState = 0;
  const started = Date.now();
  const worker = async () => {
    while (sent < total) {
      const i = sent++;
      const response = await pool.request({ path: `/file.txt?n=${i}`, method: 'GET', headers: navigationHeaders() });
      const setCookie = ([] as string[]).concat(response.headers['set-cookie'] ?? []);
      if (response.statusCode === 302 && setCookie.some((line) => line.startsWith(`${cookieName}_login_`))) redirectedWithState += 1;
      await response.body.dump();
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  const seconds = (Date.now() - started) / 1000;
  t.is(redirectedWithState, total, 'every navigation was sent to SSO with a login state of its own');

  const keysAfter = await redis.dbsize();
  const memoryAfter = await usedMemory(redis);
  const callsAfter = await commandCalls(redis);
  // INFO and DBSIZE are this test's own.
  const commandsRun = [...callsAfter].filter(([name, calls]) => name !== 'info' && name !== 'dbsize' && calls !== (callsBefore.get(name) ?? 0));
  t.log(`${total} navigations in ${seconds.toFixed(1)} s; DBSIZE ${keysBefore} -> ${keysAfter}; used_memory ${memoryBefore} -> ${memoryAfter} bytes`);
  t.is(keysAfter, keysBefore, 'DBSIZE unchanged');
  t.deepEqual(commandsRun, [], 'the proxy sent Redis no command at all');
  // Allocator noise only: 20,000 stored states of a few hundred bytes each would be megabytes.
  t.true(memoryAfter - memoryBefore < 64 * 1024, `used_memory grew by ${memoryAfter - memoryBefore} bytes`);
});

/** A navigation by `ua`, its Set-Cookie kept in the jar: the flow's way to SSO. */
async function navigate(ua: UserAgent, proxy: ProxyProcess, path: string): Promise<URL> {
  const response = await ua.request(`${proxy.url}${path}`);
  await response.arrayBuffer();
  if (response.status !== 302) throw new Error(`expected a redirect to SSO, got ${response.status}`);
  return new URL(response.headers.get('location')!);
}

const stateOf = (authorize: URL): string => authorize.searchParams.get('state')!;

/** SSO approves the flow; the proxy's answer at the callback. */
async function finish(ua: UserAgent, authorize: URL): Promise<Response> {
  const approved = await ua.follow(authorize, {}, { stopAt: (url) => url.pathname === callbackPath });
  await approved.response.arrayBuffer();
  return ua.request(approved.chain.at(-1)!.location!);
}

async function liveLoginCookies(ua: UserAgent, proxy: ProxyProcess): Promise<Array<{ name: string; bytes: number }>> {
  const cookies = await ua.jar.getCookies(`${proxy.url}${callbackPath}`);
  return cookies.filter((cookie) => cookie.key.startsWith(`${cookieName}_login_`)).map((cookie) => ({ name: cookie.key, bytes: cookie.key.length + 1 + cookie.value.length }));
}

test('a browser holds at most ten login cookies: each sign-in beyond ten drops the oldest, and the newest still signs in', async (t) => {
  const proxy = await startProxy(proxyEnv(stack, { bucket, sso: oauth2Sso(sso) }));
  t.teardown(() => proxy.stop());
  const ua = new UserAgent();
  const flows: URL[] = [];
  for (let i = 0; i < 12; i += 1) {
    flows.push(await navigate(ua, proxy, `/file.txt?tab=${i}`));
    const live = await liveLoginCookies(ua, proxy);
    t.is(live.length, Math.min(i + 1, 10), `after ${i + 1} sign-ins`);
  }
  const names = (await liveLoginCookies(ua, proxy)).map((cookie) => cookie.name).sort();
  t.deepEqual(names, flows.slice(2).map((flow) => `${cookieName}_login_${stateOf(flow).slice(0, 16)}`).sort(), 'the two oldest went');

  // The oldest flow's cookie is gone: its callback is refused; the newest signs in.
  const oldest = await ua.request(`${proxy.url}${callbackPath}?code=whatever&state=${stateOf(flows[0]!)}`);
  t.is(oldest.status, 403);
  await oldest.arrayBuffer();
  const response = await finish(ua, flows[11]!);
  t.is(response.status, 302);
  t.is(response.headers.get('location'), `${proxy.url}/file.txt?tab=11`);
});

test('long return URLs: the login cookies a callback receives stay within 8 KiB together', async (t) => {
  const proxy = await startProxy(proxyEnv(stack, { bucket, sso: oauth2Sso(sso) }));
  t.teardown(() => proxy.stop());
  const ua = new UserAgent();
  const path = (i: number) => `/file.txt?tab=${i}&pad=${'x'.repeat(2500)}`;
  let newest: URL | undefined;
  for (let i = 0; i < 6; i += 1) {
    newest = await navigate(ua, proxy, path(i));
    const live = await liveLoginCookies(ua, proxy);
    const bytes = live.reduce((sum, cookie) => sum + cookie.bytes, 0);
    t.true(bytes <= 8192, `after ${i + 1} sign-ins: ${live.length} cookies, ${bytes} bytes`);
    t.true(live.length >= 2 || i === 0, `more than one long sign-in fits: ${live.length}`);
  }
  // The newest comes back to its URL, whole.
  const response = await finish(ua, newest!);
  t.is(response.status, 302);
  t.is(response.headers.get('location'), `${proxy.url}${path(5)}`);
});
