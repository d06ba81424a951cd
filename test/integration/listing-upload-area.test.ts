// The upload area on folder listings, from the built proxy: shown when
// uploads are on and the user may upload, with the operator's limits as data
// attributes and a CSP that lets the page's own scripts reach this origin and
// S3; the user's upload folder exists before the first upload; and nothing of
// it for users UPLOAD_ALLOWED_USERS leaves out.
import test from 'ava';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv, oauth2Sso } from '../support/proxy-env.ts';
import { createBucket, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { UserAgent } from '../support/user-agent.ts';

const stack = s3Stack();
let bucket: string;
let sso: OAuth2Sso;
const proxies: ProxyProcess[] = [];

test.before(async () => {
  bucket = await createBucket(stack, 'upload-area');
  await putObject(stack, bucket, 'shared/readme.txt', 'hello', 'text/plain');
  sso = await startOAuth2Sso();
});

test.after.always(async () => {
  await Promise.all(proxies.map((proxy) => proxy.stop()));
  await sso?.close();
});

async function signedInProxy(extra: Record<string, string>): Promise<{ proxy: ProxyProcess; user: UserAgent }> {
  const proxy = await startProxy(proxyEnv(stack, { bucket, sso: oauth2Sso(sso), extra }));
  proxies.push(proxy);
  const user = new UserAgent();
  const signedIn = await user.signInOAuth2(`${proxy.url}/`);
  if (signedIn.response.status !== 200) throw new Error(`sign-in failed: ${signedIn.response.status}`);
  await signedIn.response.arrayBuffer();
  return { proxy, user };
}

const section = (html: string) => /<section class="upload"[^>]*>/.exec(html)?.[0];
const attribute = (tag: string, name: string) => new RegExp(` data-${name}="([^"]*)"`).exec(tag)?.[1];

test("with uploads on, a listing has the upload area with the operator's limits, Uppy from this origin, and a CSP for it", async (t) => {
  const { proxy, user } = await signedInProxy({ UPLOAD_PREFIX: 'uploads/{user}/', UPLOAD_MAX_BYTES: '10MB', UPLOAD_ALLOWED_TYPES: 'image/*,text/plain' });
  const response = await user.request(`${proxy.url}/shared/`);
  t.is(response.status, 200);
  const csp = response.headers.get('content-security-policy')!;
  t.is(
    csp,
    `default-src 'none'; style-src 'self'; base-uri 'none'; frame-ancestors 'none'; script-src 'self'; connect-src 'self' ${stack.endpoint.origin}; img-src 'self' data: blob:`,
  );
  const html = await response.text();
  const tag = section(html);
  t.truthy(tag);
  t.is(attribute(tag!, 'max-bytes'), '10000000');
  t.is(attribute(tag!, 'allowed-types'), 'image/*,text/plain');
  t.is(attribute(tag!, 'endpoint'), '/__s3proxy');
  t.true(html.includes('Files you upload go to <a href="/uploads/alice%40example.org/" class="destination">/uploads/alice@example.org/</a>.'));
  const scripts = [...html.matchAll(/<script src="([^"]+)" defer><\/script>/g)].map((m) => m[1]!);
  t.is(scripts.length, 2);
  for (const src of scripts) {
    t.regex(src, /^\/__s3proxy\/assets\/(uppy|upload-page)-[0-9a-f]{16}\.js$/);
    const script = await user.request(proxy.url + src, { navigation: false });
    t.is(script.status, 200, src);
    t.is(script.headers.get('content-type'), 'text/javascript; charset=utf-8');
    await script.arrayBuffer();
  }
  t.false(/<script>|<script [^s]|<style/i.test(html), 'no inline script or style');
});

test("the user's own upload folder is a listing before anything is in it, and updates itself; other empty folders are still 404", async (t) => {
  const { proxy, user } = await signedInProxy({ UPLOAD_PREFIX: 'uploads/{user}/' });
  const own = await user.request(`${proxy.url}/uploads/alice@example.org/`);
  t.is(own.status, 200);
  const html = await own.text();
  t.true(html.includes('This folder is empty.'));
  t.is(attribute(section(html)!, 'refresh'), 'listing');
  t.true(html.includes('Files you upload go into this folder'));
  const json = await user.request(`${proxy.url}/uploads/alice@example.org/`, { navigation: false, headers: { accept: 'application/json' } });
  t.is(json.status, 200);
  t.like(await json.json(), { folders: [], objects: [] });
  const other = await user.request(`${proxy.url}/uploads/bob@example.org/`);
  t.is(other.status, 404);
  await other.arrayBuffer();
});

test('a user UPLOAD_ALLOWED_USERS leaves out gets the listing without upload area, script or the looser CSP', async (t) => {
  const { proxy, user } = await signedInProxy({ UPLOAD_PREFIX: 'uploads/{user}/', UPLOAD_ALLOWED_USERS: 'bob@example.org,@elsewhere.example' });
  const response = await user.request(`${proxy.url}/shared/`);
  t.is(response.headers.get('content-security-policy'), "default-src 'none'; style-src 'self'; base-uri 'none'; frame-ancestors 'none'");
  const html = await response.text();
  t.is(section(html), undefined);
  t.false(/<script/i.test(html));
  const own = await user.request(`${proxy.url}/uploads/alice@example.org/`);
  t.is(own.status, 404, 'no upload folder for someone who may not upload');
  await own.arrayBuffer();
});
