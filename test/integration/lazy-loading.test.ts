// What a proxy loads, and when: the AWS SDK (and the upload and listing code
// that call it) is never loaded by a proxy that only serves objects, and is
// loaded by the first listing or upload request; everything else comes from
// the bundle, not from node_modules. The proxy
// runs with a module hook (test/support/module-log.mjs) that records every
// module it loads.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv, oauth2Sso } from '../support/proxy-env.ts';
import { createBucket, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { UserAgent } from '../support/user-agent.ts';

const stack = s3Stack();
const hook = fileURLToPath(new URL('../support/module-log.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 's3proxy-modules-'));
let bucket: string;
let sso: OAuth2Sso;

// The bundle names a file loaded with import() after its module: routes-<hash>.js.
const uploadRoutes = (log: string) => log.split('\n').some((url) => /\/dist\/routes-[A-Z0-9]+\.js$/.test(url));
const sdk = (log: string) => log.split('\n').filter((url) => url.includes('/node_modules/@aws-sdk/client-s3/'));

async function start(name: string, extra: Record<string, string> = {}): Promise<{ proxy: ProxyProcess; log: () => string }> {
  const file = join(dir, `${name}.log`);
  const proxy = await startProxy({
    ...proxyEnv(stack, { bucket, sso: oauth2Sso(sso), healthcheckKey: 'health.txt', extra }),
    NODE_OPTIONS: `--import=${hook}`,
    S3PROXY_TEST_MODULE_LOG: file,
  });
  return { proxy, log: () => readFileSync(file, 'utf8') };
}

test.before(async () => {
  bucket = await createBucket(stack, 'lazy');
  await putObject(stack, bucket, 'health.txt', Buffer.from('ok'));
  await putObject(stack, bucket, 'folder/a.txt', Buffer.from('a'));
  sso = await startOAuth2Sso();
});

test.after.always(async () => {
  await sso?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a proxy that only serves objects never loads the AWS SDK; the first listing loads it', async (t) => {
  const { proxy, log } = await start('downloads');
  try {
    t.true(log().includes('/dist/main.js'), 'the hook records the proxy itself');
    const user = new UserAgent();
    const signedIn = await user.signInOAuth2(`${proxy.url}/folder/a.txt`);
    t.is(signedIn.response.status, 200);
    t.is(await signedIn.response.text(), 'a');
    const health = await fetch(`${proxy.url}/health.txt`);
    t.is(health.status, 200);
    await health.arrayBuffer();
    t.deepEqual(sdk(log()), [], 'no SDK module after start-up, a sign-in and two downloads');

    const listing = await user.request(`${proxy.url}/folder/`, { navigation: false, headers: { accept: 'application/json' } });
    t.is(listing.status, 200);
    t.true(((await listing.json()) as { objects: Array<{ name: string }> }).objects.some((o) => o.name === 'a.txt'));
    t.true(sdk(log()).length > 0, 'the listing loaded the SDK');
  } finally {
    await proxy.stop();
  }
});

test('with uploads on, the upload routes answer on first use although they were not loaded at start-up', async (t) => {
  const { proxy, log } = await start('uploads', { UPLOAD_PREFIX: 'incoming/', UPLOAD_DATA_PATH: 'proxy' });
  try {
    t.false(uploadRoutes(log()), 'upload routes not loaded at start-up');
    const user = new UserAgent();
    const signedIn = await user.signInOAuth2(`${proxy.url}/folder/a.txt`);
    t.is(signedIn.response.status, 200);
    await signedIn.response.arrayBuffer();
    const uploads = await user.request(`${proxy.url}/__s3proxy/uploads`, { navigation: false, headers: { accept: 'application/json' } });
    t.is(uploads.status, 200);
    t.deepEqual(await uploads.json(), { uploads: [] });
    t.true(uploadRoutes(log()), 'the first upload request loaded the routes');
  } finally {
    await proxy.stop();
  }
});

// The build bundles every dependency but the AWS SDK (scripts/build.ts): from
// one file per module, Node's loader ran hot enough at start-up to page in
// V8's optimizing compilers, about 5 MB of RSS before the first request.
test('a proxy starts from its bundle: of node_modules it reads only the AWS SDK credential providers and their @smithy parts', async (t) => {
  const { proxy, log } = await start('bundle');
  try {
    const health = await fetch(`${proxy.url}/health.txt`);
    t.is(health.status, 200);
    await health.arrayBuffer();
    const files = log().split('\n').filter((url) => url.startsWith('file:'));
    const packages = new Set(files.flatMap((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1] ?? []));
    t.true(packages.has('@aws-sdk/credential-providers'), 'the signer reads its credential providers from node_modules');
    t.deepEqual([...packages].filter((name) => !name.startsWith('@aws-sdk/') && !name.startsWith('@smithy/')), [], 'every other dependency came from the bundle');
    const own = files.filter((url) => url.includes('/dist/'));
    t.true(own.length <= 20, `the bundle's files read at start-up: ${own.length}`);
  } finally {
    await proxy.stop();
  }
});
