// Two proxy instances on one Redis, each answering a session from its memory
// for up to a second: whatever ends a session on one instance (a sign-out, a
// token SSO revoked, a back-channel logout), or a flush of Redis, is refused
// at once on the other, even right after it served that session from memory;
// so is a record deleted by hand or expiring (Redis's client tracking).
// Redis reads are counted at Redis itself (MONITOR). One test at a time:
// they share the SSO server and are timed against the one-second memory.
import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { importJWK, SignJWT } from 'jose';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv, oauth2Sso } from '../support/proxy-env.ts';
import { createBucket, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { startOidcIssuer } from '../support/oidc-issuer.ts';
import { startOwnRedis } from '../support/redis-server.ts';
import { freePort } from '../support/free-port.ts';
import { proxySubscribers, untilSubscribed } from '../support/invalidation-subscribers.ts';
import { countSessionReads } from '../support/redis-monitor.ts';
import { UserAgent } from '../support/user-agent.ts';

const stack = s3Stack();
const cacheMs = 1_000;

let bucket: string;
let sso: OAuth2Sso;

test.before(async () => {
  bucket = await createBucket(stack, 'session-cache');
  await putObject(stack, bucket, 'file.txt', 'the file', 'text/plain');
  sso = await startOAuth2Sso();
});
test.after.always(async () => {
  await sso?.close();
});

async function twoInstances(t: ExecutionContext, { redisUrl = stack.redisUrl, a = {}, b = {} }: { redisUrl?: string; a?: Record<string, string>; b?: Record<string, string> } = {}) {
  const env = proxyEnv(stack, { bucket, sso: oauth2Sso(sso), redisUrl });
  const [first, second] = await Promise.all([startProxy({ ...env, ...a }), startProxy({ ...env, ...b })]);
  t.teardown(() => Promise.all([first.stop(), second.stop()]));
  return { a: first, b: second, prefix: env.REDIS_KEY_PREFIX! };
}

async function signIn(t: ExecutionContext, proxy: ProxyProcess): Promise<UserAgent> {
  const user = new UserAgent();
  const result = await user.signInOAuth2(`${proxy.url}/file.txt`);
  t.is(result.response.status, 200);
  await result.response.arrayBuffer();
  return user;
}

/** asked as a page's script would (no sign-in starts): 200 with a session, 401 without */
async function statusOf(user: UserAgent, proxy: ProxyProcess): Promise<number> {
  const response = await user.request(`${proxy.url}/file.txt`, { navigation: false, headers: { 'sec-fetch-mode': 'cors', 'sec-fetch-site': 'same-origin' } });
  await response.arrayBuffer();
  return response.status;
}

/**
 * B serves the session once from Redis and once from memory (proved by the
 * reads Redis saw); returns when memory was filled.
 */
async function servedFromMemory(t: ExecutionContext, user: UserAgent, b: ProxyProcess, reads: () => number): Promise<number> {
  // whatever the sign-in left in memory is gone by then
  await sleep(cacheMs + 50);
  const before = reads();
  const filledAt = performance.now();
  t.is(await statusOf(user, b), 200);
  t.is(reads(), before + 1, 'the first request read Redis');
  t.is(await statusOf(user, b), 200);
  t.is(reads(), before + 1, 'the second was answered from memory');
  return filledAt;
}

/** The claim is only proved while B's memory would still have answered. */
function withinCacheTime(t: ExecutionContext, filledAt: number): void {
  const elapsed = performance.now() - filledAt;
  t.true(elapsed < cacheMs, `refused ${Math.round(elapsed)} ms after B filled its memory: too slow to prove it was not just expiry`);
}

test.serial('a session answers from an instance memory for up to a second, then from Redis again', async (t) => {
  const { a, b, prefix } = await twoInstances(t);
  const reads = await countSessionReads(t, [stack.redisUrl], prefix);
  const user = await signIn(t, a);
  await servedFromMemory(t, user, b, reads);
  for (let i = 0; i < 5; i += 1) t.is(await statusOf(user, b), 200);
  const settled = reads();
  await sleep(cacheMs + 100);
  t.is(await statusOf(user, b), 200);
  t.is(reads(), settled + 1, 'read again after the second');
});

test.serial('a sign-out on one instance is refused at once on another that just served the session from memory', async (t) => {
  const { a, b, prefix } = await twoInstances(t);
  const reads = await countSessionReads(t, [stack.redisUrl], prefix);
  const user = await signIn(t, a);
  const cookie = (await user.jar.getCookieString(b.url))!;
  const filledAt = await servedFromMemory(t, user, b, reads);

  const signedOut = await user.request(`${a.url}/__s3proxy/logout`, { method: 'POST', navigation: true, fetchSite: 'same-origin', headers: { origin: a.url } });
  t.is(signedOut.status, 303);
  await signedOut.arrayBuffer();
  const replayed = await fetch(`${b.url}/file.txt`, { headers: { cookie } });
  t.is(replayed.status, 401);
  await replayed.arrayBuffer();
  withinCacheTime(t, filledAt);
});

test.serial('where Redis refuses client tracking, a sign-out on one instance is still refused at once on another that just served the session from memory', async (t) => {
  const redis = await startOwnRedis();
  t.teardown(() => redis.kill());
  const admin = new Redis(redis.url);
  t.teardown(() => admin.disconnect());
  await admin.call('ACL', 'SETUSER', 'default', '-client|tracking');
  const { a, b, prefix } = await twoInstances(t, { redisUrl: redis.url });
  await b.waitForLog((line) => line.msg.startsWith('redis refused client tracking'));
  const reads = await countSessionReads(t, [redis.url], prefix);
  const user = await signIn(t, a);
  const cookie = (await user.jar.getCookieString(b.url))!;
  const filledAt = await servedFromMemory(t, user, b, reads);

  const signedOut = await user.request(`${a.url}/__s3proxy/logout`, { method: 'POST', navigation: true, fetchSite: 'same-origin', headers: { origin: a.url } });
  t.is(signedOut.status, 303);
  await signedOut.arrayBuffer();
  const replayed = await fetch(`${b.url}/file.txt`, { headers: { cookie } });
  t.is(replayed.status, 401);
  await replayed.arrayBuffer();
  withinCacheTime(t, filledAt);
});

test.serial('a token SSO revoked, found at one instance re-check, is refused at once on another that just served the session from memory, without asking SSO', async (t) => {
  // A checks the token on every request, B not within the hour
  const { a, b, prefix } = await twoInstances(t, { a: { SSO_TOKEN_CHECK_GRACE_PERIOD: '0' }, b: { SSO_TOKEN_CHECK_GRACE_PERIOD: '3600' } });
  const reads = await countSessionReads(t, [stack.redisUrl], prefix);
  const user = await signIn(t, b);
  const filledAt = await servedFromMemory(t, user, b, reads);

  sso.revoke(sso.issuedTokens.at(-1)!);
  const calls = sso.userInfoCalls;
  t.is(await statusOf(user, a), 401, 'A asked SSO and ended the session');
  t.is(await statusOf(user, b), 401, 'B refuses it at once');
  withinCacheTime(t, filledAt);
  t.is(sso.userInfoCalls - calls, 1, 'only A asked SSO');
});

test.serial('a back-channel logout at one instance is refused at once on another that just served the session from memory', async (t) => {
  const clientId = `cache-test-${randomBytes(4).toString('hex')}`;
  const frontPort = await freePort();
  let backPort = await freePort();
  while (backPort === frontPort) backPort = await freePort();
  const issuer = await startOidcIssuer({
    clientId,
    clientSecret: 'cache-test-client-secret',
    redirectUris: [`http://127.0.0.1:${frontPort}/__redirect_from_sso`],
    backchannelLogoutUri: `http://127.0.0.1:${backPort}/__redirect_from_sso/backchannel`,
  });
  t.teardown(() => issuer.close());
  const env = proxyEnv(stack, {
    bucket,
    sso: { mode: 'oidc', issuer: issuer.issuer, clientId: issuer.clientId, clientSecret: issuer.clientSecret },
    extra: { SSO_TOKEN_CHECK_GRACE_PERIOD: '3600' },
  });
  const [front, back] = await Promise.all([startProxy({ ...env, PORT: String(frontPort) }), startProxy({ ...env, PORT: String(backPort) })]);
  t.teardown(() => Promise.all([front.stop(), back.stop()]));
  const reads = await countSessionReads(t, [stack.redisUrl], env.REDIS_KEY_PREFIX!);

  const user = new UserAgent();
  const signedIn = await user.signInOidc(`${front.url}/file.txt`, { username: 'alice', password: 'wonderland' });
  t.is(signedIn.response.status, 200);
  await signedIn.response.arrayBuffer();
  const filledAt = await servedFromMemory(t, user, front, reads);

  // the provider's logout token, for every session of alice (no sid), posted to the other instance
  const key = await importJWK(issuer.signingKey, 'RS256');
  const now = Math.floor(Date.now() / 1000);
  const logoutToken = await new SignJWT({
    iss: issuer.issuer,
    aud: clientId,
    iat: now,
    exp: now + 120,
    jti: randomBytes(12).toString('base64url'),
    sub: 'alice-sub',
    events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
  })
    .setProtectedHeader({ alg: 'RS256', kid: issuer.signingKey.kid as string, typ: 'logout+jwt' })
    .sign(key);
  const delivered = await fetch(`${back.url}/__redirect_from_sso/backchannel`, { method: 'POST', body: new URLSearchParams({ logout_token: logoutToken }) });
  t.is(delivered.status, 200);
  await delivered.arrayBuffer();
  t.is(await statusOf(user, front), 401);
  withinCacheTime(t, filledAt);
});

test.serial('a flush of Redis signs everyone out at once on every instance, memory or not', async (t) => {
  const redis = await startOwnRedis();
  t.teardown(() => redis.kill());
  const { a, b, prefix } = await twoInstances(t, { redisUrl: redis.url });
  const reads = await countSessionReads(t, [redis.url], prefix);
  const user = await signIn(t, a);
  const filledAt = await servedFromMemory(t, user, b, reads);

  const admin = new Redis(redis.url);
  t.teardown(() => admin.disconnect());
  await admin.flushall();
  t.is(await statusOf(user, b), 401);
  withinCacheTime(t, filledAt);
  t.is(await statusOf(user, a), 401);
});

test.serial('a session record deleted in Redis by hand, or expiring, ends at once on every instance, memory or not', async (t) => {
  const { a, b, prefix } = await twoInstances(t);
  const reads = await countSessionReads(t, [stack.redisUrl], prefix);
  const admin = new Redis(stack.redisUrl);
  t.teardown(() => admin.disconnect());

  const deleted = await signIn(t, a);
  let filledAt = await servedFromMemory(t, deleted, b, reads);
  const [first] = await admin.keys(`${prefix}session:*`);
  await admin.del(first!);
  t.is(await statusOf(deleted, b), 401);
  withinCacheTime(t, filledAt);

  const expiring = await signIn(t, a);
  filledAt = await servedFromMemory(t, expiring, b, reads);
  const [second] = await admin.keys(`${prefix}session:*`);
  await admin.pexpire(second!, 1);
  await sleep(5);
  // an expired key is deleted when next touched, if Redis's own sweep has not come by first
  t.is(await admin.exists(second!), 0);
  t.is(await statusOf(expiring, b), 401);
  withinCacheTime(t, filledAt);
});

test.serial('while an instance cannot subscribe to invalidations it answers from Redis alone, and from memory again once subscribed', async (t) => {
  const redis = await startOwnRedis();
  t.teardown(() => redis.kill());
  const { a, b, prefix } = await twoInstances(t, { redisUrl: redis.url });
  const reads = await countSessionReads(t, [redis.url], prefix);
  const user = await signIn(t, a);
  await servedFromMemory(t, user, b, reads);

  const admin = new Redis(redis.url);
  t.teardown(() => admin.disconnect());
  const subscribers = () => proxySubscribers(admin);
  t.is(await subscribers(), 2, 'each instance subscribes');
  // No pub/sub channel for anyone (Redis 7 drops the subscribers at once): nothing published would arrive.
  await admin.call('ACL', 'SETUSER', 'default', 'resetchannels');
  await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
  for (let i = 0; i < 50 && (await subscribers()) > 0; i += 1) await sleep(20);
  t.is(await subscribers(), 0);
  // Redis has dropped them, but the proxy may not have read the close yet:
  // past a memory lifetime, whatever was cached is gone either way, so three
  // quick requests each reading Redis shows that nothing is cached now
  // (with caching on, only the first would).
  await sleep(1_100);

  const before = reads();
  for (let i = 0; i < 3; i += 1) t.is(await statusOf(user, b), 200);
  t.is(reads(), before + 3, 'every request read Redis');
  // ended behind the proxies' backs: no message, yet refused at once
  const [key] = await admin.keys(`${prefix}session:*`);
  await admin.del(key!);
  t.is(await statusOf(user, b), 401);

  await admin.call('ACL', 'SETUSER', 'default', 'allchannels');
  t.true(await untilSubscribed(admin, 2, 5_000), 'subscribed again');
  const again = await signIn(t, a);
  await servedFromMemory(t, again, b, reads);
});
