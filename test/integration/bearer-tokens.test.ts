// Bearer tokens against the built proxy, the real S3 server and Redis: an
// API key's JWT downloads and lists; every kind of bad token is 401 with the
// same body as no credentials at all and the reason in the log; a key file
// added while the proxy runs counts at once; in OIDC mode the issuer's JWT
// access tokens (oidc-provider, for a resource indicator) are accepted.
import test, { type ExecutionContext } from 'ava';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as client from 'openid-client';
import { SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';
import { runProxyExpectingExit, startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { oauth2Sso, proxyEnv } from '../support/proxy-env.ts';
import { createBucket, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { startOidcIssuer, type OidcIssuer } from '../support/oidc-issuer.ts';
import { freePort } from '../support/free-port.ts';
import { UserAgent } from '../support/user-agent.ts';

const stack = s3Stack();
const audience = 'https://assets.example.org';
const ada = 'ada@example.org';
const report = 'bytes of the quarterly report\n';
const callbackPath = '/__redirect_from_sso';

let bucket: string;
let keysDir: string;
let sso: OAuth2Sso;
let proxy: ProxyProcess;
const adaKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });

const spki = (key: KeyObject): string => key.export({ type: 'spki', format: 'pem' }).toString();
const now = (): number => Math.floor(Date.now() / 1000);

async function apiToken(claims: JWTPayload = {}, key: KeyObject | Uint8Array = adaKeys.privateKey, alg = 'RS256'): Promise<string> {
  const t = now();
  return new SignJWT({ sub: ada, aud: audience, iat: t, exp: t + 300, ...claims }).setProtectedHeader({ alg, typ: 'JWT' }).sign(key);
}

async function get(url: string, token: string | undefined, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...headers }, redirect: 'manual' });
}

/** the body of an answer with the request id taken out, to compare answers */
const withoutRequestId = (body: string, response: Response): string => body.replaceAll(response.headers.get('x-request-id') ?? '\u0000', '<id>');

test.before(async () => {
  bucket = await createBucket(stack, 'bearer-tokens');
  await putObject(stack, bucket, 'docs/report.txt', report, 'text/plain');
  await putObject(stack, bucket, 'docs/notes.txt', 'notes', 'text/plain');
  keysDir = await mkdtemp(path.join(tmpdir(), 'bearer-it-'));
  await writeFile(path.join(keysDir, `${ada}_public.pem`), spki(adaKeys.publicKey));
  sso = await startOAuth2Sso();
  proxy = await startProxy(
    proxyEnv(stack, { bucket, sso: oauth2Sso(sso), extra: { API_PUBLIC_KEYS_DIR: keysDir, API_AUDIENCE: audience } }),
  );
});

test.after.always(async () => {
  await proxy?.stop();
  await sso?.close();
  if (keysDir) await rm(keysDir, { recursive: true, force: true });
});

test('an API key\'s bearer token downloads an object, kept out of shared caches, with the user in the log line', async (t) => {
  const response = await get(`${proxy.url}/docs/report.txt`, await apiToken());
  t.is(response.status, 200);
  t.is(await response.text(), report);
  t.regex(response.headers.get('cache-control') ?? '', /\bprivate\b/);
  t.is(response.headers.get('set-cookie'), null, 'a bearer request gets no session');
  const requestId = response.headers.get('x-request-id');
  const line = await proxy.waitForLog((l) => l.msg === 'request' && l.requestId === requestId);
  t.is(line.user, ada);
  t.is(line.status, 200);
});

test('an API key\'s bearer token lists a folder as JSON', async (t) => {
  const response = await get(`${proxy.url}/docs/`, await apiToken(), { accept: 'application/json' });
  t.is(response.status, 200);
  t.regex(response.headers.get('cache-control') ?? '', /\bprivate\b/);
  const listing = (await response.json()) as { objects: Array<{ name: string; size: number }> };
  t.deepEqual(
    listing.objects.map((o) => [o.name, o.size]).sort(),
    [
      ['notes.txt', 5],
      ['report.txt', report.length],
    ],
  );
});

const refusals: Array<[string, () => Promise<string>, RegExp]> = [
  ['a token signed by another key', () => apiToken({}, otherKeys.privateKey), /signature does not verify/],
  ['alg none', async () => `${new UnsecuredJWT({ sub: ada, aud: audience, iat: now(), exp: now() + 60 }).encode()}x`, /alg "none"/],
  ['HS256 with the user\'s public key as the secret', () => apiToken({}, new TextEncoder().encode(spki(adaKeys.publicKey)), 'HS256'), /alg "HS256"/],
  ['an expired token', () => apiToken({ iat: now() - 400, exp: now() - 60 }), /^expired$/],
  ['a token without exp', () => apiToken({ exp: undefined }), /^no exp$/],
  ['an iat in the future', () => apiToken({ iat: now() + 300, exp: now() + 600 }), /iat is in the future/],
  ['exp more than 10 minutes after iat', () => apiToken({ exp: now() + 3600 }), /more than 600 s after iat/],
  ['the wrong aud', () => apiToken({ aud: 'https://other.example.org' }), /^wrong aud$/],
  ['an unknown user', () => apiToken({ sub: 'mallory@example.org' }), /no key file for mallory@example.org/],
  ['a sub with path characters', () => apiToken({ sub: `../${path.basename(keysDir)}/${ada}` }), /sub is not an email/],
  ['something that is not a JWT', async () => 'opaque-token-value', /not a signed JWT/],
  ['two tokens in one header, the first of them good', async () => `${await apiToken()} ${await apiToken()}`, /not a signed JWT/],
];

for (const [name, make, reason] of refusals) {
  test(`refused with 401, the same answer as no credentials and the reason only in the log: ${name}`, async (t) => {
    const token = await make();
    const response = await get(`${proxy.url}/docs/report.txt`, token);
    t.is(response.status, 401);
    t.is(response.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
    const body = await response.text();
    const anonymous = await get(`${proxy.url}/docs/report.txt`, undefined);
    t.is(anonymous.status, 401);
    t.is(withoutRequestId(body, response), withoutRequestId(await anonymous.text(), anonymous), 'nothing about the token in the body');
    const requestId = response.headers.get('x-request-id');
    const refused = await proxy.waitForLog((l) => l.msg === 'bearer token refused' && l.requestId === requestId);
    t.regex(String(refused.reason), reason);
    t.false(proxy.stdout().includes(token), 'the token itself is never logged');
  });
}

test('a bad bearer token on a browser navigation is 401, never a redirect to SSO', async (t) => {
  // fetch() would overwrite Sec-Fetch-Mode; the user agent sends a navigation's headers as a browser does
  const response = await new UserAgent().request(`${proxy.url}/docs/report.txt`, {
    navigation: true,
    headers: { authorization: `Bearer ${await apiToken({ aud: 'https://other.example.org' })}` },
  });
  t.is(response.status, 401);
  t.is(response.headers.get('location'), null);
  t.is(response.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
});

test('a bad bearer token does not fall back to a valid session cookie', async (t) => {
  const user = new UserAgent();
  t.is((await user.signInOAuth2(`${proxy.url}/docs/report.txt`)).response.status, 200);
  const withCookie = await user.request(`${proxy.url}/docs/report.txt`, { navigation: false });
  t.is(withCookie.status, 200);
  const both = await user.request(`${proxy.url}/docs/report.txt`, { navigation: false, headers: { authorization: `Bearer ${await apiToken({}, otherKeys.privateKey)}` } });
  t.is(both.status, 401);
});

test('a key file added while the proxy runs is accepted at once', async (t) => {
  const grace = `grace-${randomBytes(3).toString('hex')}@example.org`;
  const keys = generateKeyPairSync('ed25519');
  const token = await apiToken({ sub: grace }, keys.privateKey, 'EdDSA');
  t.is((await get(`${proxy.url}/docs/report.txt`, token)).status, 401);
  await writeFile(path.join(keysDir, `${grace}_public.pem`), spki(keys.publicKey));
  const response = await get(`${proxy.url}/docs/report.txt`, token);
  t.is(response.status, 200);
  t.is(await response.text(), report);
});

test('API_PUBLIC_KEYS_DIR that does not exist stops start-up with one line naming it', async (t) => {
  const env = proxyEnv(stack, { bucket, sso: oauth2Sso(sso), extra: { API_PUBLIC_KEYS_DIR: path.join(keysDir, 'missing'), API_AUDIENCE: audience } });
  const { code, stderr } = await runProxyExpectingExit(env);
  t.is(code, 1);
  const lines = stderr.trim().split('\n');
  t.is(lines.length, 1);
  t.regex(lines[0]!, /^configuration error: API_PUBLIC_KEYS_DIR: no such directory/);
});

test('API_PUBLIC_KEYS_DIR without API_AUDIENCE stops start-up with one line naming API_AUDIENCE', async (t) => {
  const env = proxyEnv(stack, { bucket, sso: oauth2Sso(sso), extra: { API_PUBLIC_KEYS_DIR: keysDir } });
  const { code, stderr } = await runProxyExpectingExit(env);
  t.is(code, 1);
  t.deepEqual(
    stderr.trim().split('\n').map((l) => l.replace(/ \(.*$/, '')),
    ['configuration error: API_AUDIENCE: required when API_PUBLIC_KEYS_DIR is set'],
  );
});

// --- OIDC access tokens ------------------------------------------------------

const resource = 'urn:s3proxy:test-api';
const oidcAccounts = [
  { username: 'alice', password: 'wonderland', sub: 'alice-sub', email: 'alice@example.org', name: 'Alice Example', groups: ['uploaders', 'staff'] },
  { username: 'bob', password: 'builder', sub: 'bob-sub', email: 'bob@example.org', name: 'Bob Example', groups: ['staff'] },
];

interface OidcSetup {
  issuer: OidcIssuer;
  proxy: ProxyProcess;
  /** tokens from a real authorization-code flow at the issuer; with the resource indicator the access token is a JWT */
  codeFlow(username: 'alice' | 'bob', withResource: boolean): Promise<{ accessToken: string; idToken: string }>;
}

async function oidcSetUp(t: ExecutionContext, tokenAudience: string, extra: Record<string, string> = {}): Promise<OidcSetup> {
  const port = await freePort();
  const redirectUri = `http://127.0.0.1:${port}${callbackPath}`;
  const issuer = await startOidcIssuer({
    clientId: 's3proxy-test',
    clientSecret: 'oidc-client-secret',
    redirectUris: [redirectUri],
    accounts: oidcAccounts,
    jwtAccessTokens: { resource, audience: tokenAudience },
  });
  t.teardown(() => issuer.close());
  const oidcProxy = await startProxy(
    proxyEnv(stack, {
      bucket,
      sso: { mode: 'oidc', issuer: issuer.issuer, clientId: issuer.clientId, clientSecret: issuer.clientSecret },
      extra: { PORT: String(port), API_AUDIENCE: audience, ...extra },
    }),
  );
  t.teardown(() => oidcProxy.stop());

  const config = await client.discovery(new URL(issuer.issuer), issuer.clientId, issuer.clientSecret, client.ClientSecretPost(issuer.clientSecret), {
    execute: [client.allowInsecureRequests],
  });
  const codeFlow = async (username: 'alice' | 'bob', withResource: boolean) => {
    const account = oidcAccounts.find((a) => a.username === username)!;
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const authorize = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: withResource ? 'openid email profile api' : 'openid email profile',
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      ...(withResource ? { resource } : {}),
    });
    const user = new UserAgent();
    const landed = await user.signInOidc(authorize, { username, password: account.password }, { stopAt: (url) => url.pathname === callbackPath });
    const callback = landed.chain.at(-1)?.location;
    if (!callback) throw new Error(`no redirect to the callback: ${landed.response.status}`);
    const tokens = await client.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
    return { accessToken: tokens.access_token, idToken: tokens.id_token ?? '' };
  };
  return { issuer, proxy: oidcProxy, codeFlow };
}

test('OIDC: a JWT access token of the issuer for API_AUDIENCE downloads, as the user its claims name', async (t) => {
  const { proxy: oidcProxy, codeFlow } = await oidcSetUp(t, audience);
  const tokens = await codeFlow('alice', true);
  t.is(tokens.accessToken.split('.').length, 3, 'the issuer issued a JWT access token');
  const response = await get(`${oidcProxy.url}/docs/report.txt`, tokens.accessToken);
  t.is(response.status, 200);
  t.is(await response.text(), report);
  const requestId = response.headers.get('x-request-id');
  t.is((await oidcProxy.waitForLog((l) => l.msg === 'request' && l.requestId === requestId)).user, 'alice@example.org');
});

test('OIDC: a JWT access token for SSO_CLIENT_ID is accepted too', async (t) => {
  const { proxy: oidcProxy, codeFlow } = await oidcSetUp(t, 's3proxy-test');
  t.is((await get(`${oidcProxy.url}/docs/report.txt`, (await codeFlow('alice', true)).accessToken)).status, 200);
});

test('OIDC: a JWT access token for another audience, an ID token and an opaque token are refused', async (t) => {
  const { proxy: oidcProxy, codeFlow } = await oidcSetUp(t, 'https://other-api.example.org');
  const tokens = await codeFlow('alice', true);
  const opaque = await codeFlow('alice', false);
  const cases: Array<[string, string, RegExp]> = [
    ['another audience', tokens.accessToken, /wrong aud/],
    ['an ID token', tokens.idToken, /an ID token/],
    ['an opaque access token', opaque.accessToken, /not a signed JWT|API_PUBLIC_KEYS_DIR is not set/],
  ];
  for (const [name, token, reason] of cases) {
    const response = await get(`${oidcProxy.url}/docs/report.txt`, token);
    t.is(response.status, 401, name);
    const requestId = response.headers.get('x-request-id');
    const line = await oidcProxy.waitForLog((l) => l.msg === 'bearer token refused' && l.requestId === requestId);
    t.regex(String(line.reason), reason, name);
  }
});

test('OIDC: the groups claim, of an access token and of a sign-in, is what UPLOAD_ALLOWED_USERS group: entries match', async (t) => {
  const { proxy: oidcProxy, codeFlow } = await oidcSetUp(t, audience, { UPLOAD_PREFIX: 'uploads/{user}/', UPLOAD_ALLOWED_USERS: 'group:uploaders' });
  const ask = (authorization: Record<string, string>) =>
    fetch(`${oidcProxy.url}/__s3proxy/uploads`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authorization },
      body: JSON.stringify({ filename: `groups-${randomBytes(3).toString('hex')}.txt`, type: 'text/plain', size: 5 }),
    });
  // bearer: alice is in uploaders, bob is not
  t.is((await ask({ authorization: `Bearer ${(await codeFlow('alice', true)).accessToken}` })).status, 200);
  const bob = await ask({ authorization: `Bearer ${(await codeFlow('bob', true)).accessToken}` });
  t.is(bob.status, 403);
  t.is(((await bob.json()) as { error: { code: string } }).error.code, 'not_allowed');

  // sign-in: the session keeps the groups from the ID token and user info
  for (const [username, password, status] of [['alice', 'wonderland', 200], ['bob', 'builder', 403]] as const) {
    const user = new UserAgent();
    const signedIn = await user.signInOidc(`${oidcProxy.url}/docs/report.txt`, { username, password });
    t.is(signedIn.response.status, 200, `${username} signs in`);
    const response = await user.request(`${oidcProxy.url}/__s3proxy/uploads`, {
      method: 'POST',
      navigation: false,
      headers: { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' },
      body: JSON.stringify({ filename: `groups-${randomBytes(3).toString('hex')}.txt`, type: 'text/plain', size: 5 }),
    });
    t.is(response.status, status, `${username} with a session cookie`);
  }
});

test('OIDC: while the issuer\'s keys cannot be fetched a JWT access token gets 503, and works once they can', async (t) => {
  const { issuer, proxy: oidcProxy, codeFlow } = await oidcSetUp(t, audience);
  const { accessToken } = await codeFlow('alice', true);
  // the proxy has not fetched discovery or keys yet: it asks only when a token needs them
  await issuer.goDown();
  const down = await get(`${oidcProxy.url}/docs/report.txt`, accessToken);
  t.is(down.status, 503);
  const requestId = down.headers.get('x-request-id');
  t.truthy(await oidcProxy.waitForLog((l) => l.msg === 'bearer token could not be checked' && l.requestId === requestId));
  await issuer.comeBack();
  t.is((await get(`${oidcProxy.url}/docs/report.txt`, accessToken)).status, 200);
});
