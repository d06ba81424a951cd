// Sorting a folder listing by name, size or date on the server, from the
// built proxy against the real S3 server: the rows of the HTML page and of
// the JSON form come in the order asked for; a bad sort is 400.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv, oauth2Sso } from '../support/proxy-env.ts';
import { createBucket, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { UserAgent } from '../support/user-agent.ts';

const stack = s3Stack();
let sso: OAuth2Sso;
let proxy: ProxyProcess;
let user: UserAgent;

test.before(async () => {
  const bucket = await createBucket(stack, 'listing-sort');
  // written one after another, so that their dates differ (S3 keeps seconds)
  for (const [key, size] of [['b-middle.txt', 50], ['a-small.txt', 5], ['c-large.txt', 500]] as const) {
    await putObject(stack, bucket, `files/${key}`, 'x'.repeat(size), 'text/plain');
    await sleep(1_100);
  }
  await putObject(stack, bucket, 'files/sub/inner.txt', 'inner', 'text/plain');
  sso = await startOAuth2Sso();
  proxy = await startProxy(proxyEnv(stack, { bucket, sso: oauth2Sso(sso) }));
  user = new UserAgent();
  const signedIn = await user.signInOAuth2(`${proxy.url}/`);
  if (signedIn.response.status !== 200) throw new Error(`sign-in failed: ${signedIn.response.status}`);
  await signedIn.response.arrayBuffer();
});

test.after.always(async () => {
  await proxy?.stop();
  await sso?.close();
});

const names = (html: string) => [...html.matchAll(/<td class="name"><a [^>]*>([^<]*)<\/a>/g)].map((m) => m[1]!).filter((n) => !n.startsWith('↑'));

async function rows(query: string): Promise<string[]> {
  const response = await user.request(`${proxy.url}/files/${query}`);
  if (response.status !== 200) throw new Error(`${query}: ${response.status}`);
  return names(await response.text());
}

test('the listing sorts by name, size or date as its query asks, folders first', async (t) => {
  t.deepEqual(await rows(''), ['sub/', 'a-small.txt', 'b-middle.txt', 'c-large.txt']);
  t.deepEqual(await rows('?sort=name&order=desc'), ['sub/', 'c-large.txt', 'b-middle.txt', 'a-small.txt']);
  t.deepEqual(await rows('?sort=size'), ['sub/', 'c-large.txt', 'b-middle.txt', 'a-small.txt']);
  t.deepEqual(await rows('?sort=size&order=asc'), ['sub/', 'a-small.txt', 'b-middle.txt', 'c-large.txt']);
  t.deepEqual(await rows('?sort=date'), ['sub/', 'c-large.txt', 'a-small.txt', 'b-middle.txt']);
  t.deepEqual(await rows('?sort=date&order=asc'), ['sub/', 'b-middle.txt', 'a-small.txt', 'c-large.txt']);
});

test('the JSON form takes the same sort', async (t) => {
  const response = await user.request(`${proxy.url}/files/?sort=size`, { navigation: false, headers: { accept: 'application/json' } });
  const json = (await response.json()) as { objects: Array<{ name: string }> };
  t.deepEqual(json.objects.map((o) => o.name), ['c-large.txt', 'b-middle.txt', 'a-small.txt']);
});

test('an unknown or repeated sort is 400', async (t) => {
  for (const query of ['?sort=colour', '?sort=size&sort=date', '?order=sideways']) {
    const response = await user.request(`${proxy.url}/files/${query}`);
    t.is(response.status, 400, query);
    await response.arrayBuffer();
  }
});
