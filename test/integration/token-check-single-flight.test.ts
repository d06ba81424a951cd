// Many requests of one session at once (a page's images, a video's ranges)
// after the grace period: one token check at SSO between them, counted at
// the test SSO server, whose user-info answers are held back so that the
// requests overlap it.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv, oauth2Sso } from '../support/proxy-env.ts';
import { createBucket, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { UserAgent } from '../support/user-agent.ts';

const stack = s3Stack();
const parallel = 20;

let sso: OAuth2Sso;
let proxy: ProxyProcess;

test.before(async () => {
  const bucket = await createBucket(stack, 'single-flight');
  await putObject(stack, bucket, 'image.png', 'not really a png', 'image/png');
  sso = await startOAuth2Sso();
  proxy = await startProxy(proxyEnv(stack, { bucket, sso: oauth2Sso(sso), extra: { SSO_TOKEN_CHECK_GRACE_PERIOD: '1' } }));
});

test.after.always(async () => {
  await proxy?.stop();
  await sso?.close();
});

async function signedIn(): Promise<UserAgent> {
  const user = new UserAgent();
  const result = await user.signInOAuth2(`${proxy.url}/image.png`);
  if (result.response.status !== 200) throw new Error(`sign-in ended with ${result.response.status}`);
  await result.response.arrayBuffer();
  return user;
}

/** `parallel` requests of the page's images at once; their statuses */
async function burst(user: UserAgent): Promise<number[]> {
  const cookie = (await user.jar.getCookieString(proxy.url)) ?? '';
  return Promise.all(
    Array.from({ length: parallel }, async () => {
      const response = await fetch(`${proxy.url}/image.png`, { headers: { cookie, accept: 'image/*' } });
      await response.arrayBuffer();
      return response.status;
    }),
  );
}

test.serial('concurrent requests of one session after the grace period make one token check at SSO between them', async (t) => {
  const user = await signedIn();
  await sleep(1_200); // past SSO_TOKEN_CHECK_GRACE_PERIOD
  sso.userInfoDelay(300);
  t.teardown(() => sso.userInfoDelay(0));
  const before = sso.userInfoCalls;
  const statuses = await burst(user);
  t.deepEqual(statuses, Array(parallel).fill(200));
  t.is(sso.userInfoCalls - before, 1);

  // and the check counts for the next grace period
  const after = await burst(user);
  t.deepEqual(after, Array(parallel).fill(200));
  t.is(sso.userInfoCalls - before, 1);
});

test.serial('concurrent requests of one session whose token SSO revoked share one check, and all are refused', async (t) => {
  const user = await signedIn();
  sso.revoke(sso.issuedTokens.at(-1)!);
  await sleep(1_200);
  sso.userInfoDelay(300);
  t.teardown(() => sso.userInfoDelay(0));
  const before = sso.userInfoCalls;
  const statuses = await burst(user);
  t.deepEqual(statuses, Array(parallel).fill(401));
  t.is(sso.userInfoCalls - before, 1);
});
