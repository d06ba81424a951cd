// SSO going away: a sign-in that needs SSO fails with a clear error page,
// while users already signed in keep downloading for as long as their token
// check's grace period lasts. SSO is the uktrade-style OAuth2 test server,
// taken down and brought back on the same port.
import test from 'ava';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv, oauth2Sso } from '../support/proxy-env.ts';
import { createBucket, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { UserAgent } from '../support/user-agent.ts';

const stack = s3Stack();
const callbackPath = '/__redirect_from_sso';

let bucket: string;
let sso: OAuth2Sso;
let proxy: ProxyProcess;

test.before(async () => {
  bucket = await createBucket(stack, 'faults-sso');
  await putObject(stack, bucket, 'report.txt', 'the report', 'text/plain');
  await putObject(stack, bucket, 'other.txt', 'another file', 'text/plain');
  sso = await startOAuth2Sso();
  proxy = await startProxy(
    proxyEnv(stack, {
      bucket,
      sso: oauth2Sso(sso),
      extra: { SSO_TOKEN_CHECK_GRACE_PERIOD: '300' },
    }),
  );
});

test.after.always(async () => {
  await proxy?.stop();
  await sso?.close();
});

test.serial('with SSO down, a new sign-in is a clear 500 and signed-in users keep downloading within the grace period', async (t) => {
  const signedIn = new UserAgent();
  const first = await signedIn.signInOAuth2(`${proxy.url}/report.txt`);
  t.is(first.response.status, 200);
  await first.response.arrayBuffer();

  // A second browser gets as far as SSO's answer, then SSO goes away before
  // the proxy can redeem the code.
  const newcomer = new UserAgent();
  const toCallback = await newcomer.follow(`${proxy.url}/other.txt`, {}, { stopAt: (url) => url.pathname === callbackPath });
  const callback = toCallback.chain.at(-1)?.location;
  t.truthy(callback);
  await toCallback.response.body?.cancel();
  const userInfoCallsBefore = sso.userInfoCalls;
  await sso.goDown();
  try {
    const failed = await newcomer.request(callback!);
    t.is(failed.status, 500);
    t.regex(failed.headers.get('content-type') ?? '', /text\/html/);
    const page = await failed.text();
    t.regex(page, /Request id: \S+/);
    t.false(page.includes('ECONNREFUSED'));
    t.is(await newcomer.cookie(proxy.url, 'assets_session_id'), undefined);

    for (const path of ['/report.txt', '/other.txt', '/report.txt']) {
      const response = await signedIn.request(`${proxy.url}${path}`);
      t.is(response.status, 200, path);
      await response.arrayBuffer();
    }
    // within the grace period nobody asked SSO
    t.is(sso.userInfoCalls, userInfoCallsBefore);
    t.is(proxy.child.exitCode, null);
  } finally {
    await sso.comeBack();
  }

  // SSO back: the newcomer signs in from the start
  const again = await newcomer.signInOAuth2(`${proxy.url}/other.txt`);
  t.is(again.response.status, 200);
  t.is(await again.response.text(), 'another file');
});

test.serial('with SSO down, a session past its grace period is refused with 500 rather than waved through', async (t) => {
  const strict = await startProxy(
    proxyEnv(stack, {
      bucket,
      sso: oauth2Sso(sso),
      extra: { SSO_TOKEN_CHECK_GRACE_PERIOD: '0' },
    }),
  );
  try {
    const user = new UserAgent();
    const signedIn = await user.signInOAuth2(`${strict.url}/report.txt`);
    t.is(signedIn.response.status, 200);
    await signedIn.response.arrayBuffer();
    await sso.goDown();
    try {
      const response = await user.request(`${strict.url}/report.txt`);
      t.is(response.status, 500);
      t.false((await response.text()).includes('the report'));
    } finally {
      await sso.comeBack();
    }
    const after = await user.request(`${strict.url}/report.txt`);
    t.is(after.status, 200);
    await after.arrayBuffer();
  } finally {
    await strict.stop();
  }
});
