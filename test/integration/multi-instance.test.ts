// Several proxies behind one load balancer: two instances on different ports
// share one Redis and one REDIS_KEY_PREFIX, so a session made by one is good
// on the other, and a sign-out on one ends it on both.
import test from 'ava';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv, oauth2Sso } from '../support/proxy-env.ts';
import { createBucket, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { UserAgent } from '../support/user-agent.ts';
import { rawRequest } from '../support/raw-http.ts';

const stack = s3Stack();

let sso: OAuth2Sso;
let a: ProxyProcess;
let b: ProxyProcess;

test.before(async () => {
  const bucket = await createBucket(stack, 'multi');
  await putObject(stack, bucket, 'shared.txt', 'served by either', 'text/plain');
  sso = await startOAuth2Sso();
  const env = proxyEnv(stack, {
    bucket,
    sso: oauth2Sso(sso),
  });
  [a, b] = await Promise.all([startProxy(env), startProxy(env)]);
});

test.after.always(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await sso?.close();
});

test('signed in through one instance, a user downloads through the other; signed out on one, refused on both', async (t) => {
  t.not(a.port, b.port);
  const user = new UserAgent();
  const signedIn = await user.signInOAuth2(`${a.url}/shared.txt`);
  t.is(signedIn.response.status, 200);
  await signedIn.response.arrayBuffer();
  t.true(a.logs().some((l) => l.msg === 'signed in'));

  // cookies ignore ports, as in a browser: the same cookie reaches B
  const viaB = await user.request(`${b.url}/shared.txt`);
  t.is(viaB.status, 200);
  t.is(await viaB.text(), 'served by either');
  const served = await b.waitForLog((l) => l.msg === 'request' && l.status === 200, 5_000);
  t.is(served.user, 'alice@example.org');
  t.false(b.logs().some((l) => l.msg === 'signed in'));

  const oldCookie = (await user.jar.getCookieString(a.url)) ?? '';
  t.regex(oldCookie, /assets_session_id=/);
  // the sign-out button's form: a same-origin POST, answered 303
  const signedOut = await user.request(`${a.url}/__s3proxy/logout`, { method: 'POST', navigation: true, fetchSite: 'same-origin', headers: { origin: a.url } });
  t.is(signedOut.status, 303);
  t.is(signedOut.headers.get('location'), `${a.url}/__s3proxy/signed-out`);
  await signedOut.arrayBuffer();

  // the old cookie, replayed to the other instance, no longer opens anything
  const replayed = await rawRequest(b.url, '/shared.txt', { cookie: oldCookie, accept: '*/*', 'sec-fetch-mode': 'cors' });
  t.is(replayed.status, 401);
  t.false(replayed.body.toString().includes('served by either'));
  const replayedOnA = await rawRequest(a.url, '/shared.txt', { cookie: oldCookie, accept: '*/*', 'sec-fetch-mode': 'cors' });
  t.is(replayedOnA.status, 401);
});
