// A foreign site cannot sign a user out: GET /__s3proxy/logout only shows a
// button, and its POST signs out only when it comes from the proxy's own
// origin (Sec-Fetch-Site: same-origin, or an Origin equal to the proxy's).
// The browser is the test user agent, which honours SameSite, so a
// simulated foreign page sends exactly the cookies a browser would.
import test, { type ExecutionContext } from 'ava';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { oauth2Sso, proxyEnv } from '../support/proxy-env.ts';
import { createBucket, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { startOidcIssuer } from '../support/oidc-issuer.ts';
import { freePort } from '../support/free-port.ts';
import { parseForms, UserAgent } from '../support/user-agent.ts';
import { rawRequest } from '../support/raw-http.ts';

const stack = s3Stack();
const logoutPath = '/__s3proxy/logout';
const signedOutPath = '/__s3proxy/signed-out';
const evil = 'http://evil.example';

let bucket: string;
let sso: OAuth2Sso;
let proxy: ProxyProcess;

test.before(async () => {
  bucket = await createBucket(stack, 'sign-out-csrf');
  await putObject(stack, bucket, 'file.txt', 'content of file.txt', 'text/plain');
  sso = await startOAuth2Sso();
  proxy = await startProxy(proxyEnv(stack, { bucket, sso: oauth2Sso(sso) }));
});

test.after.always(async () => {
  await proxy?.stop();
  await sso?.close();
});

async function signedIn(t: ExecutionContext, on: ProxyProcess = proxy): Promise<UserAgent> {
  const ua = new UserAgent();
  const result = await ua.signInOAuth2(`${on.url}/file.txt`);
  t.is(result.response.status, 200, 'signed in');
  await result.response.arrayBuffer();
  return ua;
}

/** Whether the browser's session still opens /__s3proxy/me (asked as the proxy's own page would). */
async function stillSignedIn(ua: UserAgent, on: ProxyProcess = proxy): Promise<boolean> {
  const me = await ua.request(`${on.url}/__s3proxy/me`, { navigation: false, headers: { 'sec-fetch-mode': 'cors', 'sec-fetch-site': 'same-origin' } });
  await me.arrayBuffer();
  return me.status === 200;
}

/** The same session cookie replayed by anyone: whether the server still knows the session. */
async function sessionKnown(cookie: string, on: ProxyProcess = proxy): Promise<boolean> {
  const me = await fetch(`${on.url}/__s3proxy/me`, { headers: { cookie, 'sec-fetch-mode': 'cors' } });
  await me.arrayBuffer();
  return me.status === 200;
}

async function sessionCookie(ua: UserAgent, on: ProxyProcess = proxy): Promise<string> {
  const cookie = await ua.cookie(on.url, 'assets_session_id');
  if (!cookie) throw new Error('no session cookie');
  return `assets_session_id=${cookie.value}`;
}

test('GET /__s3proxy/logout shows a sign-out button that POSTs, and signs no one out', async (t) => {
  const ua = await signedIn(t);
  const page = await ua.request(`${proxy.url}${logoutPath}`);
  t.is(page.status, 200);
  t.regex(page.headers.get('content-type') ?? '', /^text\/html/);
  t.is(page.headers.get('cache-control'), 'no-store');
  t.regex(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
  t.deepEqual(page.headers.getSetCookie(), []);
  const forms = parseForms(await page.text(), `${proxy.url}${logoutPath}`);
  t.deepEqual(
    forms.map((form) => [form.method, form.action]),
    [['POST', `${proxy.url}${logoutPath}`]],
  );
  t.true(await stillSignedIn(ua));
});

test('the sign-out button signs out: the session ends on the server, the cookie expires, and the browser lands on the signed-out page', async (t) => {
  const ua = await signedIn(t);
  const cookie = await sessionCookie(ua);
  const page = await ua.request(`${proxy.url}${logoutPath}`);
  const form = parseForms(await page.text(), `${proxy.url}${logoutPath}`)[0]!;
  const result = await ua.submitForm(form);
  t.deepEqual(
    result.chain.map((entry) => [entry.method, new URL(entry.url).pathname, entry.status]),
    [
      ['POST', logoutPath, 303],
      ['GET', signedOutPath, 200],
    ],
  );
  t.true((await result.response.text()).includes('You have signed out'));
  t.is(await ua.cookie(proxy.url, 'assets_session_id'), undefined, 'the cookie expired');
  t.false(await sessionKnown(cookie), 'the old cookie, replayed, opens nothing');
  const again = await ua.request(`${proxy.url}/file.txt`);
  t.is(again.status, 302);
  t.true(again.headers.get('location')!.startsWith(sso.authorizeUrl));
});

test('a POST with the proxy\'s own Origin and no fetch metadata (an older browser) signs out', async (t) => {
  const ua = await signedIn(t);
  const cookie = await sessionCookie(ua);
  const response = await ua.request(`${proxy.url}${logoutPath}`, { method: 'POST', headers: { origin: proxy.url } });
  t.is(response.status, 303);
  t.is(response.headers.get('location'), `${proxy.url}${signedOutPath}`);
  t.false(await sessionKnown(cookie));
});

test('a cross-site POST is 403 and the session stays', async (t) => {
  const ua = await signedIn(t);
  const cookie = await sessionCookie(ua);
  // A form on another site, submitted at the proxy: with the default
  // SameSite=Lax the browser leaves the session cookie at home.
  const response = await ua.request(`${proxy.url}${logoutPath}`, { method: 'POST', navigation: true, fetchSite: 'cross-site', headers: { origin: evil } });
  t.is(response.status, 403);
  t.is(response.headers.get('location'), null);
  t.deepEqual(response.headers.getSetCookie(), []);
  await response.arrayBuffer();
  t.true(await stillSignedIn(ua));
  t.true(await sessionKnown(cookie));
});

test('a cross-site POST carrying a SameSite=None session cookie is 403 and the session stays', async (t) => {
  // SameSite=None: the browser does send the cookie along, so only the origin check stands in the way.
  const none = await startProxy(
    proxyEnv(stack, { bucket, sso: oauth2Sso(sso), extra: { SESSION_COOKIE_SAMESITE: 'None', SESSION_COOKIE_SECURE: 'true' } }),
  );
  t.teardown(() => none.stop());
  const ua = await signedIn(t, none);
  const cookie = await sessionCookie(ua, none);
  const sent = await ua.jar.getCookieString(`${none.url}${logoutPath}`, { sameSiteContext: 'none' });
  t.true(sent.includes(cookie), 'a cross-site request carries the session cookie');

  const response = await ua.request(`${none.url}${logoutPath}`, { method: 'POST', navigation: true, fetchSite: 'cross-site', headers: { origin: evil } });
  t.is(response.status, 403);
  t.deepEqual(response.headers.getSetCookie(), []);
  await response.arrayBuffer();
  t.true(await sessionKnown(cookie, none));
  t.true(await stillSignedIn(ua, none));
});

test('a POST from another origin of the same site, which carries the Lax cookie, is 403 and the session stays', async (t) => {
  const ua = await signedIn(t);
  const cookie = await sessionCookie(ua);
  const sibling = `http://127.0.0.1:${proxy.port === 1 ? 2 : proxy.port - 1}`;
  const response = await ua.request(`${proxy.url}${logoutPath}`, { method: 'POST', navigation: true, fetchSite: 'same-site', headers: { origin: sibling } });
  t.is(response.status, 403);
  await response.arrayBuffer();
  t.true(await sessionKnown(cookie));
});

test('a POST with neither fetch metadata nor Origin, or with another site\'s Origin, is 403 and the session stays', async (t) => {
  const ua = await signedIn(t);
  const cookie = await sessionCookie(ua);
  for (const headers of [{}, { origin: evil }, { origin: 'null' }] as Array<Record<string, string>>) {
    const response = await rawRequest(proxy.url, logoutPath, { cookie, ...headers }, 'POST');
    t.is(response.status, 403, JSON.stringify(headers));
  }
  // fetch() from another site's page: Sec-Fetch-Site wins over a forged-looking Origin.
  const fromScript = await ua.request(`${proxy.url}${logoutPath}`, { method: 'POST', navigation: false, fetchSite: 'cross-site', headers: { origin: proxy.url, 'sec-fetch-mode': 'cors' } });
  t.is(fromScript.status, 403);
  await fromScript.arrayBuffer();
  t.true(await sessionKnown(cookie));
});

test('RP-initiated logout at the provider follows only a same-origin POST', async (t) => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const issuer = await startOidcIssuer({
    clientId: 'sign-out-csrf',
    clientSecret: 'sign-out-csrf-client-secret',
    redirectUris: [`${url}/__redirect_from_sso`],
    postLogoutRedirectUris: [`${url}${signedOutPath}`],
  });
  t.teardown(() => issuer.close());
  const oidc = await startProxy(
    proxyEnv(stack, {
      bucket,
      sso: { mode: 'oidc', issuer: issuer.issuer, clientId: issuer.clientId, clientSecret: issuer.clientSecret },
      extra: { PORT: String(port) },
    }),
  );
  t.teardown(() => oidc.stop());
  const ua = new UserAgent();
  const signIn = await ua.signInOidc(`${url}/file.txt`, { username: 'alice', password: 'wonderland' });
  t.is(signIn.response.status, 200);
  await signIn.response.arrayBuffer();
  const cookie = await sessionCookie(ua, oidc);

  const page = await ua.request(`${url}${logoutPath}`);
  t.is(page.status, 200);
  t.is(page.headers.get('location'), null);
  await page.arrayBuffer();
  const crossSite = await ua.request(`${url}${logoutPath}`, { method: 'POST', navigation: true, fetchSite: 'cross-site', headers: { origin: evil } });
  t.is(crossSite.status, 403);
  t.is(crossSite.headers.get('location'), null);
  await crossSite.arrayBuffer();
  t.true(await sessionKnown(cookie, oidc));

  const form = parseForms(await (await ua.request(`${url}${logoutPath}`)).text(), `${url}${logoutPath}`)[0]!;
  const signOut = await ua.submitForm(form, {}, { stopAt: (next) => next.origin === issuer.issuer });
  t.is(signOut.response.status, 303);
  const endSession = new URL(signOut.chain.at(-1)!.location!);
  t.is(endSession.origin + endSession.pathname, `${issuer.issuer}/session/end`);
  t.is(endSession.searchParams.get('post_logout_redirect_uri'), `${url}${signedOutPath}`);
  t.false(await sessionKnown(cookie, oidc));
});
