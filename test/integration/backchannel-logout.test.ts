// OpenID Connect Back-Channel Logout against the built proxy: a real OpenID
// Provider (oidc-provider's own features.backchannelLogout) posts its logout
// tokens to one proxy instance while the browsers signed in through another,
// both on the real Redis; and tokens signed here that the proxy must refuse.
import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { generateKeyPair, importJWK, SignJWT, type JWTPayload } from 'jose';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { oauth2Sso, proxyEnv } from '../support/proxy-env.ts';
import { createBucket, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOidcIssuer, type OidcIssuer } from '../support/oidc-issuer.ts';
import { startOAuth2Sso } from '../support/oauth2-sso-server.ts';
import { freePort } from '../support/free-port.ts';
import { parseForms, UserAgent } from '../support/user-agent.ts';
import { sessionLookupId } from '../../src/auth/session-crypto.ts';

const stack = s3Stack();
const callbackPath = '/__redirect_from_sso';
const backchannelPath = '/__redirect_from_sso/backchannel';
const logoutEvent = 'http://schemas.openid.net/event/backchannel-logout';
const clientId = 's3proxy-backchannel-test';
const alice = { username: 'alice', password: 'wonderland' };
const bob = { username: 'bob', password: 'builder' };

let bucket: string;
let redis: Redis;

test.before(async () => {
  bucket = await createBucket(stack, 'backchannel');
  await putObject(stack, bucket, 'file.txt', 'content of file.txt', 'text/plain');
  redis = new Redis(stack.redisUrl);
});
test.after.always(() => redis?.disconnect());

interface Setup {
  issuer: OidcIssuer;
  /** where the browsers sign in */
  front: ProxyProcess;
  /** where the provider posts logout tokens: another instance on the same Redis */
  back: ProxyProcess;
  prefix: string;
}

async function twoPorts(): Promise<[number, number]> {
  const first = await freePort();
  let second = await freePort();
  while (second === first) second = await freePort();
  return [first, second];
}

async function setUp(t: ExecutionContext, { sessionRequired = true } = {}): Promise<Setup> {
  const [frontPort, backPort] = await twoPorts();
  const issuer = await startOidcIssuer({
    clientId,
    clientSecret: 'backchannel-client-secret',
    redirectUris: [`http://127.0.0.1:${frontPort}${callbackPath}`],
    backchannelLogoutUri: `http://127.0.0.1:${backPort}${backchannelPath}`,
    backchannelLogoutSessionRequired: sessionRequired,
  });
  t.teardown(() => issuer.close());
  const env = proxyEnv(stack, {
    bucket,
    sso: { mode: 'oidc', issuer: issuer.issuer, clientId: issuer.clientId, clientSecret: issuer.clientSecret },
    // No token re-check during the test: only the logout token can end a session.
    extra: { SSO_TOKEN_CHECK_GRACE_PERIOD: '3600' },
  });
  const front = await startProxy({ ...env, PORT: String(frontPort) });
  t.teardown(() => front.stop());
  const back = await startProxy({ ...env, PORT: String(backPort) });
  t.teardown(() => back.stop());
  return { issuer, front, back, prefix: env.REDIS_KEY_PREFIX! };
}

async function signIn(t: ExecutionContext, setup: Setup, who: { username: string; password: string }): Promise<UserAgent> {
  const ua = new UserAgent();
  const result = await ua.signInOidc(`${setup.front.url}/file.txt`, who);
  t.is(result.response.status, 200, `${who.username} signs in`);
  t.is(await result.response.text(), 'content of file.txt');
  return ua;
}

/** 200 while the browser's proxy session lives, 401 once it is gone (asked as a script's fetch, so no sign-in starts). */
async function statusOf(ua: UserAgent, proxy: ProxyProcess): Promise<number> {
  const response = await ua.request(`${proxy.url}/file.txt`, { navigation: false, headers: { 'sec-fetch-mode': 'cors', 'sec-fetch-site': 'same-origin' } });
  await response.arrayBuffer();
  return response.status;
}

/** Whether Redis still holds the session of this browser's cookie. */
async function sessionInRedis(ua: UserAgent, setup: Setup): Promise<boolean> {
  const cookie = await ua.cookie(setup.front.url, 'assets_session_id');
  if (!cookie) throw new Error('the browser has no session cookie');
  return (await redis.exists(`${setup.prefix}session:${sessionLookupId(cookie.value)}`)) === 1;
}

/** The user ends their session at the provider (its end_session page, "Yes, sign me out"), without the proxy. */
async function signOutAtProvider(t: ExecutionContext, ua: UserAgent, issuer: OidcIssuer): Promise<void> {
  const page = await ua.follow(`${issuer.issuer}/session/end?client_id=${clientId}`);
  t.is(page.response.status, 200);
  const form = parseForms(await page.response.text(), page.url).find((candidate) => candidate.action.endsWith('/session/end/confirm'));
  if (!form) throw new Error('no logout form at the provider');
  const done = await ua.submitForm(form, { logout: 'yes' });
  t.is(done.response.status, 200);
  t.regex(await done.response.text(), /You are signed out/);
}

test('signing out at the provider ends the proxy sessions of that provider session, on every instance, and no other', async (t) => {
  const setup = await setUp(t);
  const aliceHere = await signIn(t, setup, alice);
  const aliceElsewhere = await signIn(t, setup, alice); // another browser: another session at the provider
  const bobHere = await signIn(t, setup, bob);

  await signOutAtProvider(t, aliceHere, setup.issuer);

  t.is(setup.issuer.backchannelDeliveries.length, 1);
  const [delivery] = setup.issuer.backchannelDeliveries;
  t.like(delivery, { sub: 'alice-sub', ok: true });
  t.truthy(delivery!.sid, 'the logout token named the provider session');
  t.false(await sessionInRedis(aliceHere, setup), 'the session is gone from Redis');
  t.is(await statusOf(aliceHere, setup.front), 401, 'and so from the instance the browser signed in through');
  t.is(await statusOf(aliceHere, setup.back), 401);
  t.true(await sessionInRedis(aliceElsewhere, setup), "alice's other provider session keeps its proxy session");
  t.is(await statusOf(aliceElsewhere, setup.front), 200);
  t.is(await statusOf(bobHere, setup.front), 200, "bob's session survives");
  const line = await setup.back.waitForLog((l) => l.msg === 'back-channel logout');
  t.like(line, { sessions: 1, by: 'sid' });
});

test('without a sid in the logout token every session of that user ends, and another user keeps theirs', async (t) => {
  const setup = await setUp(t, { sessionRequired: false });
  const aliceHere = await signIn(t, setup, alice);
  const aliceElsewhere = await signIn(t, setup, alice);
  const bobHere = await signIn(t, setup, bob);

  await signOutAtProvider(t, aliceHere, setup.issuer);

  t.like(setup.issuer.backchannelDeliveries, [{ sub: 'alice-sub', ok: true }]);
  t.is(await statusOf(aliceHere, setup.front), 401);
  t.is(await statusOf(aliceElsewhere, setup.front), 401, "all of alice's sessions end");
  t.false(await sessionInRedis(aliceElsewhere, setup));
  t.is(await statusOf(bobHere, setup.front), 200, "bob's session survives");
  t.true(await sessionInRedis(bobHere, setup));
  const line = await setup.back.waitForLog((l) => l.msg === 'back-channel logout');
  t.like(line, { sessions: 2, by: 'sub' });
});

test('a logout token not signed by the issuer, with a nonce, for another client or without the event is refused with 400 and ends nothing', async (t) => {
  const setup = await setUp(t);
  const aliceHere = await signIn(t, setup, alice);
  const issuerKey = await importJWK(setup.issuer.signingKey, 'RS256');
  const strangerKey = (await generateKeyPair('RS256')).privateKey;
  const kid = setup.issuer.signingKey.kid as string;
  const claims = (overrides: Record<string, unknown> = {}): JWTPayload => {
    const base: Record<string, unknown> = {
      iss: setup.issuer.issuer,
      aud: clientId,
      iat: Math.floor(Date.now() / 1000),
      exp: Math.floor(Date.now() / 1000) + 120,
      jti: randomBytes(12).toString('base64url'),
      sub: 'alice-sub',
      events: { [logoutEvent]: {} },
      ...overrides,
    };
    for (const [name, value] of Object.entries(base)) if (value === undefined) delete base[name];
    return base as JWTPayload;
  };
  const sign = (payload: JWTPayload, key: Parameters<SignJWT['sign']>[0] = issuerKey) =>
    new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid, typ: 'logout+jwt' }).sign(key);
  const post = (logoutToken: string) =>
    fetch(`${setup.back.url}${backchannelPath}`, { method: 'POST', body: new URLSearchParams({ logout_token: logoutToken }) });

  const refused = {
    'a key not in the issuer key set, under its key id': await sign(claims(), strangerKey),
    'a nonce': await sign(claims({ nonce: 'an-id-token-nonce' })),
    'another audience': await sign(claims({ aud: 'another-client' })),
    'no back-channel logout event': await sign(claims({ events: undefined })),
    'another event only': await sign(claims({ events: { 'http://schemas.openid.net/event/other': {} } })),
  };
  for (const [what, token] of Object.entries(refused)) {
    const response = await post(token);
    t.is(response.status, 400, what);
    t.is(response.headers.get('cache-control'), 'no-store', what);
    t.regex(response.headers.get('content-type') ?? '', /^application\/json/, what);
    const body = (await response.json()) as { error: string; error_description: string };
    t.is(body.error, 'invalid_request', what);
    t.is(typeof body.error_description, 'string', what);
  }
  t.is(await statusOf(aliceHere, setup.front), 200, 'the session survived every refused token');
  t.true(await sessionInRedis(aliceHere, setup));

  // The same token done right ends it: the refusals above were for their defects alone.
  const good = await sign(claims());
  const accepted = await post(good);
  t.is(accepted.status, 200);
  t.is(accepted.headers.get('cache-control'), 'no-store');
  await accepted.arrayBuffer();
  t.is(await statusOf(aliceHere, setup.front), 401);

  // Played again (say, to end sessions signed in since), it is refused.
  const replayed = await post(good);
  t.is(replayed.status, 400);
  t.regex(((await replayed.json()) as { error_description: string }).error_description, /used before/);
});

test('while the issuer cannot be reached a logout token gets 503, so that the provider retries, and works once it is back', async (t) => {
  const setup = await setUp(t);
  const aliceHere = await signIn(t, setup, alice);
  const key = await importJWK(setup.issuer.signingKey, 'RS256');
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ sub: 'alice-sub', jti: randomBytes(12).toString('base64url'), events: { [logoutEvent]: {} } })
    .setProtectedHeader({ alg: 'RS256', kid: setup.issuer.signingKey.kid as string, typ: 'logout+jwt' })
    .setIssuer(setup.issuer.issuer)
    .setAudience(clientId)
    .setIssuedAt(now)
    .setExpirationTime(now + 120)
    .sign(key);
  const post = () => fetch(`${setup.back.url}${backchannelPath}`, { method: 'POST', body: new URLSearchParams({ logout_token: token }) });

  // The instance that takes logout tokens has not met the issuer yet: no discovery, no keys.
  await setup.issuer.goDown();
  const away = await post();
  t.is(away.status, 503);
  t.is(away.headers.get('cache-control'), 'no-store');
  t.truthy(away.headers.get('retry-after'));
  t.is(((await away.json()) as { error: string }).error, 'temporarily_unavailable');
  t.true(await sessionInRedis(aliceHere, setup), 'nothing ended');

  await setup.issuer.comeBack();
  const back = await post();
  t.is(back.status, 200, 'the same token, not spent by the failed attempt');
  await back.arrayBuffer();
  t.false(await sessionInRedis(aliceHere, setup));
});

test('the back-channel logout endpoint takes only a form-encoded POST', async (t) => {
  const setup = await setUp(t);
  const url = `${setup.back.url}${backchannelPath}`;
  const get = await fetch(url);
  t.is(get.status, 405);
  t.is(get.headers.get('allow'), 'POST');
  await get.arrayBuffer();
  const json = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"logout_token":"x"}' });
  t.is(json.status, 400);
  t.is(((await json.json()) as { error: string }).error, 'invalid_request');
  const empty = await fetch(url, { method: 'POST', body: new URLSearchParams({}) });
  t.is(empty.status, 400);
  t.regex(((await empty.json()) as { error_description: string }).error_description, /no logout_token/);
  const huge = await fetch(url, { method: 'POST', body: new URLSearchParams({ logout_token: 'x'.repeat(100_000) }) });
  t.is(huge.status, 413);
  await huge.arrayBuffer();
});

test('in plain OAuth2 mode there is no back-channel logout endpoint', async (t) => {
  const sso = await startOAuth2Sso();
  t.teardown(() => sso.close());
  const proxy = await startProxy(proxyEnv(stack, { bucket, sso: oauth2Sso(sso) }));
  t.teardown(() => proxy.stop());
  for (const method of ['POST', 'GET']) {
    const response = await fetch(`${proxy.url}${backchannelPath}`, {
      method,
      ...(method === 'POST' ? { body: new URLSearchParams({ logout_token: 'x' }) } : {}),
    });
    t.is(response.status, 404, method);
    await response.arrayBuffer();
  }
});
