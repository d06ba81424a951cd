// The sign-in specification in plain OAuth2 mode (SSO_URL, uktrade staff-sso
// compatible), against the built proxy, the real Redis and S3, and the test
// SSO server. Each test that changes how SSO or the proxy behaves gets a
// proxy and SSO server of its own; tests only reading share one.
import test, { type ExecutionContext } from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv, oauth2Sso } from '../support/proxy-env.ts';
import { createBucket, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { navigationHeaders, UserAgent } from '../support/user-agent.ts';
import { rawRequest } from '../support/raw-http.ts';
import { loginStateKey, openLoginState, type OpenedLoginState } from '../../src/auth/login-state-cookie.ts';

const stack = s3Stack();
const callbackPath = '/__redirect_from_sso';
const tooLong = 'Sign-in may have taken too long. Please try the original link again.';

let bucket: string;
let redis: Redis;
let shared: Setup;

interface Setup {
  sso: OAuth2Sso;
  proxy: ProxyProcess;
  prefix: string;
  cookieName: string;
}

async function setUp(extra: Record<string, string> = {}): Promise<Setup> {
  const sso = await startOAuth2Sso();
  const env = proxyEnv(stack, {
    bucket,
    sso: oauth2Sso(sso),
    healthcheckKey: 'health.txt',
    extra,
  });
  let proxy: ProxyProcess;
  try {
    proxy = await startProxy(env);
  } catch (error) {
    await sso.close();
    throw error;
  }
  return { sso, proxy, prefix: env.REDIS_KEY_PREFIX!, cookieName: extra.SESSION_COOKIE_NAME ?? 'assets_session_id' };
}

// The machine is shared and small: a few proxies of their own at a time, not one per test at once.
let freeSlots = 4;
const waitingForSlot: Array<() => void> = [];

async function takeSlot(): Promise<void> {
  if (freeSlots > 0) {
    freeSlots -= 1;
    return;
  }
  await new Promise<void>((resolve) => waitingForSlot.push(resolve));
}

function giveSlotBack(): void {
  const next = waitingForSlot.shift();
  if (next) next();
  else freeSlots += 1;
}

/** A setup of the test's own, torn down with it. */
async function own(t: ExecutionContext, extra: Record<string, string> = {}): Promise<Setup> {
  await takeSlot();
  let setup: Setup;
  try {
    setup = await setUp(extra);
  } catch (error) {
    giveSlotBack();
    throw error;
  }
  t.teardown(async () => {
    await setup.proxy.stop();
    await setup.sso.close();
    giveSlotBack();
  });
  return setup;
}

test.before(async () => {
  bucket = await createBucket(stack, 'sign-in-oauth2');
  for (const name of ['file.txt', 'a.txt', 'b.txt', 'c.txt', 'health.txt']) {
    await putObject(stack, bucket, name, `content of ${name}`, 'text/plain');
  }
  redis = new Redis(stack.redisUrl);
  shared = await setUp();
});

test.after.always(async () => {
  await shared?.proxy.stop();
  await shared?.sso.close();
  redis?.disconnect();
});

interface Flow {
  /** the proxy's redirect to SSO */
  authorize: URL;
  /** the raw Location header, as sent */
  location: string;
  setCookies: string[];
}

/**
 * A navigation sent with the path exactly as written (fetch and the UA's URL
 * parsing would normalise it), carrying the browser's cookies; Set-Cookie
 * goes into the browser's jar.
 */
async function navigate(ua: UserAgent, proxy: ProxyProcess, path: string, headers: Record<string, string> = {}): Promise<Flow> {
  // The cookies belong to the origin the browser sees, which Host and x-forwarded-proto name.
  const origin = headers.host ? `${headers['x-forwarded-proto'] ?? 'http'}://${headers.host}` : proxy.url;
  const cookie = await ua.jar.getCookieString(origin);
  const response = await rawRequest(proxy.url, path, { ...navigationHeaders(), ...(cookie ? { cookie } : {}), ...headers });
  if (response.status !== 302) throw new Error(`expected a redirect to SSO, got ${response.status}: ${response.body.toString()}`);
  const setCookies = ([] as string[]).concat(response.headers['set-cookie'] ?? []);
  for (const setCookie of setCookies) await ua.setCookie(setCookie, origin);
  const location = response.headers.location!;
  return { authorize: new URL(location), location, setCookies };
}

/** Lets SSO approve and stops before the proxy's callback: its URL. */
async function approve(ua: UserAgent, flow: Flow): Promise<URL> {
  const result = await ua.follow(flow.authorize, {}, { stopAt: (url) => url.pathname === callbackPath });
  const entry = result.chain.at(-1)!;
  await result.response.body?.cancel();
  if (!entry.location) throw new Error(`SSO did not redirect back: ${entry.status}`);
  return new URL(entry.location);
}

/** The proxy's callback, not followed further. */
async function callback(ua: UserAgent, url: URL | string, headers: Record<string, string> = {}): Promise<Response> {
  return ua.request(url, { headers });
}

async function signIn(ua: UserAgent, setup: Setup, path = '/file.txt'): Promise<string> {
  const result = await ua.signInOAuth2(setup.proxy.url + path);
  if (result.response.status !== 200) throw new Error(`sign-in failed: ${result.response.status}`);
  await result.response.arrayBuffer();
  const session = await ua.cookie(setup.proxy.url, setup.cookieName);
  if (!session) throw new Error('no session cookie after sign-in');
  return session.value;
}

async function scanCount(pattern: string): Promise<number> {
  let count = 0;
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    count += batch.length;
  } while (cursor !== '0');
  return count;
}

async function keysUnder(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

function setCookieNamed(setCookies: string[], name: string): string | undefined {
  return setCookies.find((line) => line.startsWith(`${name}=`));
}

/** The Set-Cookie line of the flow's sealed login state. */
function flowCookieLine(setup: Setup, flow: Flow): string {
  const line = flow.setCookies.find((candidate) => candidate.startsWith(`${setup.cookieName}_login_`));
  if (!line) throw new Error(`no login state cookie in ${flow.setCookies.join(' | ')}`);
  return line;
}

/** name=value of the flow's sealed login state, as a Cookie header. */
function flowCookie(setup: Setup, flow: Flow): string {
  return flowCookieLine(setup, flow).split(';')[0]!;
}

/** What the sealed cookie holds, opened with the key every instance derives from SSO_CLIENT_SECRET. */
async function loginStateOf(setup: Setup, flow: Flow): Promise<OpenedLoginState> {
  const value = flowCookie(setup, flow).split('=').slice(1).join('=');
  const opened = await openLoginState(loginStateKey(setup.sso.clientSecret), value);
  if (!opened) throw new Error('the login state cookie does not open with the SSO client secret');
  return opened;
}

/** Names of the login cookies the browser still holds, on any path (expired ones are dropped). */
async function loginCookiesIn(ua: UserAgent, setup: Setup): Promise<string[]> {
  const live = await ua.jar.getCookies(setup.proxy.url, { allPaths: true });
  return live.map((cookie) => cookie.key).filter((name) => name.startsWith(`${setup.cookieName}_login`));
}

function attributesOf(setCookie: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const part of setCookie.split(';').slice(1)) {
    const [name, ...value] = part.trim().split('=');
    attributes.set(name!.toLowerCase(), value.join('='));
  }
  return attributes;
}

// ---- the way to SSO ----

test('a navigation without a session is sent to SSO with state, PKCE S256 and scope "read write"', async (t) => {
  const ua = new UserAgent();
  const flow = await navigate(ua, shared.proxy, '/file.txt');
  const params = flow.authorize.searchParams;
  t.is(flow.authorize.origin + flow.authorize.pathname, shared.sso.authorizeUrl);
  t.is(params.get('response_type'), 'code');
  t.is(params.get('client_id'), shared.sso.clientId);
  t.is(params.get('scope'), 'read write');
  t.is(params.get('code_challenge_method'), 'S256');
  t.regex(params.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
  t.regex(params.get('state') ?? '', /^[A-Za-z0-9_-]{22,}$/);
  t.is(params.get('redirect_uri'), `${shared.proxy.url}${callbackPath}`);
  t.is(params.get('nonce'), null);
});

test('a request that is not a navigation gets 401, not a redirect', async (t) => {
  const ua = new UserAgent();
  // a page's fetch(): a client without fetch metadata would count as a navigation
  const response = await ua.request(`${shared.proxy.url}/file.txt`, { navigation: false, headers: { 'sec-fetch-mode': 'cors', 'sec-fetch-site': 'same-origin' } });
  t.is(response.status, 401);
  t.is(response.headers.get('location'), null);
  t.false((await response.text()).includes('content of'));
});

test('the redirect_uri follows the Host header and x-forwarded-proto, and the cookies are then Secure', async (t) => {
  const setup = await own(t);
  const ua = new UserAgent();
  const host = `localhost:${setup.proxy.port}`;
  const flow = await navigate(ua, setup.proxy, '/file.txt', { host, 'x-forwarded-proto': 'https' });
  t.is(flow.authorize.searchParams.get('redirect_uri'), `https://${host}${callbackPath}`);
  t.true(attributesOf(flowCookieLine(setup, flow)).has('secure'));
  t.true(attributesOf(setCookieNamed(flow.setCookies, `${setup.cookieName}_logins`)!).has('secure'));

  // The browser comes back over https (TLS ends at the router in front of the proxy).
  const back = await approve(ua, flow);
  t.is(back.origin, `https://${host}`);
  const cookie = await ua.jar.getCookieString(back.href);
  const response = await rawRequest(setup.proxy.url, back.pathname + back.search, {
    ...navigationHeaders(),
    host,
    'x-forwarded-proto': 'https',
    cookie,
  });
  t.is(response.status, 302);
  t.is(response.headers.location, `https://${host}/file.txt`);
  const session = setCookieNamed(([] as string[]).concat(response.headers['set-cookie'] ?? []), setup.cookieName);
  t.truthy(session, 'a session cookie is set');
  t.true(attributesOf(session!).has('secure'));
  t.is(setup.sso.tokenRequests.at(-1)?.redirect_uri, `https://${host}${callbackPath}`);
});

test('over plain http the session cookie is not Secure', async (t) => {
  const setup = await own(t);
  const ua = new UserAgent();
  const back = await approve(ua, await navigate(ua, setup.proxy, '/file.txt'));
  const response = await callback(ua, back);
  t.is(response.status, 302);
  const session = setCookieNamed(response.headers.getSetCookie(), setup.cookieName);
  t.truthy(session);
  t.false(attributesOf(session!).has('secure'));
});

// ---- the login state ----

test('the login state travels in a sealed cookie for the callback path only, expiring after the default 600 s, and costs Redis nothing', async (t) => {
  const ua = new UserAgent();
  const flow = await navigate(ua, shared.proxy, '/a.txt');
  const line = flowCookieLine(shared, flow);
  const attributes = attributesOf(line);
  t.is(attributes.get('path'), callbackPath);
  t.true(attributes.has('httponly'));
  t.is(attributes.get('samesite')?.toLowerCase(), 'lax');
  t.is(attributes.get('max-age'), '600');

  const stored = await loginStateOf(shared, flow);
  t.is(stored.state, flow.authorize.searchParams.get('state')!);
  t.is(stored.returnTo, `${shared.proxy.url}/a.txt`);
  t.is(stored.redirectUri, `${shared.proxy.url}${callbackPath}`);
  t.is(createHash('sha256').update(stored.codeVerifier).digest('base64url'), flow.authorize.searchParams.get('code_challenge')!);
  t.is(stored.nonce, undefined, 'plain OAuth2 has no nonce');
  const lifetime = (stored.expiresAt - Date.now()) / 1000;
  t.true(lifetime > 590 && lifetime <= 600, `expires in ${lifetime} s`);
  // Sealed, not merely encoded: no part of the cookie decodes to the secrets.
  const decoded = flowCookie(shared, flow).split('=')[1]!.split('.').map((part) => Buffer.from(part, 'base64url').toString('latin1')).join(' ');
  for (const secret of [stored.codeVerifier, '/a.txt', stored.state]) t.false(decoded.includes(secret), secret);

  t.deepEqual(await keysUnder(shared.prefix), [], 'nothing in Redis for a sign-in in progress');
  t.is((await callback(ua, await approve(ua, flow))).status, 302);
  t.deepEqual(await loginCookiesIn(ua, shared), [], 'the login cookies are gone after the callback');
});

test('LOGIN_STATE_TTL sets the login state cookie\'s lifetime and its sealed expiry', async (t) => {
  const setup = await own(t, { LOGIN_STATE_TTL: '120' });
  const ua = new UserAgent();
  const flow = await navigate(ua, setup.proxy, '/a.txt');
  t.is(attributesOf(flowCookieLine(setup, flow)).get('max-age'), '120');
  t.is(attributesOf(setCookieNamed(flow.setCookies, `${setup.cookieName}_logins`)!).get('max-age'), '120');
  const lifetime = ((await loginStateOf(setup, flow)).expiresAt - Date.now()) / 1000;
  t.true(lifetime > 110 && lifetime <= 120, `expires in ${lifetime} s`);
});

test('a return URL with a trailing "?" comes back with it', async (t) => {
  const ua = new UserAgent();
  const flow = await navigate(ua, shared.proxy, '/file.txt?');
  t.is((await loginStateOf(shared, flow)).returnTo, `${shared.proxy.url}/file.txt?`);
  const response = await callback(ua, await approve(ua, flow));
  t.is(response.status, 302);
  t.is(response.headers.get('location'), `${shared.proxy.url}/file.txt?`);
});

test('a return URL query is kept byte for byte', async (t) => {
  const ua = new UserAgent();
  const flow = await navigate(ua, shared.proxy, '/file.txt?a=1&b=%20');
  t.is((await loginStateOf(shared, flow)).returnTo, `${shared.proxy.url}/file.txt?a=1&b=%20`);
  const response = await callback(ua, await approve(ua, flow));
  t.is(response.status, 302);
  t.is(response.headers.get('location'), `${shared.proxy.url}/file.txt?a=1&b=%20`);
  const object = await ua.request(response.headers.get('location')!);
  t.is(object.status, 200);
  t.is(await object.text(), 'content of file.txt');
});

test('after sign-in the browser returns to the exact URL it first asked for, origin included, even when the callback arrives with another Host', async (t) => {
  const setup = await own(t);
  const ua = new UserAgent();
  const host = `localhost:${setup.proxy.port}`;
  const flow = await navigate(ua, setup.proxy, '/file.txt?x=1', { host });
  const back = await approve(ua, flow);
  t.is(back.origin, `http://${host}`);
  // A router in front rewrote Host on the way back.
  const response = await rawRequest(setup.proxy.url, back.pathname + back.search, {
    ...navigationHeaders(),
    host: `127.0.0.1:${setup.proxy.port}`,
    cookie: flowCookie(setup, flow),
  });
  t.is(response.status, 302);
  t.is(response.headers.location, `http://${host}/file.txt?x=1`);
  t.is(setup.sso.tokenRequests.at(-1)?.redirect_uri, `http://${host}${callbackPath}`, 'the code is exchanged for the redirect URI SSO was given');
});

test('a return URL too long for a cookie comes back as its path, without the query', async (t) => {
  const ua = new UserAgent();
  const query = `?pad=${'x'.repeat(5000)}`;
  const flow = await navigate(ua, shared.proxy, `/file.txt${query}`);
  const line = flowCookieLine(shared, flow);
  t.true(line.split(';')[0]!.length <= 4000, `cookie of ${line.length} bytes`);
  const response = await callback(ua, await approve(ua, flow));
  t.is(response.status, 302);
  t.is(response.headers.get('location'), `${shared.proxy.url}/file.txt`);
});

test('several tabs of a fresh browser sign in at the same moment, each ending on its own object, and their login cookies then go', async (t) => {
  const setup = await own(t);
  const ua = new UserAgent();
  const paths = ['/a.txt', '/b.txt', '/c.txt'];
  // All three navigations leave before any answer is back: no tab sees another's cookies.
  const flows = await Promise.all(paths.map((path) => navigate(ua, setup.proxy, path)));
  const states = flows.map((flow) => flow.authorize.searchParams.get('state')!);
  t.is(new Set(states).size, 3, 'every tab has a state of its own');
  const indexes = flows.map((flow) => setCookieNamed(flow.setCookies, `${setup.cookieName}_logins`)!.split(';')[0]!.split('=')[1]!);
  t.deepEqual(
    indexes.map((index) => index.split('.').length),
    [1, 1, 1],
    'each navigation was answered knowing of no other flow: they ran side by side',
  );
  t.is(new Set(flows.map((flow) => flowCookieLine(setup, flow).split('=')[0])).size, 3, 'one login cookie per flow');

  const approved = await Promise.all(flows.map((flow) => approve(ua, flow)));
  const responses = await Promise.all(approved.map((back) => callback(ua, back)));
  for (const [index, response] of responses.entries()) {
    t.is(response.status, 302, paths[index]);
    t.is(response.headers.get('location'), setup.proxy.url + paths[index]);
  }
  const objects = await Promise.all(paths.map((path) => ua.request(setup.proxy.url + path)));
  for (const [index, object] of objects.entries()) {
    t.is(object.status, 200, paths[index]);
    t.is(await object.text(), `content of ${paths[index]!.slice(1)}`);
  }

  const names = await loginCookiesIn(ua, setup);
  t.deepEqual(names.filter((name) => name.startsWith(`${setup.cookieName}_login_`)), [], 'no login state cookie is left');
});

test('a login state taken to another browser is refused with 403 and does not spoil the rightful browser\'s sign-in', async (t) => {
  const setup = await own(t);
  const mine = new UserAgent();
  const other = new UserAgent();
  // The other browser has a sign-in of its own under way: it just is not this one.
  await navigate(other, setup.proxy, '/b.txt');
  const back = await approve(mine, await navigate(mine, setup.proxy, '/a.txt'));
  const response = await callback(other, back);
  t.is(response.status, 403);
  t.true((await response.text()).includes(tooLong));
  t.is(await other.cookie(setup.proxy.url, setup.cookieName), undefined);
  t.is(setup.sso.tokenCalls, 0, 'the code is never exchanged');
  t.deepEqual(await keysUnder(setup.prefix), [], 'the state is not marked used');

  const mineBack = await callback(mine, back);
  t.is(mineBack.status, 302);
  t.is(mineBack.headers.get('location'), `${setup.proxy.url}/a.txt`);
  const object = await mine.request(mineBack.headers.get('location')!);
  t.is(object.status, 200);
  t.is(await object.text(), 'content of a.txt');
});

test('a login state used twice is refused with 403, even with its sealed cookie kept', async (t) => {
  const setup = await own(t);
  const ua = new UserAgent();
  const flow = await navigate(ua, setup.proxy, '/a.txt');
  const back = await approve(ua, flow);
  t.is((await callback(ua, back)).status, 302);
  const state = flow.authorize.searchParams.get('state')!;
  const ttl = await redis.ttl(`${setup.prefix}login-used:${state}`);
  t.true(ttl > 590 && ttl <= 600, `the use is remembered until the state would expire: TTL ${ttl}`);
  // A replay of the whole callback: the same URL and the same sealed cookie, without the session.
  const again = await callback(new UserAgent(), back, { cookie: flowCookie(setup, flow) });
  t.is(again.status, 403);
  t.true((await again.text()).includes('Sign-in may have taken too long'));
  t.is(setup.sso.tokenCalls, 1);
});

test('a made-up state that shares only its first characters with a real flow is refused, and the real flow still works', async (t) => {
  const setup = await own(t);
  const ua = new UserAgent();
  const flow = await navigate(ua, setup.proxy, '/a.txt');
  const back = await approve(ua, flow);
  const state = flow.authorize.searchParams.get('state')!;
  // Same login cookie name (it is named by the state's first 16 characters), another state.
  const forged = state.slice(0, 16) + (state[16] === 'A' ? 'B' : 'A') + state.slice(17);
  const response = await callback(ua, `${setup.proxy.url}${callbackPath}?code=${back.searchParams.get('code')}&state=${forged}`);
  t.is(response.status, 403);
  await response.arrayBuffer();
  t.is(setup.sso.tokenCalls, 0);
  // The refusal expired the cookie it was shown; the browser that still has it signs in.
  const real = await callback(new UserAgent(), back, { cookie: flowCookie(setup, flow) });
  t.is(real.status, 302);
  t.is(real.headers.get('location'), `${setup.proxy.url}/a.txt`);
});

test('callbacks with a real sealed cookie and a code SSO refuses leave nothing in Redis', async (t) => {
  const setup = await own(t);
  setup.sso.refuseCodes(true);
  for (let i = 0; i < 5; i += 1) {
    const ua = new UserAgent();
    const flow = await navigate(ua, setup.proxy, '/a.txt');
    const state = flow.authorize.searchParams.get('state')!;
    const response = await callback(ua, `${setup.proxy.url}${callbackPath}?code=made-up-${i}&state=${state}`);
    t.is(response.status, 403);
    await response.arrayBuffer();
  }
  t.is(setup.sso.tokenCalls, 5, 'each reached SSO');
  t.deepEqual(await keysUnder(setup.prefix), []);
});

test('a used login state in a browser that is signed in anyway is redirected, not refused', async (t) => {
  const setup = await own(t);
  const ua = new UserAgent();
  const back = await approve(ua, await navigate(ua, setup.proxy, '/a.txt'));
  t.is((await callback(ua, back)).status, 302);
  const again = await callback(ua, back);
  t.is(again.status, 302);
  t.is(again.headers.get('location'), `${setup.proxy.url}/`);
  t.is(setup.sso.tokenCalls, 1);
});

// ---- the callback's failures ----

test('a callback without code or without state is 400', async (t) => {
  const ua = new UserAgent();
  const state = randomBytes(16).toString('base64url');
  for (const query of [`?state=${state}`, '?code=abc', '', '?code=&state=']) {
    const response = await callback(ua, `${shared.proxy.url}${callbackPath}${query}`);
    t.is(response.status, 400, query);
    await response.arrayBuffer();
  }
});

test('an unknown state is 403 with a short page asking to try the original link again', async (t) => {
  const ua = new UserAgent();
  for (const state of [randomBytes(16).toString('base64url'), 'x', '../../etc']) {
    const response = await callback(ua, `${shared.proxy.url}${callbackPath}?code=abc&state=${encodeURIComponent(state)}`);
    t.is(response.status, 403, state);
    t.regex(response.headers.get('content-type') ?? '', /^text\/html/);
    const page = await response.text();
    t.true(page.includes(tooLong), page);
    t.true(page.length < 2000);
  }
});

test('an expired login state is 403', async (t) => {
  const setup = await own(t, { LOGIN_STATE_TTL: '1' });
  const ua = new UserAgent();
  const flow = await navigate(ua, setup.proxy, '/a.txt');
  const back = await approve(ua, flow);
  // The browser drops the cookie when it expires; keep it, so that the sealed expiry is what is tested.
  await sleep(2_100);
  t.deepEqual(await loginCookiesIn(ua, setup), [], 'the browser let the cookies expire');
  const response = await callback(ua, back, { cookie: flowCookie(setup, flow) });
  t.is(response.status, 403);
  t.true((await response.text()).includes('Sign-in may have taken too long'));
  t.is(setup.sso.tokenCalls, 0);
});

test('SSO refusing the code is 403', async (t) => {
  const setup = await own(t);
  const ua = new UserAgent();
  const back = await approve(ua, await navigate(ua, setup.proxy, '/a.txt'));
  setup.sso.refuseCodes(true);
  const response = await callback(ua, back);
  t.is(response.status, 403);
  await response.arrayBuffer();
  t.is(await ua.cookie(setup.proxy.url, setup.cookieName), undefined);
});

test('SSO answering 5xx at the token step is 500', async (t) => {
  const setup = await own(t);
  const ua = new UserAgent();
  const back = await approve(ua, await navigate(ua, setup.proxy, '/a.txt'));
  setup.sso.tokenStatus(500);
  const response = await callback(ua, back);
  t.is(response.status, 500);
  await response.arrayBuffer();
  t.is(await ua.cookie(setup.proxy.url, setup.cookieName), undefined);
});

test('SSO unreachable at the token step is 500', async (t) => {
  const setup = await own(t);
  const ua = new UserAgent();
  const back = await approve(ua, await navigate(ua, setup.proxy, '/a.txt'));
  await setup.sso.goDown();
  const response = await callback(ua, back);
  t.is(response.status, 500);
  await response.arrayBuffer();
  t.is(await ua.cookie(setup.proxy.url, setup.cookieName), undefined);
});

// ---- the session ----

test('a sign-in lands on the object with a session cookie: HttpOnly, SameSite=Lax, Max-Age 32400', async (t) => {
  const setup = await own(t);
  const ua = new UserAgent();
  const result = await ua.signInOAuth2(`${setup.proxy.url}/file.txt`);
  t.is(result.response.status, 200);
  t.is(await result.response.text(), 'content of file.txt');
  t.deepEqual(
    result.chain.map((entry) => new URL(entry.url).pathname),
    ['/file.txt', '/o/authorize/', callbackPath, '/file.txt'],
  );

  const cookie = (await ua.cookie(setup.proxy.url, 'assets_session_id'))!;
  t.truthy(cookie);
  t.true(cookie.httpOnly);
  t.is(cookie.sameSite, 'lax');
  t.is(cookie.path, '/');
  t.is(cookie.maxAge, 32400);
  const line = await setup.proxy.waitForLog((l) => l.msg === 'signed in');
  t.is(line.user, 'alice@example.org');
});

test('SESSION_COOKIE_NAME, SESSION_COOKIE_SAMESITE and SESSION_MAX_AGE shape the session cookie', async (t) => {
  // SameSite=None is only accepted by browsers on Secure cookies: the proxy must know it is reached over https.
  const setup = await own(t, { SESSION_COOKIE_NAME: 'my_session', SESSION_COOKIE_SAMESITE: 'None', SESSION_COOKIE_SECURE: 'true', SESSION_MAX_AGE: '600' });
  const ua = new UserAgent();
  const flow = await navigate(ua, setup.proxy, '/file.txt', { 'x-forwarded-proto': 'https' });
  t.regex(flowCookieLine(setup, flow), /^my_session_login_/);
  t.is(attributesOf(flowCookieLine(setup, flow)).get('samesite')?.toLowerCase(), 'none');
  const back = await approve(ua, flow);
  const response = await rawRequest(setup.proxy.url, back.pathname + back.search, {
    ...navigationHeaders(),
    'x-forwarded-proto': 'https',
    cookie: (await ua.jar.getCookieString(back.href))!,
  });
  t.is(response.status, 302);
  const setCookies = ([] as string[]).concat(response.headers['set-cookie'] ?? []);
  t.is(setCookieNamed(setCookies, 'assets_session_id'), undefined);
  const session = setCookieNamed(setCookies, 'my_session');
  t.truthy(session);
  const attributes = attributesOf(session!);
  t.is(attributes.get('samesite')?.toLowerCase(), 'none');
  t.true(attributes.has('secure'));
  t.true(attributes.has('httponly'));
  t.is(attributes.get('max-age'), '600');
  // The renamed cookie is the one that works.
  const object = await rawRequest(setup.proxy.url, '/file.txt', { cookie: session!.split(';')[0]! });
  t.is(object.status, 200);
});

test('every sign-in gets a new session id and the old one stops working', async (t) => {
  const setup = await own(t);
  const ua = new UserAgent();
  const first = await signIn(ua, setup);
  // A second sign-in in the same browser (another tab sent to SSO before the
  // first came back), its session cookie sent at the callback.
  const flow = await rawRequest(setup.proxy.url, '/b.txt', navigationHeaders());
  t.is(flow.status, 302);
  for (const line of ([] as string[]).concat(flow.headers['set-cookie'] ?? [])) await ua.setCookie(line, setup.proxy.url);
  const back = await approve(ua, { authorize: new URL(flow.headers.location!), location: flow.headers.location!, setCookies: [] });
  t.regex((await ua.jar.getCookieString(back.href)) ?? '', new RegExp(`(^|; )${setup.cookieName}=`));
  const response = await callback(ua, back);
  t.is(response.status, 302);
  const second = (await ua.cookie(setup.proxy.url, setup.cookieName))!.value;
  t.not(second, first);

  const old = await rawRequest(setup.proxy.url, '/file.txt', { cookie: `${setup.cookieName}=${first}`, 'sec-fetch-mode': 'cors' });
  t.is(old.status, 401);
  const current = await rawRequest(setup.proxy.url, '/file.txt', { cookie: `${setup.cookieName}=${second}` });
  t.is(current.status, 200);
});

test('Redis holds the session under the prefix, without the cookie value, the token or the email in clear', async (t) => {
  const setup = await own(t);
  const ua = new UserAgent();
  const flow = await navigate(ua, setup.proxy, '/file.txt');
  const state = flow.authorize.searchParams.get('state')!;
  t.is(await scanCount(`*${state}*`), 0, 'a sign-in in progress has nothing in Redis');

  t.is((await callback(ua, await approve(ua, flow))).status, 302);
  const cookieValue = (await ua.cookie(setup.proxy.url, setup.cookieName))!.value;
  const token = setup.sso.issuedTokens.at(-1)!;
  const keys = (await keysUnder(setup.prefix)).sort();
  t.is(keys.filter((key) => key.startsWith(`${setup.prefix}session:`)).length, 1);
  // The used state's mark is under the prefix, and nowhere else.
  t.deepEqual(keys.filter((key) => !key.startsWith(`${setup.prefix}session`)), [`${setup.prefix}login-used:${state}`]);
  t.is(await scanCount(`*${state}*`), 1);
  const sessionKey = keys.find((key) => key.startsWith(`${setup.prefix}session:`))!;

  const secrets = [cookieValue, token, 'alice@example.org', 'Alice'];
  for (const key of keys) {
    const type = await redis.type(key);
    const values = type === 'hash' ? Object.entries(await redis.hgetall(key)).flat() : type === 'string' ? [(await redis.get(key))!] : [];
    t.true(values.length > 0, `${key} is a ${type}`);
    for (const secret of secrets) {
      t.false(key.includes(secret), `key ${key}`);
      for (const value of values) t.false(value.includes(secret), `a value of ${key}`);
    }
  }
  const ttl = await redis.ttl(sessionKey);
  t.true(ttl > 32300 && ttl <= 32400, `session TTL ${ttl}`);

  // The log line says who signed in, but never the token or the cookie.
  t.false(setup.proxy.stdout().includes(token));
  t.false(setup.proxy.stdout().includes(cookieValue));
});

// ---- the token re-check ----

test('with SSO_TOKEN_CHECK_GRACE_PERIOD=0 every request asks SSO', async (t) => {
  const setup = await own(t, { SSO_TOKEN_CHECK_GRACE_PERIOD: '0' });
  const ua = new UserAgent();
  await signIn(ua, setup);
  const before = setup.sso.userInfoCalls;
  for (let i = 0; i < 3; i += 1) {
    const response = await ua.request(`${setup.proxy.url}/a.txt`);
    t.is(response.status, 200);
    await response.arrayBuffer();
  }
  t.is(setup.sso.userInfoCalls - before, 3);
});

test('within the default grace period of 60 s requests do not ask SSO', async (t) => {
  const ua = new UserAgent();
  await signIn(ua, shared);
  const before = shared.sso.userInfoCalls;
  for (let i = 0; i < 3; i += 1) {
    const response = await ua.request(`${shared.proxy.url}/a.txt`);
    t.is(response.status, 200);
    await response.arrayBuffer();
  }
  t.is(shared.sso.userInfoCalls, before);
});

test('a grace period that has passed makes the next request ask SSO once', async (t) => {
  const setup = await own(t, { SSO_TOKEN_CHECK_GRACE_PERIOD: '1' });
  const ua = new UserAgent();
  await signIn(ua, setup);
  await sleep(1_100);
  const before = setup.sso.userInfoCalls;
  for (let i = 0; i < 3; i += 1) {
    const response = await ua.request(`${setup.proxy.url}/a.txt`);
    t.is(response.status, 200);
    await response.arrayBuffer();
  }
  t.is(setup.sso.userInfoCalls - before, 1);
});

for (const [how, revoke] of [
  ['revoked (401)', (sso: OAuth2Sso) => sso.revokeAll()],
  ['refused (403)', (sso: OAuth2Sso) => sso.userInfoStatus(403)],
] as const) {
  test(`a token SSO reports ${how} drops the session: 401 to a script, back through SSO for a navigation`, async (t) => {
    const setup = await own(t, { SSO_TOKEN_CHECK_GRACE_PERIOD: '0' });
    const ua = new UserAgent();
    await signIn(ua, setup);
    t.is((await keysUnder(`${setup.prefix}session:`)).length, 1);
    revoke(setup.sso);

    const script = await ua.request(`${setup.proxy.url}/a.txt`, { navigation: false, headers: { 'sec-fetch-mode': 'cors', 'sec-fetch-site': 'same-origin' } });
    t.is(script.status, 401);
    t.false((await script.text()).includes('content of'));
    t.is((await keysUnder(`${setup.prefix}session:`)).length, 0, 'the session is gone from Redis');

    const navigation = await ua.request(`${setup.proxy.url}/a.txt`);
    t.is(navigation.status, 302);
    t.true(navigation.headers.get('location')!.startsWith(setup.sso.authorizeUrl));
  });
}

for (const [how, fail, recover] of [
  ['answers 500', async (sso: OAuth2Sso) => sso.userInfoStatus(500), async (sso: OAuth2Sso) => sso.userInfoStatus(null)],
  ['is down', (sso: OAuth2Sso) => sso.goDown(), (sso: OAuth2Sso) => sso.comeBack()],
] as const) {
  test(`while SSO ${how} at the token check the answer is 500 and the session is kept`, async (t) => {
    const setup = await own(t, { SSO_TOKEN_CHECK_GRACE_PERIOD: '0' });
    const ua = new UserAgent();
    const cookie = await signIn(ua, setup);
    await fail(setup.sso);

    const navigation = await ua.request(`${setup.proxy.url}/a.txt`);
    t.is(navigation.status, 500);
    t.is(navigation.headers.get('location'), null);
    t.false((await navigation.text()).includes('content of'));
    const script = await ua.request(`${setup.proxy.url}/a.txt`, { navigation: false, headers: { 'sec-fetch-mode': 'cors', 'sec-fetch-site': 'same-origin' } });
    t.is(script.status, 500);
    await script.arrayBuffer();

    await recover(setup.sso);
    const after = await ua.request(`${setup.proxy.url}/a.txt`);
    t.is(after.status, 200);
    t.is(await after.text(), 'content of a.txt');
    t.is((await ua.cookie(setup.proxy.url, setup.cookieName))!.value, cookie, 'the same cookie');
  });
}

test('sessions removed from Redis mid-session send the browser back through SSO', async (t) => {
  const setup = await own(t);
  const ua = new UserAgent();
  await signIn(ua, setup);
  const ok = await ua.request(`${setup.proxy.url}/a.txt`);
  t.is(ok.status, 200);
  await ok.arrayBuffer();

  // FLUSHALL would hit other tests' keys; this proxy's keys are all it sees.
  const keys = await keysUnder(setup.prefix);
  t.true(keys.length > 0);
  await redis.del(...keys);

  const navigation = await ua.request(`${setup.proxy.url}/a.txt`);
  t.is(navigation.status, 302);
  t.true(navigation.headers.get('location')!.startsWith(setup.sso.authorizeUrl));
  const again = await ua.signInOAuth2(`${setup.proxy.url}/a.txt`);
  t.is(again.response.status, 200);
  t.is(await again.response.text(), 'content of a.txt');
});
