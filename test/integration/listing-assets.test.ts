// The listing's stylesheet and the proxy's other static files, from the
// built proxy: linked from the page under a hashed name, served with
// year-long immutable caching, the bytes of the file on disk, and a strict
// Content-Security-Policy on the page that links them.
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv, oauth2Sso } from '../support/proxy-env.ts';
import { createBucket, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { UserAgent } from '../support/user-agent.ts';

const stack = s3Stack();
const cssOnDisk = fileURLToPath(new URL('../../src/http/assets/listing.css', import.meta.url));

let sso: OAuth2Sso;
let proxy: ProxyProcess;
let user: UserAgent;

test.before(async () => {
  const bucket = await createBucket(stack, 'listing-assets');
  await putObject(stack, bucket, 'a.txt', 'a', 'text/plain');
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

async function stylesheetPath(): Promise<string> {
  const html = await (await user.request(`${proxy.url}/`)).text();
  const href = /<link rel="stylesheet" href="([^"]+)">/.exec(html)?.[1];
  if (!href) throw new Error('no stylesheet link');
  return href;
}

test('the listing links its stylesheet from the proxy, has no inline style or script, and a CSP that allows only its own origin', async (t) => {
  const response = await user.request(`${proxy.url}/`);
  const csp = response.headers.get('content-security-policy')!;
  const html = await response.text();
  t.regex(await stylesheetPath(), /^\/__s3proxy\/assets\/listing-[0-9a-f]{16}\.css$/);
  t.false(/<style|<script|style="/i.test(html));
  t.is(csp, "default-src 'none'; style-src 'self'; base-uri 'none'; frame-ancestors 'none'");
  t.false(csp.includes('unsafe-inline'));
});

test('a hashed asset is served without sign-in, immutable for a year, as the bytes on disk, gzipped when asked', async (t) => {
  const path = await stylesheetPath();
  const plain = await request(proxy.url + path);
  t.is(plain.statusCode, 200);
  t.is(plain.headers['cache-control'], 'public, max-age=31536000, immutable');
  t.is(plain.headers['content-type'], 'text/css; charset=utf-8');
  t.is(plain.headers['x-content-type-options'], 'nosniff');
  t.deepEqual(Buffer.from(await plain.body.arrayBuffer()), await readFile(cssOnDisk));

  const gzipped = await request(proxy.url + path, { headers: { 'accept-encoding': 'gzip, br' } });
  t.is(gzipped.headers['content-encoding'], 'gzip');
  t.regex(String(gzipped.headers.vary), /accept-encoding/i);
  t.deepEqual(gunzipSync(Buffer.from(await gzipped.body.arrayBuffer())), await readFile(cssOnDisk));

  const revalidated = await request(proxy.url + path, { headers: { 'if-none-match': String(plain.headers.etag) } });
  t.is(revalidated.statusCode, 304);
  await revalidated.body.dump();

  const head = await request(proxy.url + path, { method: 'HEAD' });
  t.is(head.statusCode, 200);
  t.is(head.headers['content-length'], String((await readFile(cssOnDisk)).length));
  await head.body.dump();
});

test('an unknown or stale asset name is 404 and not cached for a year', async (t) => {
  for (const name of ['listing.css', 'listing-0000000000000000.css', 'nothing', '..%2Fmain.js']) {
    const response = await request(`${proxy.url}/__s3proxy/assets/${name}`);
    t.is(response.statusCode, 404, name);
    t.not(response.headers['cache-control'], 'public, max-age=31536000, immutable', name);
    await response.body.dump();
  }
});
