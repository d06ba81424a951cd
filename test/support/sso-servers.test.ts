/**
 * The test identity providers work on their own (no proxy involved), driven by
 * openid-client v6 as the proxy will drive them, plus the UserAgent.
 */
import { createServer, type Server } from 'node:http';

import test from 'ava';
import * as client from 'openid-client';

import { freePort } from './free-port.ts';
import { startOAuth2Sso, type OAuth2Sso } from './oauth2-sso-server.ts';
import { startOidcIssuer, type OidcIssuer, type OidcIssuerOptions } from './oidc-issuer.ts';
import { parseForms, UserAgent } from './user-agent.ts';

// ---------- helpers ----------

interface Callback {
  url: string;
  hits: URL[];
  close(): Promise<void>;
}

/** A stand-in for the relying party's callback: answers 200 and records what it got. */
async function startCallback(): Promise<Callback> {
  const hits: URL[] = [];
  const server: Server = createServer((req, res) => {
    hits.push(new URL(req.url ?? '/', 'http://127.0.0.1'));
    res.writeHead(200, { 'content-type': 'text/plain' }).end('callback reached');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return {
    url: `http://127.0.0.1:${address.port}/__redirect_from_sso`,
    hits,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function oauth2Config(sso: OAuth2Sso, secret = sso.clientSecret): client.Configuration {
  const config = new client.Configuration(
    { issuer: sso.url, authorization_endpoint: sso.authorizeUrl, token_endpoint: sso.tokenUrl },
    sso.clientId,
    secret,
    client.ClientSecretPost(secret),
  );
  client.allowInsecureRequests(config);
  return config;
}

interface Pkce {
  verifier: string;
  state: string;
  url: URL;
}

async function authorizationUrl(config: client.Configuration, redirectUri: string, scope: string): Promise<Pkce> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    state,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  return { verifier, state, url };
}

/** Authorize at the OAuth2 SSO and return the callback URL carrying the code (not requested). */
async function oauth2Code(sso: OAuth2Sso, config: client.Configuration, redirectUri: string): Promise<{ pkce: Pkce; callbackUrl: URL }> {
  const pkce = await authorizationUrl(config, redirectUri, 'read write');
  const response = await new UserAgent().request(pkce.url);
  if (response.status !== 302) throw new Error(`authorize answered ${response.status}`);
  return { pkce, callbackUrl: new URL(response.headers.get('location') ?? '') };
}

/** user/me with a plain fetch (openid-client's fetchProtectedResource throws on a 401 with WWW-Authenticate). */
async function userMe(sso: OAuth2Sso, accessToken: string): Promise<Response> {
  return fetch(sso.userInfoUrl, { headers: { authorization: `Bearer ${accessToken}` } });
}

async function withOidc(
  overrides: Partial<OidcIssuerOptions> = {},
): Promise<{ issuer: OidcIssuer; callback: Callback; config: client.Configuration; close(): Promise<void> }> {
  const callback = await startCallback();
  const issuer = await startOidcIssuer({
    clientId: 'proxy-client',
    clientSecret: 'proxy-secret',
    redirectUris: [callback.url],
    postLogoutRedirectUris: [`${new URL(callback.url).origin}/signed-out`],
    ...overrides,
  });
  const config = await client.discovery(new URL(issuer.issuer), issuer.clientId, issuer.clientSecret, undefined, {
    execute: [client.allowInsecureRequests],
  });
  return {
    issuer,
    callback,
    config,
    close: async () => {
      await issuer.close();
      await callback.close();
    },
  };
}

/** Full OIDC sign-in in a user agent: authorize URL -> login form -> consent -> callback. */
async function oidcSignIn(
  ua: UserAgent,
  config: client.Configuration,
  callback: Callback,
  credentials = { username: 'alice', password: 'wonderland' },
) {
  const pkce = await authorizationUrl(config, callback.url, 'openid email profile');
  const result = await ua.signInOidc(pkce.url, credentials);
  return { pkce, result };
}

// ---------- the plain OAuth2 SSO ----------

test('the OAuth2 SSO completes an authorization code + PKCE flow with openid-client and serves user/me', async (t) => {
  const sso = await startOAuth2Sso();
  t.teardown(() => sso.close());
  t.true(sso.url.endsWith('/'));
  const config = oauth2Config(sso);
  const redirectUri = 'http://127.0.0.1:9/__redirect_from_sso';

  const { pkce, callbackUrl } = await oauth2Code(sso, config, redirectUri);
  t.is(callbackUrl.origin + callbackUrl.pathname, redirectUri);
  t.is(callbackUrl.searchParams.get('state'), pkce.state);
  t.truthy(callbackUrl.searchParams.get('code'));

  const [recorded] = sso.authorizeRequests;
  t.is(recorded?.state, pkce.state);
  t.is(recorded?.scope, 'read write');
  t.is(recorded?.redirect_uri, redirectUri);
  t.is(recorded?.code_challenge_method, 'S256');
  t.is(recorded?.code_challenge, await client.calculatePKCECodeChallenge(pkce.verifier));

  const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
    pkceCodeVerifier: pkce.verifier,
    expectedState: pkce.state,
  });
  t.is(tokens.token_type.toLowerCase(), 'bearer');
  t.is(tokens.expires_in, 36000);
  t.deepEqual(sso.issuedTokens, [tokens.access_token]);
  t.is(sso.tokenRequests[0]?.client_secret, sso.clientSecret, 'client_secret_post');

  const me = await userMe(sso, tokens.access_token);
  t.is(me.status, 200);
  t.deepEqual(await me.json(), {
    email: 'alice@example.org',
    user_id: 'a1b2c3',
    first_name: 'Alice',
    last_name: 'Example',
    related_emails: [],
    contact_email: 'alice@example.org',
    groups: [],
    permitted_applications: [],
  });
  t.is(sso.tokenCalls, 1);
  t.is(sso.userInfoCalls, 1);
});

test('the OAuth2 SSO accepts each code only once', async (t) => {
  const sso = await startOAuth2Sso();
  t.teardown(() => sso.close());
  const config = oauth2Config(sso);
  const { pkce, callbackUrl } = await oauth2Code(sso, config, 'http://127.0.0.1:9/cb');
  const checks = { pkceCodeVerifier: pkce.verifier, expectedState: pkce.state };

  await client.authorizationCodeGrant(config, callbackUrl, checks);
  const error = await t.throwsAsync(client.authorizationCodeGrant(config, callbackUrl, checks));
  t.is((error as client.ResponseBodyError).error, 'invalid_grant');
  t.is(sso.issuedTokens.length, 1);
});

test('the OAuth2 SSO refuses a wrong code_verifier, a different redirect_uri and a wrong client secret', async (t) => {
  const sso = await startOAuth2Sso();
  t.teardown(() => sso.close());
  const config = oauth2Config(sso);

  const first = await oauth2Code(sso, config, 'http://127.0.0.1:9/cb');
  const wrongVerifier = await t.throwsAsync(
    client.authorizationCodeGrant(config, first.callbackUrl, {
      pkceCodeVerifier: client.randomPKCECodeVerifier(),
      expectedState: first.pkce.state,
    }),
  );
  t.is((wrongVerifier as client.ResponseBodyError).error, 'invalid_grant');

  const second = await oauth2Code(sso, config, 'http://127.0.0.1:9/cb');
  const response = await fetch(sso.tokenUrl, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: second.callbackUrl.searchParams.get('code') ?? '',
      redirect_uri: 'http://127.0.0.1:9/other',
      code_verifier: second.pkce.verifier,
      client_id: sso.clientId,
      client_secret: sso.clientSecret,
    }),
  });
  t.is(response.status, 400);
  t.deepEqual(await response.json(), { error: 'invalid_grant' });

  const third = await oauth2Code(sso, config, 'http://127.0.0.1:9/cb');
  const wrongSecret = await t.throwsAsync(
    client.authorizationCodeGrant(oauth2Config(sso, 'not-the-secret'), third.callbackUrl, {
      pkceCodeVerifier: third.pkce.verifier,
      expectedState: third.pkce.state,
    }),
  );
  t.is((wrongSecret as client.ResponseBodyError).error, 'invalid_client');
  t.is((wrongSecret as client.ResponseBodyError).status, 401);
  t.is(sso.issuedTokens.length, 0);
});

test('the OAuth2 SSO refuses an unknown client_id and a missing PKCE challenge at authorize', async (t) => {
  const sso = await startOAuth2Sso();
  t.teardown(() => sso.close());
  const ua = new UserAgent();

  const unknown = new URL(sso.authorizeUrl);
  unknown.search = new URLSearchParams({ response_type: 'code', client_id: 'nope', redirect_uri: 'http://127.0.0.1:9/cb', state: 's' }).toString();
  t.is((await ua.request(unknown)).status, 400);

  const noPkce = new URL(sso.authorizeUrl);
  noPkce.search = new URLSearchParams({ response_type: 'code', client_id: sso.clientId, redirect_uri: 'http://127.0.0.1:9/cb', state: 's' }).toString();
  const response = await ua.request(noPkce);
  t.is(response.status, 302);
  const location = new URL(response.headers.get('location') ?? '');
  t.is(location.searchParams.get('error'), 'invalid_request');
  t.is(location.searchParams.get('state'), 's');
  t.is(sso.authorizeRequests.length, 2);
});

test('the OAuth2 SSO answers 401 at user/me for revoked tokens', async (t) => {
  const sso = await startOAuth2Sso();
  t.teardown(() => sso.close());
  const config = oauth2Config(sso);
  const grant = async () => {
    const { pkce, callbackUrl } = await oauth2Code(sso, config, 'http://127.0.0.1:9/cb');
    return (await client.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: pkce.verifier, expectedState: pkce.state })).access_token;
  };
  const first = await grant();
  const second = await grant();
  const third = await grant();

  sso.revoke(first);
  t.is((await userMe(sso, first)).status, 401);
  t.is((await userMe(sso, second)).status, 200);

  sso.revokeAll();
  t.is((await userMe(sso, second)).status, 401);
  t.is((await userMe(sso, third)).status, 401);
  t.is((await userMe(sso, 'never-issued')).status, 401);
  t.is(sso.userInfoCalls, 5);
});

test('the OAuth2 SSO can be told to refuse codes, fail the token endpoint and fail user/me', async (t) => {
  const sso = await startOAuth2Sso();
  t.teardown(() => sso.close());
  const config = oauth2Config(sso);

  sso.refuseCodes(true);
  const refused = await oauth2Code(sso, config, 'http://127.0.0.1:9/cb');
  const refusedError = await t.throwsAsync(
    client.authorizationCodeGrant(config, refused.callbackUrl, { pkceCodeVerifier: refused.pkce.verifier, expectedState: refused.pkce.state }),
  );
  t.is((refusedError as client.ResponseBodyError).error, 'invalid_grant');
  sso.refuseCodes(false);

  sso.tokenStatus(500);
  const failing = await oauth2Code(sso, config, 'http://127.0.0.1:9/cb');
  const failingError = await t.throwsAsync(
    client.authorizationCodeGrant(config, failing.callbackUrl, { pkceCodeVerifier: failing.pkce.verifier, expectedState: failing.pkce.state }),
  );
  // openid-client v6: a 5xx is not an OAuth error body, it is a non-conform response
  t.is((failingError as client.ClientError).code, 'OAUTH_RESPONSE_IS_NOT_CONFORM');
  t.is(((failingError as Error).cause as Response).status, 500);
  sso.tokenStatus(null);

  const ok = await oauth2Code(sso, config, 'http://127.0.0.1:9/cb');
  const { access_token } = await client.authorizationCodeGrant(config, ok.callbackUrl, {
    pkceCodeVerifier: ok.pkce.verifier,
    expectedState: ok.pkce.state,
  });
  for (const status of [401, 403, 500]) {
    sso.userInfoStatus(status);
    t.is((await userMe(sso, access_token)).status, status);
  }
  sso.userInfoStatus(null);
  t.is((await userMe(sso, access_token)).status, 200);
  t.is(sso.tokenCalls, 3);
});

test('the OAuth2 SSO signs in the user set with setUser, and existing tokens keep their user', async (t) => {
  const sso = await startOAuth2Sso();
  t.teardown(() => sso.close());
  const config = oauth2Config(sso);
  const grant = async () => {
    const { pkce, callbackUrl } = await oauth2Code(sso, config, 'http://127.0.0.1:9/cb');
    return (await client.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: pkce.verifier, expectedState: pkce.state })).access_token;
  };
  const aliceToken = await grant();
  sso.setUser({ email: 'bob@example.org', user_id: 'b0b', first_name: 'Bob', last_name: 'Builder' });
  const bobToken = await grant();

  t.like(await (await userMe(sso, aliceToken)).json(), { email: 'alice@example.org' });
  t.like(await (await userMe(sso, bobToken)).json(), { email: 'bob@example.org', user_id: 'b0b', contact_email: 'bob@example.org' });
});

test('the OAuth2 SSO goes down (connections refused) and comes back on the same port', async (t) => {
  const sso = await startOAuth2Sso();
  t.teardown(() => sso.close());
  const config = oauth2Config(sso);
  const { pkce, callbackUrl } = await oauth2Code(sso, config, 'http://127.0.0.1:9/cb');
  const { access_token } = await client.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: pkce.verifier, expectedState: pkce.state });
  // keep a connection alive, as a real client would
  t.is((await userMe(sso, access_token)).status, 200);

  await sso.goDown();
  const error = await t.throwsAsync(fetch(sso.userInfoUrl, { headers: { authorization: `Bearer ${access_token}` } }));
  t.is(((error as Error).cause as NodeJS.ErrnoException | undefined)?.code, 'ECONNREFUSED');

  await sso.comeBack();
  t.is((await userMe(sso, access_token)).status, 200, 'tokens survive the outage');
  t.is(new URL(sso.url).port, String(sso.port));
});

test('the OAuth2 SSO listens on a given port', async (t) => {
  const port = await freePort();
  const sso = await startOAuth2Sso({ port });
  t.teardown(() => sso.close());
  t.is(sso.url, `http://127.0.0.1:${port}/`);
  t.is(sso.port, port);
});

test('UserAgent.signInOAuth2 follows authorize -> callback and records the chain', async (t) => {
  const callback = await startCallback();
  const sso = await startOAuth2Sso({ redirectUris: [callback.url] });
  t.teardown(async () => {
    await sso.close();
    await callback.close();
  });
  const config = oauth2Config(sso);
  const pkce = await authorizationUrl(config, callback.url, 'read write');

  const { response, chain } = await new UserAgent().signInOAuth2(pkce.url);
  t.is(response.status, 200);
  t.is(await response.text(), 'callback reached');
  t.deepEqual(chain.map((entry) => entry.status), [302, 200]);
  t.is(chain[0]?.location, chain[1]?.url);
  t.is(callback.hits[0]?.searchParams.get('state'), pkce.state);
});

// ---------- the OpenID Connect issuer ----------

test('the OIDC issuer is discoverable over http with PKCE S256, client_secret_post and end_session', async (t) => {
  const { issuer, config, close } = await withOidc();
  t.teardown(close);
  const metadata = config.serverMetadata();
  t.is(metadata.issuer, issuer.issuer);
  t.regex(issuer.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.deepEqual(metadata.code_challenge_methods_supported, ['S256']);
  t.true(metadata.token_endpoint_auth_methods_supported?.includes('client_secret_post'));
  t.is(metadata.end_session_endpoint, `${issuer.issuer}/session/end`);
  t.is(metadata.userinfo_endpoint, `${issuer.issuer}/me`);
});

test('the OIDC issuer signs alice in through its login form and openid-client gets tokens and user info', async (t) => {
  const { issuer, callback, config, close } = await withOidc();
  t.teardown(close);
  const ua = new UserAgent();
  const { pkce, result } = await oidcSignIn(ua, config, callback);

  t.is(result.response.status, 200);
  t.is(await result.response.text(), 'callback reached');
  t.is(result.loginSubmissions, 1);
  t.false(result.loginRejected);
  t.true(result.chain.some((entry) => new URL(entry.url).pathname.startsWith('/interaction/')));
  t.deepEqual(issuer.loginAttempts, [{ username: 'alice', ok: true }]);
  t.like(issuer.authorizeRequests[0], { client_id: 'proxy-client', scope: 'openid email profile', code_challenge_method: 'S256', state: pkce.state });

  const callbackUrl = new URL(result.url);
  t.is(callbackUrl.searchParams.get('state'), pkce.state);
  t.is(callbackUrl.searchParams.get('iss'), issuer.issuer);
  const tokens = await client.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: pkce.verifier, expectedState: pkce.state });
  t.is(tokens.claims()?.sub, 'alice-sub');
  t.deepEqual(issuer.issuedTokens, [tokens.access_token]);

  const userInfo = await client.fetchUserInfo(config, tokens.access_token, 'alice-sub');
  t.deepEqual(userInfo, { sub: 'alice-sub', email: 'alice@example.org', email_verified: true, name: 'Alice Example' });
  t.is(issuer.tokenCalls, 1);
  t.is(issuer.userInfoCalls, 1);

  const session = await ua.cookie(issuer.issuer, '_session');
  t.truthy(session);
  t.true(session?.httpOnly);
  t.false(session?.secure, 'plain http: not Secure');
  t.is(session?.sameSite, 'lax');
});

test('the OIDC issuer refuses a wrong password and shows an error on the login page', async (t) => {
  const { issuer, callback, config, close } = await withOidc();
  t.teardown(close);
  const ua = new UserAgent();
  const { result } = await oidcSignIn(ua, config, callback, { username: 'alice', password: 'looking-glass' });

  t.true(result.loginRejected);
  t.is(result.response.status, 200);
  const html = await result.response.text();
  t.regex(html, /id="login-error"[^>]*>Invalid username or password\./);
  const form = parseForms(html, result.url).find((candidate) => candidate.id === 'login-form');
  t.is(form?.fields.username, 'alice', 'the username is kept');
  t.is(callback.hits.length, 0);

  // an unknown user is refused the same way, and the right password still works afterwards
  const retry = await ua.submitForm(form!, { username: 'mallory', password: 'wonderland' });
  const retryHtml = await retry.response.text();
  t.regex(retryHtml, /Invalid username or password/);
  const again = parseForms(retryHtml, retry.url).find((candidate) => candidate.id === 'login-form');
  const success = await ua.submitForm(again!, { username: 'alice', password: 'wonderland' });
  t.is(success.response.status, 200);
  t.is(await success.response.text(), 'callback reached');
  t.deepEqual(issuer.loginAttempts, [
    { username: 'alice', ok: false },
    { username: 'mallory', ok: false },
    { username: 'alice', ok: true },
  ]);
});

test('the OIDC issuer signs bob in as bob', async (t) => {
  const { callback, config, close } = await withOidc();
  t.teardown(close);
  const { pkce, result } = await oidcSignIn(new UserAgent(), config, callback, { username: 'bob', password: 'builder' });
  const tokens = await client.authorizationCodeGrant(config, new URL(result.url), { pkceCodeVerifier: pkce.verifier, expectedState: pkce.state });
  const userInfo = await client.fetchUserInfo(config, tokens.access_token, 'bob-sub');
  t.is(userInfo.email, 'bob@example.org');
});

test('the OIDC issuer accepts each code only once', async (t) => {
  const { callback, config, close } = await withOidc();
  t.teardown(close);
  const { pkce, result } = await oidcSignIn(new UserAgent(), config, callback);
  const checks = { pkceCodeVerifier: pkce.verifier, expectedState: pkce.state };
  await client.authorizationCodeGrant(config, new URL(result.url), checks);
  const error = await t.throwsAsync(client.authorizationCodeGrant(config, new URL(result.url), checks));
  t.is((error as client.ResponseBodyError).error, 'invalid_grant');
});

test('the OIDC issuer requires PKCE', async (t) => {
  const { callback, config, close } = await withOidc();
  t.teardown(close);
  const url = client.buildAuthorizationUrl(config, { redirect_uri: callback.url, scope: 'openid', state: 'xyz' });
  const { response, chain } = await new UserAgent().follow(url);
  t.is(response.status, 200);
  const back = new URL(chain.at(-1)?.url ?? '');
  t.is(back.searchParams.get('error'), 'invalid_request');
  t.regex(back.searchParams.get('error_description') ?? '', /PKCE/);
  t.is(back.searchParams.get('state'), 'xyz');
});

test('the OIDC issuer answers 401 at userinfo once tokens are revoked', async (t) => {
  const { issuer, callback, config, close } = await withOidc();
  t.teardown(close);
  const ua = new UserAgent();
  const grant = async () => {
    const { pkce, result } = await oidcSignIn(ua, config, callback);
    return (await client.authorizationCodeGrant(config, new URL(result.url), { pkceCodeVerifier: pkce.verifier, expectedState: pkce.state })).access_token;
  };
  const first = await grant();
  const second = await grant(); // the issuer session is reused: no login page this time
  t.is(issuer.loginAttempts.length, 1);
  t.is(issuer.issuedTokens.length, 2);

  await issuer.revoke(first);
  const revoked = await t.throwsAsync(client.fetchUserInfo(config, first, 'alice-sub'));
  t.true(revoked instanceof client.WWWAuthenticateChallengeError);
  t.is((revoked as client.WWWAuthenticateChallengeError).status, 401);
  t.is((await client.fetchUserInfo(config, second, 'alice-sub')).sub, 'alice-sub');

  await issuer.revokeAll();
  const all = await t.throwsAsync(client.fetchUserInfo(config, second, 'alice-sub'));
  t.is((all as client.WWWAuthenticateChallengeError).status, 401);
  t.is(issuer.userInfoCalls, 3);

  // signing in again still works (consent is granted again automatically)
  const third = await grant();
  t.is((await client.fetchUserInfo(config, third, 'alice-sub')).sub, 'alice-sub');
});

test('the OIDC issuer shows a consent page when asked to, and Deny returns access_denied', async (t) => {
  const { callback, config, close } = await withOidc({ consent: 'page' });
  t.teardown(close);
  const { pkce, result } = await oidcSignIn(new UserAgent(), config, callback);
  t.is(result.response.status, 200);
  await client.authorizationCodeGrant(config, new URL(result.url), { pkceCodeVerifier: pkce.verifier, expectedState: pkce.state });

  const ua = new UserAgent();
  const denied = await authorizationUrl(config, callback.url, 'openid email');
  const loginPage = await ua.follow(denied.url);
  const login = parseForms(await loginPage.response.text(), loginPage.url)[0]!;
  const consentPage = await ua.submitForm(login, { username: 'alice', password: 'wonderland' });
  const consent = parseForms(await consentPage.response.text(), consentPage.url).find((form) => form.id === 'consent-form');
  t.truthy(consent);
  const back = await ua.submitForm(consent!, { decision: 'deny' });
  t.is(new URL(back.url).searchParams.get('error'), 'access_denied');
});

test('the OIDC issuer ends the session on RP-initiated logout', async (t) => {
  const { issuer, callback, config, close } = await withOidc();
  t.teardown(close);
  const ua = new UserAgent();
  const { pkce, result } = await oidcSignIn(ua, config, callback);
  const tokens = await client.authorizationCodeGrant(config, new URL(result.url), { pkceCodeVerifier: pkce.verifier, expectedState: pkce.state });

  const postLogout = `${new URL(callback.url).origin}/signed-out`;
  const endSession = client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token ?? '', post_logout_redirect_uri: postLogout, state: 'bye' });
  const confirmPage = await ua.follow(endSession);
  t.is(confirmPage.response.status, 200);
  const form = parseForms(await confirmPage.response.text(), confirmPage.url).find((candidate) => candidate.id === 'op.logoutForm');
  t.truthy(form);
  const done = await ua.submitForm(form!, { logout: 'yes' });
  t.is(new URL(done.url).pathname, '/signed-out');
  t.is(new URL(done.url).searchParams.get('state'), 'bye');
  t.is(issuer.endSessionCalls, 1);

  // the issuer asks for the password again
  const again = await oidcSignIn(ua, config, callback);
  t.is(again.result.loginSubmissions, 1);
});

test('the OIDC issuer goes down and comes back on the same port', async (t) => {
  const { issuer, close } = await withOidc();
  t.teardown(close);
  const discovery = `${issuer.issuer}/.well-known/openid-configuration`;
  t.is((await fetch(discovery)).status, 200);
  await issuer.goDown();
  const error = await t.throwsAsync(fetch(discovery));
  t.is(((error as Error).cause as NodeJS.ErrnoException | undefined)?.code, 'ECONNREFUSED');
  await issuer.comeBack();
  t.is((await fetch(discovery)).status, 200);
});

// ---------- the user agent itself ----------

test('UserAgent sends navigation headers on GETs by default, keeps cookies and follows 303/307 like a browser', async (t) => {
  const seen: Array<{ method: string; url: string; headers: Record<string, string | string[] | undefined>; body: string }> = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
    switch (req.url) {
      case '/set':
        res.writeHead(302, { location: '/see', 'set-cookie': ['a=1; Path=/; HttpOnly; SameSite=Lax; Max-Age=60', 'b=2; Path=/other'] }).end();
        return;
      case '/see':
        res.writeHead(200).end('ok');
        return;
      case '/post303':
        res.writeHead(303, { location: '/see' }).end();
        return;
      case '/post307':
        res.writeHead(307, { location: '/see' }).end();
        return;
      default:
        res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  const address = server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const ua = new UserAgent();

  const { chain } = await ua.follow(`${base}/set`);
  t.deepEqual(chain.map((entry) => [entry.status, new URL(entry.url).pathname]), [[302, '/set'], [200, '/see']]);
  t.is(seen[0]?.headers['sec-fetch-mode'], 'navigate');
  t.regex(String(seen[0]?.headers.accept), /^text\/html/);
  t.is(seen[1]?.headers.cookie, 'a=1');
  t.like(await ua.cookie(base, 'a'), { value: '1', httpOnly: true, sameSite: 'lax', maxAge: 60, secure: false });
  t.is(await ua.cookie(base, 'b'), undefined, 'path-scoped');
  t.is((await ua.allCookies()).length, 2);

  await ua.request(`${base}/see`, { navigation: false });
  t.is(seen[2]?.headers['sec-fetch-mode'], undefined);
  t.notRegex(String(seen[2]?.headers.accept), /text\/html/);

  await ua.follow(`${base}/post303`, { method: 'POST', body: new URLSearchParams({ x: '1' }) });
  t.deepEqual([seen[4]?.method, seen[4]?.body], ['GET', '']);
  await ua.follow(`${base}/post307`, { method: 'POST', body: new URLSearchParams({ x: '1' }) });
  t.deepEqual([seen[6]?.method, seen[6]?.body], ['POST', 'x=1']);

  await ua.setCookie('c=3; Path=/', base);
  await ua.request(`${base}/see`);
  t.is(seen[7]?.headers.cookie, 'a=1; c=3');
  await ua.clearCookies();
  await ua.request(`${base}/see`);
  t.is(seen[8]?.headers.cookie, undefined);
});
