// The demo's long-running part (demo.sh prepares Node, the build and S3 +
// Redis, then runs this): an OpenID provider with a demo user, a seeded
// bucket, and the built proxy on http://localhost:8080 (DEMO_PORT). On
// SIGINT/SIGTERM it stops what it started, in reverse order, and exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { defaultAccounts, startOidcIssuer, type OidcAccount } from '../../test/support/oidc-issuer.ts';
import { proxyEnv } from '../../test/support/proxy-env.ts';
import { createBucket, putObject, s3Stack } from '../../test/support/s3-fixtures.ts';
import { allowBrowserUploads } from '../../test/support/upload-cors.ts';
import { userPrefix } from '../../src/uploads/object-name.ts';
import { sampleObjects } from './sample-objects.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const port = Number(process.env.DEMO_PORT ?? 8080);
if (!Number.isInteger(port) || port <= 0 || port > 65535) fail(`DEMO_PORT must be a port number, got ${process.env.DEMO_PORT}`);
const url = `http://localhost:${port}`;

const demoUser: OidcAccount = { username: 'demo', password: 'demo-password', sub: 'demo-sub', email: 'demo@example.org', name: 'Demo User' };
const alice = defaultAccounts[0]!;
const uploadPrefix = 'uploads/{user}/';

// Stops run newest first; anything started after a signal arrived is stopped at once.
const stops: Array<{ name: string; stop: () => Promise<void> }> = [];
let stopping = false;
async function track(name: string, stop: () => Promise<void>): Promise<void> {
  stops.push({ name, stop });
  if (stopping) await stopEverything(0);
}
async function stopEverything(code: number): Promise<never> {
  stopping = true;
  while (stops.length > 0) {
    const { name, stop } = stops.pop()!;
    try {
      await stop();
    } catch (error) {
      process.stderr.write(`demo: stopping ${name} failed: ${(error as Error).message}\n`);
    }
  }
  process.exit(code);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    process.stdout.write(`\ndemo: ${signal}, stopping\n`);
    void stopEverything(0);
  });
}

function fail(message: string): never {
  process.stderr.write(`demo: ${message}\n`);
  process.exit(1);
}

const stack = s3Stack();

const issuer = await startOidcIssuer({
  clientId: 's3proxy-demo',
  clientSecret: randomBytes(24).toString('base64url'),
  // Both spellings of the loopback host, so either address in the browser works.
  redirectUris: [`${url}/__redirect_from_sso`, `http://127.0.0.1:${port}/__redirect_from_sso`],
  postLogoutRedirectUris: [`${url}/__s3proxy/signed-out`, `http://127.0.0.1:${port}/__s3proxy/signed-out`],
  accounts: [demoUser, alice],
});
await track('the OpenID provider', () => issuer.close());

const bucket = await createBucket(stack, 's3proxy-demo');
// The browser sends upload bytes to S3 itself: the bucket must let the page's origin (either spelling).
await allowBrowserUploads(stack, bucket, [url, `http://127.0.0.1:${port}`]);
const objects = sampleObjects();
process.stdout.write(`demo: seeding ${objects.length} objects into bucket ${bucket}\n`);
const queue = [...objects];
await Promise.all(
  Array.from({ length: 8 }, async () => {
    for (let next = queue.shift(); next; next = queue.shift()) await putObject(stack, bucket, next.key, next.body, next.type);
  }),
);

const proxy = await startDemoProxy();
proxy.once('exit', (code, signal) => {
  if (stopping) return;
  process.stderr.write(`demo: the proxy exited unexpectedly (${signal ?? `code ${code}`}); see .cache/demo/proxy.log\n`);
  void stopEverything(1);
});

process.stdout.write(`
s3proxy demo is running.

  Open      ${url}/
  Sign in   ${demoUser.username} / ${demoUser.password}   (or ${alice.username} / ${alice.password})
  Video     ${url}/media/video.webm
  Upload    drop files on any folder listing; they go to ${url}/${userPrefix(uploadPrefix, demoUser.email)}
  Sign out  ${url}/__s3proxy/logout

  OpenID provider  ${issuer.issuer}
  Bucket           ${bucket} at ${stack.endpoint.origin}
  Proxy log        .cache/demo/proxy.log

Press Ctrl-C to stop.
`);

async function startDemoProxy(): Promise<ChildProcess> {
  mkdirSync(`${root}.cache/demo`, { recursive: true });
  const log = createWriteStream(`${root}.cache/demo/proxy.log`, { flags: 'a' });
  const env = proxyEnv(stack, {
    bucket,
    sso: { mode: 'oidc', issuer: issuer.issuer, clientId: issuer.clientId, clientSecret: issuer.clientSecret },
    extra: {
      PORT: String(port),
      REDIS_KEY_PREFIX: `demo-${randomBytes(4).toString('hex')}:`,
      // every signed-in user may upload, each into a folder of their own
      UPLOAD_PREFIX: uploadPrefix,
    },
  });
  const child = spawn(process.execPath, [`${root}dist/main.js`], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  await track('the proxy', () => stopChild(child));
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  let seen = '';
  const listening = new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      seen += chunk;
      if (seen.includes('"msg":"listening"')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the proxy exited with code ${code} before listening (port ${port} taken? set DEMO_PORT); see .cache/demo/proxy.log`)));
  });
  try {
    await listening;
  } catch (error) {
    process.stderr.write(`demo: ${(error as Error).message}\n`);
    await stopEverything(1);
  }
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
