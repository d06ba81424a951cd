// The sign-in specification in OpenID Connect mode (OIDC_ISSUER), against the
// built proxy, the real Redis and S3, and a real OpenID Provider
// (oidc-provider) with a login form that checks passwords.
import test, { type ExecutionContext } from 'ava';
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv } from '../support/proxy-env.ts';
import { createBucket, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOidcIssuer, type OidcIssuer } from '../support/oidc-issuer.ts';
import { freePort } from '../support/free-port.ts';
import { parseForms, UserAgent } from '../support/user-agent.ts';
import { flowCookieName, flowId, loginStateKey, openLoginState, sealLoginState, type OpenedLoginState } from '../../src/auth/login-state-cookie.ts';

const stack = s3Stack();
const callbackPath = '/__redirect_from_sso';
const alice = { username: 'alice', password: 'wonderland' };

let bucket: string;
let redis: Redis;

interface Setup {
  issuer: OidcIssuer;
  proxy: ProxyProcess;
  prefix: string;
}

/** An issuer and a proxy of the test's own: the issuer must know the proxy's redirect URI up front. */
async function setUp(t: ExecutionContext, extra: Record<string, string> = {}): Promise<Setup> {
  const port = await freePort();
  const issuer = await startOidcIssuer({
    clientId: 's3proxy-test',
    clientSecret: 'oidc-client-secret',
    redirectUris: [`http://127.0.0.1:${port}${callbackPath}`],
  });
  t.teardown(() => issuer.close());
  const env = proxyEnv(stack, {
    bucket,
    sso: { mode: 'oidc', issuer: issuer.issuer, clientId: issuer.clientId, clientSecret: issuer.clientSecret },
    extra: { PORT: String(port), ...extra },
  });
  const proxy = await startProxy(env);
  t.teardown(() => proxy.stop());
  return { issuer, proxy, prefix: env.REDIS_KEY_PREFIX! };
}

test.before(async () => {
  bucket = await createBucket(stack, 'sign-in-oidc');
  await putObject(stack, bucket, 'file.txt', 'content of file.txt', 'text/plain');
  redis = new Redis(stack.redisUrl);
});

test.after.always(() => {
  redis?.disconnect();
});

/** The sealed login state the browser holds for `state`, opened with the key derived from the client secret. */
async function loginStateIn(ua: UserAgent, setup: Setup, state: string): Promise<{ name: string; opened: OpenedLoginState }> {
  const name = flowCookieName('assets_session_id', flowId(state));
  const cookie = await ua.cookie(`${setup.proxy.url}${callbackPath}`, name);
  if (!cookie) throw new Error(`the browser holds no ${name}`);
  const opened = await openLoginState(loginStateKey(setup.issuer.clientSecret), cookie.value);
  if (!opened) throw new Error('the login state cookie does not open with the client secret');
  return { name, opened };
}

test('a sign-in through the login form lands on the object, with nonce and PKCE S256 on the way', async (t) => {
  const setup = await setUp(t);
  const { issuer, proxy, prefix } = setup;
  const ua = new UserAgent();

  // Up to the login page first, to look at what the proxy keeps meanwhile.
  const toLogin = await ua.follow(`${proxy.url}/file.txt`);
  t.is(toLogin.response.status, 200);
  const authorize = issuer.authorizeRequests.at(-1)!;
  t.is(authorize.response_type, 'code');
  t.is(authorize.scope, 'openid email profile');
  t.is(authorize.code_challenge_method, 'S256');
  t.is(authorize.redirect_uri, `${proxy.url}${callbackPath}`);
  t.regex(authorize.nonce ?? '', /^[A-Za-z0-9_-]{22,}$/);
  t.regex(authorize.state ?? '', /^[A-Za-z0-9_-]{22,}$/);
  const { opened: stored } = await loginStateIn(ua, setup, authorize.state!);
  t.is(stored.nonce, authorize.nonce);
  t.is(stored.returnTo, `${proxy.url}/file.txt`);
  t.is(createHash('sha256').update(stored.codeVerifier).digest('base64url'), authorize.code_challenge!);
  t.deepEqual(await redis.keys(`${prefix}*`), [], 'a sign-in in progress costs Redis nothing');

  const login = parseForms(await toLogin.response.text(), toLogin.url).find((form) => form.id === 'login-form')!;
  const result = await ua.submitForm(login, alice);
  t.is(result.response.status, 200);
  t.is(await result.response.text(), 'content of file.txt');
  t.is(new URL(result.url).pathname, '/file.txt');
  t.truthy(await ua.cookie(proxy.url, 'assets_session_id'));
  t.deepEqual(issuer.loginAttempts, [{ username: 'alice', ok: true }]);
});

test('the identity comes from the userinfo endpoint', async (t) => {
  const { issuer, proxy } = await setUp(t);
  const ua = new UserAgent();
  const result = await ua.signInOidc(`${proxy.url}/file.txt`, alice);
  t.is(result.response.status, 200);
  await result.response.arrayBuffer();
  t.is(issuer.userInfoCalls, 1, 'asked once, at sign-in');
  const line = await proxy.waitForLog((l) => l.msg === 'signed in');
  t.is(line.user, 'alice@example.org');
  // The request log names the user too, and never the token.
  const token = issuer.issuedTokens.at(-1)!;
  t.false(proxy.stdout().includes(token));
});

test('an ID token whose nonce is not the one sent is refused', async (t) => {
  const setup = await setUp(t);
  const { issuer, proxy } = setup;
  const ua = new UserAgent();
  const toLogin = await ua.follow(`${proxy.url}/file.txt`);
  const state = issuer.authorizeRequests.at(-1)!.state!;
  // What an attacker replaying someone else's ID token would amount to: the
  // nonce the proxy expects is not the one in the token.
  const { name, opened } = await loginStateIn(ua, setup, state);
  const { expiresAt: _expiresAt, ...sealed } = opened;
  const resealed = await sealLoginState(loginStateKey(issuer.clientSecret), { ...sealed, nonce: 'a-different-nonce-of-enough-length' }, 600);
  await ua.setCookie(`${name}=${resealed}; Path=${callbackPath}; HttpOnly; SameSite=Lax`, proxy.url);

  const login = parseForms(await toLogin.response.text(), toLogin.url).find((form) => form.id === 'login-form')!;
  const result = await ua.submitForm(login, alice);
  t.is(new URL(result.url).pathname, callbackPath);
  t.is(result.response.status, 403);
  await result.response.arrayBuffer();
  t.is(await ua.cookie(proxy.url, 'assets_session_id'), undefined);
  t.is(issuer.tokenCalls, 1, 'the code was exchanged, and the ID token then refused');
});

test('a wrong password never yields a session', async (t) => {
  const { issuer, proxy } = await setUp(t);
  const ua = new UserAgent();
  const result = await ua.signInOidc(`${proxy.url}/file.txt`, { username: 'alice', password: 'not-wonderland' });
  t.true(result.loginRejected);
  await result.response.arrayBuffer();
  t.deepEqual(issuer.loginAttempts, [{ username: 'alice', ok: false }]);
  t.is(issuer.tokenCalls, 0);
  t.is(await ua.cookie(proxy.url, 'assets_session_id'), undefined);
  const response = await ua.request(`${proxy.url}/file.txt`, { navigation: false, headers: { 'sec-fetch-mode': 'cors', 'sec-fetch-site': 'same-origin' } });
  t.is(response.status, 401);
  await response.arrayBuffer();
});

test('a token revoked at the issuer sends the browser back through sign-in when checked on every request', async (t) => {
  const { issuer, proxy, prefix } = await setUp(t, { SSO_TOKEN_CHECK_GRACE_PERIOD: '0' });
  const ua = new UserAgent();
  const signedIn = await ua.signInOidc(`${proxy.url}/file.txt`, alice);
  t.is(signedIn.response.status, 200);
  await signedIn.response.arrayBuffer();

  const before = issuer.userInfoCalls;
  const ok = await ua.request(`${proxy.url}/file.txt`);
  t.is(ok.status, 200);
  await ok.arrayBuffer();
  t.is(issuer.userInfoCalls - before, 1, 'grace 0: userinfo asked on every request');

  await issuer.revokeAll();
  const navigation = await ua.request(`${proxy.url}/file.txt`);
  t.is(navigation.status, 302);
  t.true(navigation.headers.get('location')!.startsWith(`${issuer.issuer}/auth?`));
  t.deepEqual(await redis.keys(`${prefix}session:*`), []);

  // The issuer's own sign-in survived revocation: back without the login form.
  const again = await ua.signInOidc(`${proxy.url}/file.txt`, alice);
  t.is(again.response.status, 200);
  t.is(await again.response.text(), 'content of file.txt');
  t.is(again.loginSubmissions, 0);
});
