// Folder listings through the proxy from the real S3 server: order, sizes,
// breadcrumbs, pagination past 1,000 keys, JSON, hostile key names, and S3
// refusing to list.
import test from 'ava';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv, oauth2Sso } from '../support/proxy-env.ts';
import { createBucket, patternBytes, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { startGetOnlyProxy } from '../support/get-only-proxy.ts';
import { UserAgent } from '../support/user-agent.ts';
import { startTcpRelay } from '../support/tcp-relay.ts';
import { freePort } from '../support/free-port.ts';

const stack = s3Stack();
const manyCount = 1050;
const hostileKeys = [
  '<img src=x onerror=alert(1)>.txt',
  `quote"and'apostrophe.txt`,
  'what?and#hash.txt',
];
const oddFolder = 'q?h#p% s ü日本/';

let bucket: string;
let sso: OAuth2Sso;
let proxy: ProxyProcess;
let user: UserAgent;

interface Anchor {
  href: string;
  text: string;
}

function decodeEntities(text: string): string {
  return text
    .replace(/&#(\d+);/g, (_, code: string) => String.fromCodePoint(Number(code)))
    .replaceAll('&quot;', '"')
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
}

function anchors(html: string): Anchor[] {
  return [...html.matchAll(/<a href="([^"]*)"[^>]*>([^<]*)<\/a>/g)].map((m) => ({ href: decodeEntities(m[1]!), text: decodeEntities(m[2]!) }));
}

/** Name cells in page order (linked or not). */
function names(html: string): string[] {
  return [...html.matchAll(/<td class="name">(?:<a [^>]*>)?([^<]*)/g)].map((m) => decodeEntities(m[1]!)).filter((n) => !n.startsWith('↑'));
}

interface ListingJson {
  prefix: string;
  folders: Array<{ name: string; path: string }>;
  objects: Array<{ name: string; path: string; size: number; lastModified: string; etag: string }>;
  nextPage: string | null;
}

async function listJson(path: string): Promise<ListingJson> {
  const response = await user.request(proxy.url + path, { navigation: false, headers: { accept: 'application/json' } });
  if (response.status !== 200) throw new Error(`${path}: ${response.status}`);
  return (await response.json()) as ListingJson;
}

test.before(async () => {
  bucket = await createBucket(stack, 'listings');
  const seed: Array<[string, Buffer | string]> = [
    ['root/alpha.bin', patternBytes(1_234_567)],
    ['root/zeta.txt', 'zeta'],
    ['root/docs/', ''],
    ['root/docs/a.txt', 'x'.repeat(1500)],
    ['root/docs/deep/b.txt', 'deep b'],
    ['root/empty-folder/', ''],
    ['outside.txt', 'outside the prefix'],
    [`root/${oddFolder}inner.txt`, 'inside the odd folder'],
    ...hostileKeys.map((key): [string, string] => [`root/hostile/${key}`, `content of ${key}`]),
  ];
  for (let i = 0; i < manyCount; i += 1) seed.push([`root/many/key-${String(i).padStart(4, '0')}.txt`, String(i)]);
  for (let i = 0; i < seed.length; i += 50) {
    await Promise.all(seed.slice(i, i + 50).map(([key, body]) => putObject(stack, bucket, key, body, 'text/plain')));
  }
  sso = await startOAuth2Sso();
  proxy = await startProxy(
    proxyEnv(stack, {
      bucket,
      keyPrefix: 'root/',
      sso: oauth2Sso(sso),
    }),
  );
  user = new UserAgent();
  const signedIn = await user.signInOAuth2(`${proxy.url}/`);
  if (signedIn.response.status !== 200) throw new Error(`sign-in failed: ${signedIn.response.status}`);
  await signedIn.response.arrayBuffer();
});

test.after.always(async () => {
  await proxy?.stop();
  await sso?.close();
});

test('the top folder lists sub-folders first, then files with human-readable sizes', async (t) => {
  const response = await user.request(`${proxy.url}/`);
  t.is(response.status, 200);
  t.regex(response.headers.get('content-type')!, /^text\/html; charset=utf-8/);
  t.is(response.headers.get('content-security-policy'), "default-src 'none'; style-src 'self'; base-uri 'none'; frame-ancestors 'none'");
  t.is(response.headers.get('x-content-type-options'), 'nosniff');
  const html = await response.text();
  t.deepEqual(names(html), ['docs/', 'empty-folder/', 'hostile/', 'many/', oddFolder, 'alpha.bin', 'zeta.txt']);
  t.true(html.includes('1.2 MB'));
  t.true(html.includes('4 B'));
  t.true(html.includes('name="viewport"'));
  t.false(/<script/i.test(html));
  t.false(html.includes('outside.txt'));
  t.false(html.includes('root/'));
});

test('a nested folder has a breadcrumb whose links lead up, and its own marker is not a file', async (t) => {
  const deep = await user.request(`${proxy.url}/docs/deep/`);
  t.is(deep.status, 200);
  const html = await deep.text();
  t.deepEqual(names(html), ['b.txt']);
  const crumbs = anchors(/<nav[^>]*>([\s\S]*?)<\/nav>/.exec(html)![1]!);
  t.deepEqual(crumbs, [
    { href: '/', text: 'Home' },
    { href: '/docs/', text: 'docs' },
  ]);
  const up = await user.request(proxy.url + crumbs[1]!.href);
  t.is(up.status, 200);
  t.deepEqual(names(await up.text()), ['deep/', 'a.txt']);
  const top = await user.request(proxy.url + crumbs[0]!.href);
  t.is(top.status, 200);
  t.true(names(await top.text()).includes('docs/'));
});

test('an empty folder (only its marker) is shown as empty; a folder that does not exist is 404', async (t) => {
  const empty = await user.request(`${proxy.url}/empty-folder/`);
  t.is(empty.status, 200);
  t.true((await empty.text()).includes('This folder is empty.'));
  const missing = await user.request(`${proxy.url}/no-such-folder/`);
  t.is(missing.status, 404);
  await missing.arrayBuffer();
});

test('more than 1,000 keys are paginated: the next page shows the rest, without duplicates', async (t) => {
  const first = await user.request(`${proxy.url}/many/`);
  t.is(first.status, 200);
  const firstHtml = await first.text();
  const firstNames = names(firstHtml);
  t.is(firstNames.length, 1000);
  const next = anchors(firstHtml).find((a) => a.text === 'Next page');
  t.truthy(next);
  t.true(next!.href.startsWith('?page='));
  const second = await user.request(new URL(next!.href, `${proxy.url}/many/`));
  t.is(second.status, 200);
  const secondHtml = await second.text();
  const secondNames = names(secondHtml);
  t.is(secondNames.length, manyCount - 1000);
  t.false(anchors(secondHtml).some((a) => a.text === 'Next page'));
  t.true(anchors(secondHtml).some((a) => a.text === 'First page' && a.href === '/many/'));
  const all = new Set([...firstNames, ...secondNames]);
  t.is(all.size, manyCount);
  t.true(all.has('key-0000.txt') && all.has(`key-${manyCount - 1}.txt`));
});

test('the JSON form has the same listing, and its nextPage leads to the rest', async (t) => {
  const top = await listJson('/');
  t.is(top.prefix, '');
  t.deepEqual(top.folders.map((f) => f.name), ['docs', 'empty-folder', 'hostile', 'many', oddFolder.slice(0, -1)]);
  t.deepEqual(top.objects.map((o) => [o.name, o.path, o.size]), [
    ['alpha.bin', '/alpha.bin', 1_234_567],
    ['zeta.txt', '/zeta.txt', 4],
  ]);
  t.truthy(Date.parse(top.objects[0]!.lastModified));
  t.regex(top.objects[0]!.etag, /^"[^"]+"$/);
  t.is(top.nextPage, null);

  const first = await listJson('/many/');
  t.is(first.prefix, 'many/');
  t.is(first.objects.length, 1000);
  t.truthy(first.nextPage);
  const second = await listJson(first.nextPage!);
  t.is(second.objects.length, manyCount - 1000);
  t.is(second.nextPage, null);
  t.is(new Set([...first.objects, ...second.objects].map((o) => o.path)).size, manyCount);
});

test('hostile key names are text, and each listed link downloads exactly that object', async (t) => {
  const response = await user.request(`${proxy.url}/hostile/`);
  t.is(response.status, 200);
  const html = await response.text();
  t.true(html.includes('&lt;img'));
  t.false(html.includes('<img'));
  t.false(html.includes(`quote"and`));
  const links = anchors(html);
  for (const key of hostileKeys) {
    const link = links.find((a) => a.text === key);
    t.truthy(link, key);
    const download = await user.request(new URL(link!.href, `${proxy.url}/hostile/`));
    t.is(download.status, 200, key);
    t.is(await download.text(), `content of ${key}`, key);
  }
});

test('a folder with ?, #, %, a space and unicode in its name is reached by its link', async (t) => {
  const listing = await user.request(`${proxy.url}/`);
  t.is(listing.status, 200);
  const top = anchors(await listing.text());
  const link = top.find((a) => a.text === oddFolder);
  t.truthy(link);
  const folder = await user.request(new URL(link!.href, `${proxy.url}/`));
  t.is(folder.status, 200);
  const inner = anchors(await folder.text()).find((a) => a.text === 'inner.txt');
  t.truthy(inner);
  const file = await user.request(new URL(inner!.href, new URL(link!.href, `${proxy.url}/`)));
  t.is(file.status, 200);
  t.is(await file.text(), 'inside the odd folder');
});

test('HEAD of a listing has the headers and no body', async (t) => {
  const response = await user.request(`${proxy.url}/docs/`, { method: 'HEAD' });
  t.is(response.status, 200);
  t.regex(response.headers.get('content-type')!, /^text\/html/);
  t.truthy(response.headers.get('content-security-policy'));
  t.true(Number(response.headers.get('content-length')) > 0);
  t.is((await response.arrayBuffer()).byteLength, 0);
});

test('a bad page token is 400, and a token is never reflected as markup', async (t) => {
  const repeated = await user.request(`${proxy.url}/many/?page=a&page=b`);
  t.is(repeated.status, 400);
  await repeated.arrayBuffer();
  const control = await user.request(`${proxy.url}/many/?page=a%00b`);
  t.is(control.status, 400);
  await control.arrayBuffer();
  const markup = await user.request(`${proxy.url}/many/?page=${encodeURIComponent('<script>alert(1)</script>')}`);
  // S3 decides what a token it never issued means: RGW lists from it (200), AWS refuses it (400)
  t.true(markup.status === 200 || markup.status === 400, `status ${markup.status}`);
  t.false((await markup.text()).includes('<script>'));
});

test('a listing without a session sends a browser to SSO and a script gets 401', async (t) => {
  const navigation = await new UserAgent().request(`${proxy.url}/docs/`);
  t.is(navigation.status, 302);
  t.true(navigation.headers.get('location')!.startsWith(sso.url));
  const script = await fetch(`${proxy.url}/docs/`, { headers: { accept: 'application/json' } });
  t.is(script.status, 401);
  t.false((await script.text()).includes('a.txt'));
});

test('credentials that may not list the bucket get 403 for a listing, while objects still download', async (t) => {
  const limited = await startGetOnlyProxy(stack, oauth2Sso(sso), 'limited-list');
  try {
    const ua = new UserAgent();
    const present = await ua.signInOAuth2(`${limited.url}/there.txt`);
    t.is(present.response.status, 200);
    t.is(await present.response.text(), 'here');
    const listing = await ua.request(`${limited.url}/`);
    t.is(listing.status, 403);
    const body = await listing.text();
    t.false(body.includes('AccessDenied'));
    t.false(body.includes('<Error>'));
    t.is(listing.headers.get('content-security-policy'), null);
    const json = await ua.request(`${limited.url}/`, { navigation: false, headers: { accept: 'application/json' } });
    t.is(json.status, 403);
    await json.arrayBuffer();
  } finally {
    await limited.stop();
  }
});

/** A proxy of its own on the main bucket, signed in, for S3 failing in one way. */
async function brokenProxy(t: { teardown(fn: () => Promise<void>): void }, change: (env: Record<string, string>) => void): Promise<{ proxy: ProxyProcess; ua: UserAgent }> {
  const env = proxyEnv(stack, {
    bucket,
    keyPrefix: 'root/',
    sso: oauth2Sso(sso),
    extra: { AWS_S3_RESPONSE_TIMEOUT: '1.5' },
  });
  change(env);
  const broken = await startProxy(env);
  t.teardown(() => broken.stop());
  const ua = new UserAgent();
  // Signing in ends on the listing, which fails: the session is made before that.
  const signedIn = await ua.signInOAuth2(`${broken.url}/`);
  await signedIn.response.arrayBuffer();
  return { proxy: broken, ua };
}

test("wrong S3 credentials are a 500 and an error log naming S3's code, never S3's body", async (t) => {
  const { proxy: wrong, ua } = await brokenProxy(t, (env) => {
    env.AWS_SECRET_ACCESS_KEY = 'not-the-secret-key-at-all';
  });
  const response = await ua.request(`${wrong.url}/docs/`);
  t.is(response.status, 500);
  t.false((await response.text()).includes('SignatureDoesNotMatch'));
  const line = await wrong.waitForLog((l) => l.s3Code !== undefined);
  t.is(line.s3Code, 'SignatureDoesNotMatch');
  t.is(line.level, 50);
});

test('S3 silent past the timeout is a 504, and S3 unreachable a 502', async (t) => {
  const relay = await startTcpRelay({ host: stack.endpoint.hostname, port: Number(stack.endpoint.port) });
  t.teardown(() => relay.close());
  const { proxy: slow, ua } = await brokenProxy(t, (env) => {
    env.AWS_S3_ENDPOINT = `${relay.url}/${bucket}/root/`;
  });
  relay.freeze();
  const started = Date.now();
  const response = await ua.request(`${slow.url}/docs/`);
  t.is(response.status, 504);
  t.true(Date.now() - started < 5000);
  await response.arrayBuffer();
  relay.thaw();
  relay.cutAll();

  const closedPort = await freePort();
  const { proxy: unreachable, ua: other } = await brokenProxy(t, (env) => {
    env.AWS_S3_ENDPOINT = `http://127.0.0.1:${closedPort}/${bucket}/root/`;
  });
  const refused = await other.request(`${unreachable.url}/docs/`);
  t.is(refused.status, 502);
  t.false((await refused.text()).includes('ECONNREFUSED'));
});
