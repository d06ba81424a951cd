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

async function loginStateOf(setup: Setup, state: string): Promise<Record<string, unknown> | undefined> {
  const stored = await redis.get(`${setup.prefix}login:${state}`);
  return stored === null ? undefined : (JSON.parse(stored) as Record<string, unknown>);
}

function setCookieNamed(setCookies: string[], name: string): string | undefined {
  return setCookies.find((line) => line.startsWith(`${name}=`));
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
  const response = await ua.request(`${shared.proxy.url}/file.txt`, { navigation: false });
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
  const binding = setCookieNamed(flow.setCookies, `${setup.cookieName}_login`);
  t.truthy(binding);
  t.true(attributesOf(binding!).has('secure'));

  // The browser comes back over https (TLS ends at the router in front of the proxy).
  const back = await approve(ua, flow);
  t.is(back.origin, `https://${host}`);
  const cookie = await ua.jar.getCookieString(`https://${host}/`);
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

test('the login state lives in Redis under a single-use key with the default TTL of 600 s, holding the PKCE verifier', async (t) => {
  const ua = new UserAgent();
  const flow = await navigate(ua, shared.proxy, '/a.txt');
  const state = flow.authorize.searchParams.get('state')!;
  const key = `${shared.prefix}login:${state}`;
  const ttl = await redis.ttl(key);
  t.true(ttl > 590 && ttl <= 600, `TTL ${ttl}`);
  const stored = await loginStateOf(shared, state);
  t.is(stored?.returnTo, '/a.txt');
  const verifier = stored?.codeVerifier as string;
  t.is(createHash('sha256').update(verifier).digest('base64url'), flow.authorize.searchParams.get('code_challenge')!);
  t.is(stored?.nonce, undefined, 'plain OAuth2 has no nonce');

  t.is((await callback(ua, await approve(ua, flow))).status, 302);
  t.is(await redis.exists(key), 0, 'taken when used');
});

test('LOGIN_STATE_TTL sets the login state TTL', async (t) => {
  const setup = await own(t, { LOGIN_STATE_TTL: '120' });
  const ua = new UserAgent();
  const flow = await navigate(ua, setup.proxy, '/a.txt');
  const ttl = await redis.ttl(`${setup.prefix}login:${flow.authorize.searchParams.get('state')}`);
  t.true(ttl > 110 && ttl <= 120, `TTL ${ttl}`);
  const binding = setCookieNamed(flow.setCookies, `${setup.cookieName}_login`)!;
  t.is(attributesOf(binding).get('max-age'), '120');
});

test('a return URL with a trailing "?" comes back with it', async (t) => {
  const ua = new UserAgent();
  const flow = await navigate(ua, shared.proxy, '/file.txt?');
  t.is((await loginStateOf(shared, flow.authorize.searchParams.get('state')!))?.returnTo, '/file.txt?');
  const response = await callback(ua, await approve(ua, flow));
  t.is(response.status, 302);
  t.is(response.headers.get('location'), `${shared.proxy.url}/file.txt?`);
});

test('a return URL query is kept byte for byte', async (t) => {
  const ua = new UserAgent();
  const flow = await navigate(ua, shared.proxy, '/file.txt?a=1&b=%20');
  t.is((await loginStateOf(shared, flow.authorize.searchParams.get('state')!))?.returnTo, '/file.txt?a=1&b=%20');
  const response = await callback(ua, await approve(ua, flow));
  t.is(response.status, 302);
  t.is(response.headers.get('location'), `${shared.proxy.url}/file.txt?a=1&b=%20`);
  const object = await ua.request(response.headers.get('location')!);
  t.is(object.status, 200);
  t.is(await object.text(), 'content of file.txt');
});

test('several tabs sign in at once, finishing in any order, with one binding cookie between them', async (t) => {
  const setup = await own(t);
  const ua = new UserAgent();
  const paths = ['/a.txt', '/b.txt', '/c.txt'];
  const flows: Flow[] = [];
  for (const path of paths) flows.push(await navigate(ua, setup.proxy, path));

  const bindingName = `${setup.cookieName}_login`;
  const bindings = flows.map((flow) => setCookieNamed(flow.setCookies, bindingName)?.split(';')[0]);
  t.is(new Set(bindings).size, 1, 'every tab shares the same binding');
  const states = new Set(flows.map((flow) => flow.authorize.searchParams.get('state')));
  t.is(states.size, 3, 'every tab has a state of its own');

  const approved = [];
  for (const flow of flows) approved.push(await approve(ua, flow));
  for (const index of [2, 0, 1]) {
    const response = await callback(ua, approved[index]!);
    t.is(response.status, 302, paths[index]);
    const location = response.headers.get('location')!;
    t.is(location, setup.proxy.url + paths[index]);
    const object = await ua.request(location);
    t.is(object.status, 200, paths[index]);
    t.is(await object.text(), `content of ${paths[index]!.slice(1)}`);
  }

  const names = (await ua.allCookies()).map((cookie) => cookie.name).sort();
  t.deepEqual(names, [setup.cookieName, bindingName].sort(), 'cookies do not pile up');
});

test('a login state taken to another browser is refused with 403', async (t) => {
  const setup = await own(t);
  const mine = new UserAgent();
  const other = new UserAgent();
  // The other browser has a binding of its own: it just is not this one.
  await navigate(other, setup.proxy, '/b.txt');
  const back = await approve(mine, await navigate(mine, setup.proxy, '/a.txt'));
  const response = await callback(other, back);
  t.is(response.status, 403);
  t.true((await response.text()).includes(tooLong));
  t.is(await other.cookie(setup.proxy.url, setup.cookieName), undefined);
  t.is(setup.sso.tokenCalls, 0, 'the code is never exchanged');
});

test('a login state used twice is refused with 403', async (t) => {
  const setup = await own(t);
  const ua = new UserAgent();
  const back = await approve(ua, await navigate(ua, setup.proxy, '/a.txt'));
  t.is((await callback(ua, back)).status, 302);
  // The same browser without its session (the binding cookie is still there).
  const session = (await ua.cookie(setup.proxy.url, setup.cookieName))!;
  await ua.setCookie(`${setup.cookieName}=; Path=/; Max-Age=0`, setup.proxy.url);
  t.truthy(await ua.cookie(setup.proxy.url, `${setup.cookieName}_login`));
  const again = await callback(ua, back);
  t.is(again.status, 403);
  t.true((await again.text()).includes('Sign-in may have taken too long'));
  t.is(setup.sso.tokenCalls, 1);
  t.truthy(session.value);
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
  // The binding cookie lives as long as the state: keep it, so only the state's expiry is tested.
  const binding = setCookieNamed(flow.setCookies, `${setup.cookieName}_login`)!.split(';')[0]!;
  await sleep(2_100);
  t.is(await redis.exists(`${setup.prefix}login:${flow.authorize.searchParams.get('state')}`), 0);
  const response = await callback(ua, back, { cookie: binding });
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
  const setup = await own(t, { SESSION_COOKIE_NAME: 'my_session', SESSION_COOKIE_SAMESITE: 'None', SESSION_MAX_AGE: '600' });
  const ua = new UserAgent();
  // SameSite=None is only accepted by browsers on Secure cookies: sign in over https, as deployed.
  const flow = await navigate(ua, setup.proxy, '/file.txt', { 'x-forwarded-proto': 'https' });
  t.truthy(setCookieNamed(flow.setCookies, 'my_session_login'));
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
  // A second sign-in in the same browser (its session cookie still sent at the callback).
  const jarCookies = await ua.jar.getCookieString(setup.proxy.url);
  const bindingOnly = jarCookies
    .split('; ')
    .filter((pair) => pair.startsWith(`${setup.cookieName}_login=`))
    .join('; ');
  const flow = await rawRequest(setup.proxy.url, '/b.txt', { ...navigationHeaders(), cookie: bindingOnly });
  t.is(flow.status, 302);
  const back = await approve(ua, { authorize: new URL(flow.headers.location!), location: flow.headers.location!, setCookies: [] });
  const response = await callback(ua, back);
  t.is(response.status, 302);
  const second = (await ua.cookie(setup.proxy.url, setup.cookieName))!.value;
  t.not(second, first);

  const old = await rawRequest(setup.proxy.url, '/file.txt', { cookie: `${setup.cookieName}=${first}` });
  t.is(old.status, 401);
  const current = await rawRequest(setup.proxy.url, '/file.txt', { cookie: `${setup.cookieName}=${second}` });
  t.is(current.status, 200);
});

test('Redis holds the session under the prefix, without the cookie value, the token or the email in clear', async (t) => {
  const setup = await own(t);
  const ua = new UserAgent();
  const flow = await navigate(ua, setup.proxy, '/file.txt');
  const state = flow.authorize.searchParams.get('state')!;
  // The login state is under the prefix, and nowhere else.
  const withState: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `*${state}*`, 'COUNT', 1000);
    cursor = next;
    withState.push(...batch);
  } while (cursor !== '0');
  t.deepEqual(withState, [`${setup.prefix}login:${state}`]);

  t.is((await callback(ua, await approve(ua, flow))).status, 302);
  const cookieValue = (await ua.cookie(setup.proxy.url, setup.cookieName))!.value;
  const token = setup.sso.issuedTokens.at(-1)!;
  const keys = await keysUnder(setup.prefix);
  t.is(keys.filter((key) => key.startsWith(`${setup.prefix}session:`)).length, 1);
  t.is(keys.length, 1, `only the session is left: ${keys.join(', ')}`);

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
  const ttl = await redis.ttl(keys[0]!);
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

    const script = await ua.request(`${setup.proxy.url}/a.txt`, { navigation: false });
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
    const script = await ua.request(`${setup.proxy.url}/a.txt`, { navigation: false });
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
