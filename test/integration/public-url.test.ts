// A configured public origin (PUBLIC_URL), forced Secure cookies
// (SESSION_COOKIE_SECURE), the SameSite=None start-up rule, and the
// SESSION_SECRET that seals login states for every instance. Requests are
// sent raw, so that Host and X-Forwarded-* can say whatever an attacker or a
// router in front makes them say. Nothing here reaches S3 (every request
// stops at SSO, the callback or sign-out), so the bucket need not exist.
import test, { type ExecutionContext } from 'ava';
import { runProxyExpectingExit, startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { oauth2Sso, proxyEnv } from '../support/proxy-env.ts';
import { s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { navigationHeaders, UserAgent } from '../support/user-agent.ts';
import { rawRequest, type RawResponse } from '../support/raw-http.ts';

const stack = s3Stack();
const bucket = 'public-url-never-read';
const callbackPath = '/__redirect_from_sso';
const cookieName = 'assets_session_id';
const publicUrl = 'https://assets.example.org';

let sso: OAuth2Sso;

test.before(async () => {
  sso = await startOAuth2Sso();
});

test.after.always(async () => {
  await sso?.close();
});

async function proxyWith(t: ExecutionContext, extra: Record<string, string>, env = proxyEnv(stack, { bucket, sso: oauth2Sso(sso), extra })): Promise<ProxyProcess> {
  const proxy = await startProxy(env);
  t.teardown(() => proxy.stop());
  return proxy;
}

function setCookies(response: RawResponse): string[] {
  return ([] as string[]).concat(response.headers['set-cookie'] ?? []);
}

function cookieLine(lines: string[], prefix: string): string {
  const line = lines.find((candidate) => candidate.startsWith(prefix));
  if (!line) throw new Error(`no ${prefix} cookie in ${lines.join(' | ')}`);
  return line;
}

/** The token requests that exchanged the code SSO sent back (tests in this file run side by side). */
function tokenRequestsFor(back: URL): Array<Record<string, string>> {
  return sso.tokenRequests.filter((request) => request.code === back.searchParams.get('code'));
}

const isSecure = (line: string): boolean => line.split(';').some((part) => part.trim().toLowerCase() === 'secure');
const pair = (line: string): string => line.split(';')[0]!;

/** The proxy's way to SSO for `path`, with these headers; and SSO's way back, not followed. */
async function startAndApprove(proxy: ProxyProcess, path: string, headers: Record<string, string>): Promise<{ start: RawResponse; authorize: URL; back: URL }> {
  const start = await rawRequest(proxy.url, path, { ...navigationHeaders(), ...headers });
  if (start.status !== 302) throw new Error(`expected a redirect to SSO, got ${start.status}`);
  const authorize = new URL(start.headers.location!);
  const approved = await new UserAgent().follow(authorize, {}, { stopAt: (url) => url.pathname === callbackPath });
  await approved.response.arrayBuffer();
  return { start, authorize, back: new URL(approved.chain.at(-1)!.location!) };
}

test('with PUBLIC_URL the redirect URI, the return URL and the cookies\' Secure flag come from it, whatever Host and X-Forwarded-* say', async (t) => {
  const proxy = await proxyWith(t, { PUBLIC_URL: publicUrl });
  const forged = { host: 'evil.example', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'evil.example' };
  const { start, authorize, back } = await startAndApprove(proxy, '/reports/q3.pdf?x=1', forged);
  t.is(authorize.searchParams.get('redirect_uri'), `${publicUrl}${callbackPath}`);
  t.is(back.origin, publicUrl);
  const loginCookie = cookieLine(setCookies(start), `${cookieName}_login_`);
  t.true(isSecure(loginCookie), 'the login cookie is Secure');
  t.true(isSecure(cookieLine(setCookies(start), `${cookieName}_logins=`)));

  // The way back arrives with yet another Host (and plain http, as TLS ended in front).
  const callback = await rawRequest(proxy.url, back.pathname + back.search, {
    ...navigationHeaders(),
    host: 'other.example',
    'x-forwarded-proto': 'http',
    cookie: pair(loginCookie),
  });
  t.is(callback.status, 302);
  t.is(callback.headers.location, `${publicUrl}/reports/q3.pdf?x=1`);
  t.is(tokenRequestsFor(back).at(0)?.redirect_uri, `${publicUrl}${callbackPath}`);
  const session = cookieLine(setCookies(callback), `${cookieName}=`);
  t.true(isSecure(session), 'the session cookie is Secure');

  // Sign-out: the proxy's own origin is PUBLIC_URL's, not the Host's.
  const hostOrigin = await rawRequest(proxy.url, '/__s3proxy/logout', { host: 'evil.example', origin: 'http://evil.example', cookie: pair(session) }, 'POST');
  t.is(hostOrigin.status, 403, 'an Origin matching the forged Host is not the proxy\'s origin');
  const own = await rawRequest(proxy.url, '/__s3proxy/logout', { host: 'evil.example', origin: publicUrl, cookie: pair(session) }, 'POST');
  t.is(own.status, 303);
  t.is(own.headers.location, `${publicUrl}/__s3proxy/signed-out`);
  t.true(isSecure(cookieLine(setCookies(own), `${cookieName}=`)), 'the expiring session cookie is Secure too');
});

test('without PUBLIC_URL the origin follows Host and X-Forwarded-Proto, and plain http cookies are not Secure', async (t) => {
  const proxy = await proxyWith(t, {});
  const { start, authorize } = await startAndApprove(proxy, '/a.txt', { host: 'assets.internal:8080' });
  t.is(authorize.searchParams.get('redirect_uri'), `http://assets.internal:8080${callbackPath}`);
  t.false(isSecure(cookieLine(setCookies(start), `${cookieName}_login_`)));
});

test('SESSION_COOKIE_SECURE=true makes every cookie Secure over plain http', async (t) => {
  const proxy = await proxyWith(t, { SESSION_COOKIE_SECURE: 'true' });
  const { start, back } = await startAndApprove(proxy, '/a.txt', {});
  t.is(back.protocol, 'http:');
  const loginCookie = cookieLine(setCookies(start), `${cookieName}_login_`);
  t.true(isSecure(loginCookie));
  t.true(isSecure(cookieLine(setCookies(start), `${cookieName}_logins=`)));
  const callback = await rawRequest(proxy.url, back.pathname + back.search, { ...navigationHeaders(), cookie: pair(loginCookie) });
  t.is(callback.status, 302);
  const session = cookieLine(setCookies(callback), `${cookieName}=`);
  t.true(isSecure(session));
  for (const line of setCookies(callback)) t.true(isSecure(line), line.split('=')[0]!);
});

test('SESSION_COOKIE_SAMESITE=None without https, or a short SESSION_SECRET, stops start-up with one line naming the variable', async (t) => {
  const base = proxyEnv(stack, { bucket, sso: oauth2Sso(sso) });
  const shortSecret = 'too-short-secret-Jq4';
  const cases: Array<[Record<string, string>, string]> = [
    [{ SESSION_COOKIE_SAMESITE: 'None' }, 'SESSION_COOKIE_SAMESITE'],
    [{ SESSION_COOKIE_SAMESITE: 'None', PUBLIC_URL: 'http://assets.example.org' }, 'SESSION_COOKIE_SAMESITE'],
    [{ SESSION_SECRET: shortSecret }, 'SESSION_SECRET'],
    [{ PUBLIC_URL: 'https://assets.example.org/prefix' }, 'PUBLIC_URL'],
  ];
  for (const [extra, variable] of cases) {
    const result = await runProxyExpectingExit({ ...base, ...extra });
    t.is(result.code, 1, JSON.stringify(extra));
    const lines = result.stderr.trim().split('\n');
    t.is(lines.length, 1, result.stderr);
    t.regex(lines[0]!, new RegExp(`^configuration error: ${variable}: `));
    t.false(result.stderr.includes(shortSecret) || result.stdout.includes(shortSecret), 'the secret is not echoed');
  }
  // With https known up front, None starts.
  const none = await proxyWith(t, { SESSION_COOKIE_SAMESITE: 'None', PUBLIC_URL: publicUrl });
  const live = await rawRequest(none.url, '/__s3proxy/live');
  t.is(live.status, 200);
});

test('SESSION_SECRET seals the login state: a sign-in begun on one instance completes on another with the same secret, never on one with another key', async (t) => {
  const secret = 'a-shared-session-secret-for-both-instances';
  const env = proxyEnv(stack, { bucket, sso: oauth2Sso(sso), extra: { SESSION_SECRET: secret } });
  const a = await proxyWith(t, {}, env);
  const b = await proxyWith(t, {}, env);
  const otherSecret = await proxyWith(t, {}, { ...env, SESSION_SECRET: 'another-session-secret-of-enough-length' });
  const { SESSION_SECRET: _dropped, ...withoutSecret } = env;
  const clientSecretOnly = await proxyWith(t, {}, withoutSecret);

  // The browser sees one origin; the instances behind it each have a port of their own.
  const host = 'assets.example.test';
  const { start, back } = await startAndApprove(a, '/a.txt', { host });
  const loginCookie = pair(cookieLine(setCookies(start), `${cookieName}_login_`));
  for (const [name, instance] of [['another SESSION_SECRET', otherSecret], ['SSO_CLIENT_SECRET alone', clientSecretOnly]] as const) {
    const refused = await rawRequest(instance.url, back.pathname + back.search, { ...navigationHeaders(), host, cookie: loginCookie });
    t.is(refused.status, 403, name);
  }
  t.is(tokenRequestsFor(back).length, 0, 'refused before the code was exchanged');
  const done = await rawRequest(b.url, back.pathname + back.search, { ...navigationHeaders(), host, cookie: loginCookie });
  t.is(done.status, 302, 'the refusals did not use the state up');
  t.is(done.headers.location, `http://${host}/a.txt`);
  t.is(tokenRequestsFor(back).length, 1);
  // and it works once, on every instance sharing Redis
  const replay = await rawRequest(a.url, back.pathname + back.search, { ...navigationHeaders(), host, cookie: loginCookie });
  t.is(replay.status, 403);
});
