// The command-line client (dist/cli/s3proxy.js) against the built proxy,
// the real S3 server and Redis: keygen, uploads in one PUT and in parallel
// parts, an upload killed half way and run again (S3's own ListParts says
// when to kill; a relay in front of S3 counts every part S3 is sent), get,
// and the refusals a user sees.
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AbortMultipartUploadCommand, DeleteBucketCommand, DeleteObjectsCommand, ListMultipartUploadsCommand, ListObjectsV2Command, ListPartsCommand, S3Client } from '@aws-sdk/client-s3';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { oauth2Sso, proxyEnv } from '../support/proxy-env.ts';
import { createBucket, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { freePort } from '../support/free-port.ts';

const stack = s3Stack();
const cliJs = fileURLToPath(new URL('../../dist/cli/s3proxy.js', import.meta.url));
const ada = 'ada@example.org';
const MiB = 1024 ** 2;

let bucket: string;
let keysDir: string;
let work: string;
let sso: OAuth2Sso;
let relay: PartRelay;
let proxy: ProxyProcess;
let s3: S3Client;

// --- a relay in front of S3 that counts part uploads and can hold them ------

interface PartRelay {
  url: string;
  /** PUTs S3 was sent, by upload id and part number ('-' for a single PUT) */
  sent: Array<{ uploadId: string; partNumber: string; target: string }>;
  /** while set, matching PUTs are held before S3 sees them */
  hold: ((partNumber: string) => boolean) | undefined;
  /** how many PUTs were held at once, at most */
  maxHeldAtOnce: number;
  /** PUTs held now (a held request whose client went away is dropped, never sent on) */
  heldNow(): number;
  releaseAll(): void;
  close(): Promise<void>;
}

async function startPartRelay(target: URL): Promise<PartRelay> {
  const held = new Set<() => void>();
  const relayState: PartRelay = {
    url: '',
    sent: [],
    hold: undefined,
    maxHeldAtOnce: 0,
    heldNow: () => held.size,
    releaseAll() {
      for (const release of [...held]) release();
    },
    close: async () => {
      relayState.releaseAll();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const forward = (req: http.IncomingMessage, res: http.ServerResponse, body?: Buffer): void => {
    const query = new URL(req.url ?? '/', 'http://relay').searchParams;
    if (req.method === 'PUT') relayState.sent.push({ uploadId: query.get('uploadId') ?? '-', partNumber: query.get('partNumber') ?? '-', target: req.url ?? '' });
    // raw headers, Host included: the SigV4 signatures were made for this relay's host
    const upstream = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.rawHeaders as unknown as http.OutgoingHttpHeaders, setHost: false }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.rawHeaders as unknown as http.OutgoingHttpHeaders);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    if (body) {
      upstream.end(body);
      return;
    }
    req.on('aborted', () => upstream.destroy());
    req.pipe(upstream);
  };
  const server = http.createServer((req, res) => {
    const partNumber = new URL(req.url ?? '/', 'http://relay').searchParams.get('partNumber');
    if (req.method === 'PUT' && partNumber !== null && relayState.hold?.(partNumber)) {
      // read (so that a client going away is noticed) but send nothing on while held
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      const release = () => {
        held.delete(release);
        if (req.socket.destroyed) return;
        const send = () => forward(req, res, Buffer.concat(chunks));
        if (req.readableEnded) send();
        else req.once('end', send);
      };
      held.add(release);
      relayState.maxHeldAtOnce = Math.max(relayState.maxHeldAtOnce, held.size);
      req.socket.once('close', () => held.delete(release));
      return;
    }
    forward(req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  relayState.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return relayState;
}

// --- running the client -----------------------------------------------------

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function startCli(args: string[], cwd = work): { child: ChildProcess; done: Promise<Run & { stdoutBytes: Buffer }> } {
  const child = spawn(process.execPath, [cliJs, ...args], { cwd, env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => out.push(c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const done = once(child, 'exit').then(([code, signal]) => {
    const stdoutBytes = Buffer.concat(out);
    return { code: code as number | null, signal: signal as NodeJS.Signals | null, stdout: stdoutBytes.toString('utf8'), stdoutBytes, stderr };
  });
  return { child, done };
}

const cli = (args: string[], cwd = work): Promise<Run> => startCli(args, cwd).done;

const as = (user: string): string[] => ['--url', proxy.url, '--user', user, '--private-key', path.join(work, `${user}_private.pem`)];

async function newUser(type = 'ed25519'): Promise<string> {
  const user = `u-${randomBytes(3).toString('hex')}@example.org`;
  const run = await cli(['keygen', '--user', user, '--type', type]);
  if (run.code !== 0) throw new Error(`keygen failed: ${run.stderr}`);
  await copyFile(path.join(work, `${user}_public.pem`), path.join(keysDir, `${user}_public.pem`));
  return user;
}

async function fileOf(name: string, bytes: number): Promise<{ file: string; content: Buffer }> {
  const content = randomBytes(bytes);
  const file = path.join(work, name);
  await writeFile(file, content);
  return { file, content };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test.before(async () => {
  bucket = await createBucket(stack, 'cli');
  keysDir = await mkdtemp(path.join(tmpdir(), 'cli-keys-'));
  work = await mkdtemp(path.join(tmpdir(), 'cli-work-'));
  sso = await startOAuth2Sso();
  relay = await startPartRelay(stack.endpoint);
  const port = await freePort();
  proxy = await startProxy(
    proxyEnv(stack, {
      bucket,
      sso: oauth2Sso(sso),
      extra: {
        PORT: String(port),
        AWS_S3_ENDPOINT: `${relay.url}/${bucket}/`,
        API_PUBLIC_KEYS_DIR: keysDir,
        // the client's default audience: the --url's origin
        API_AUDIENCE: `http://127.0.0.1:${port}`,
        UPLOAD_PREFIX: 'uploads/{user}/',
      },
    }),
  );
  s3 = new S3Client({
    endpoint: stack.endpoint.origin,
    region: stack.region,
    forcePathStyle: true,
    credentials: { accessKeyId: stack.accessKey, secretAccessKey: stack.secretKey },
  });
});

/** The test stack's S3 server keeps everything in memory: give back the tens of MiB this file put there. */
async function emptyAndRemoveBucket(): Promise<void> {
  const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  for (const u of uploads.Uploads ?? []) await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
  const objects = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  const keys = (objects.Contents ?? []).map((o) => ({ Key: o.Key! }));
  if (keys.length > 0) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
}

test.after.always(async () => {
  await proxy?.stop();
  await relay?.close();
  await sso?.close();
  if (s3 && bucket) await emptyAndRemoveBucket().catch(() => undefined);
  s3?.destroy();
  for (const dir of [keysDir, work]) if (dir) await rm(dir, { recursive: true, force: true });
});

test.serial('keygen writes a private key only its owner can read, and a public key the proxy takes as that user', async (t) => {
  const run = await cli(['keygen', '--user', ada]);
  t.is(run.code, 0, run.stderr);
  const privateFile = path.join(work, `${ada}_private.pem`);
  const publicFile = path.join(work, `${ada}_public.pem`);
  t.deepEqual(run.stdout.trim().split('\n'), [`${ada}_private.pem`, `${ada}_public.pem`]);
  t.is((await stat(privateFile)).mode & 0o777, 0o600);
  t.regex(await readFile(privateFile, 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
  t.regex(await readFile(publicFile, 'utf8'), /^-----BEGIN PUBLIC KEY-----/);
  const again = await cli(['keygen', '--user', ada]);
  t.is(again.code, 1, 'an existing key is never overwritten without --force');
  t.regex(again.stderr, /exists already/);
  await copyFile(publicFile, path.join(keysDir, `${ada}_public.pem`));
});

test.serial('a small file goes up in one presigned PUT, and get brings back the same bytes, to a file and to stdout', async (t) => {
  const { file, content } = await fileOf('small.bin', 1 * MiB + 17);
  relay.sent.length = 0;
  const run = await cli(['upload', ...as(ada), file]);
  t.is(run.code, 0, run.stderr);
  const url = run.stdout.trim();
  t.is(url, `${proxy.url}/uploads/${ada}/small.bin`);
  t.deepEqual(relay.sent.map((s) => s.partNumber), ['-'], 'one PUT, no parts');
  t.regex(run.stderr, /small\.bin: uploaded as uploads\/ada@example\.org\/small\.bin/);

  const out = path.join(work, 'small.out');
  const got = await cli(['get', url, '-o', out, '--user', ada, '--private-key', path.join(work, `${ada}_private.pem`)]);
  t.is(got.code, 0, got.stderr);
  t.true((await readFile(out)).equals(content));
  const toStdout = await startCli(['get', url, '--user', ada, '--private-key', path.join(work, `${ada}_private.pem`)]).done;
  t.is(toStdout.code, 0, toStdout.stderr);
  t.true(toStdout.stdoutBytes.equals(content));
});

test.serial('RSA and EC keys from keygen work as well as Ed25519', async (t) => {
  for (const type of ['rsa', 'ec']) {
    const user = await newUser(type);
    const { file } = await fileOf(`${type}.txt`, 1000);
    const run = await cli(['upload', ...as(user), file]);
    t.is(run.code, 0, `${type}: ${run.stderr}`);
  }
});

test.serial('a file above the threshold goes in parallel parts; killed after S3 has a part, run again it sends only the parts S3 lacks', async (t) => {
  const user = await newUser();
  const { file, content } = await fileOf('big.bin', 12 * MiB + 12345);
  const args = ['upload', ...as(user), '--part-size', '5MiB', '--multipart-threshold', '10MiB', '--concurrency', '3', file];
  relay.sent.length = 0;
  relay.maxHeldAtOnce = 0;
  relay.hold = (partNumber) => partNumber !== '1';

  const first = startCli(args);
  const prefix = `uploads/${user}/`;
  // S3 itself says when a part has landed
  const uploadId = await waitFor('the multipart upload at S3', async () => {
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
    return uploads.Uploads?.[0]?.UploadId;
  });
  await waitFor('one part at S3', async () => {
    const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: `${prefix}big.bin`, UploadId: uploadId }));
    return (parts.Parts?.length ?? 0) >= 1 ? true : undefined;
  });
  await waitFor('parts 2 and 3 in flight together', async () => (relay.maxHeldAtOnce >= 2 ? true : undefined));
  first.child.kill('SIGKILL');
  const killed = await first.done;
  t.is(killed.signal, 'SIGKILL');
  await waitFor('the relay to see the killed client\'s connections close', async () => (relay.heldNow() === 0 ? true : undefined));
  relay.hold = undefined;
  const atS3 = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: `${prefix}big.bin`, UploadId: uploadId }));
  t.deepEqual(atS3.Parts?.map((p) => p.PartNumber), [1], 'S3 had part 1 only when the client was killed');
  t.deepEqual(relay.sent.map((s) => s.partNumber).sort(), ['1'], 'held parts never reached S3');

  const second = await cli(args);
  t.is(second.code, 0, second.stderr);
  t.regex(second.stderr, /resuming the upload begun earlier: 1 of 3 parts are at S3 already/);
  t.regex(second.stderr, /part 3 of 3 uploaded/, 'plain lines when standard error is not a terminal');
  t.false(second.stderr.includes('\r'), 'no bar drawing off a terminal');
  const partsSent = relay.sent.filter((s) => s.uploadId === uploadId).map((s) => s.partNumber);
  t.deepEqual(partsSent.sort(), ['1', '2', '3'], 'each part was sent to S3 once: part 1 not again');
  const left = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
  t.is(left.Uploads?.length ?? 0, 0, 'the upload was completed');

  const out = path.join(work, 'big.out');
  const got = await cli(['get', second.stdout.trim(), '-o', out, '--user', user, '--private-key', path.join(work, `${user}_private.pem`)]);
  t.is(got.code, 0, got.stderr);
  t.true((await readFile(out)).equals(content), 'the object is the file, byte for byte');
});

test.serial('on a terminal the upload draws a progress bar', async (t) => {
  const user = await newUser();
  const { file } = await fileOf('tty.bin', 11 * MiB);
  const command = [process.execPath, cliJs, 'upload', ...as(user), '--part-size', '5MiB', '--multipart-threshold', '10MiB', file].map((a) => `'${a}'`).join(' ');
  // script(1) gives the client a pseudo-terminal, as a person's shell would
  const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: work, env: { PATH: process.env.PATH, TERM: 'xterm' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (output += c));
  const [code] = await once(child, 'exit');
  t.is(code, 0, output);
  // drawn in place: carriage return and erase-line, from an empty bar to a full one
  t.regex(output, /\r\x1b\[2Ktty\.bin \[\.{10,}\] +0% 0 B\/11 MiB/);
  t.regex(output, /\r\x1b\[2Ktty\.bin \[#{10,}\] 100% 11 MiB\/11 MiB/);
  t.regex(output, /\r\x1b\[2K\S*tty\.bin: uploaded as uploads\/u-[0-9a-f]+@example\.org\/tty\.bin/);
});

test.serial('refusals print the proxy\'s message and exit 1', async (t) => {
  // an existing name (UPLOAD_OVERWRITE defaults to never): the proxy's 409 and its JSON message
  const again = await cli(['upload', ...as(ada), path.join(work, 'small.bin')]);
  t.is(again.code, 1);
  t.regex(again.stderr, /small\.bin: asking for an upload URL: 409 exists: a file with this name exists/);

  // a user whose public key the operator does not have
  const stranger = `stranger-${randomBytes(3).toString('hex')}@example.org`;
  t.is((await cli(['keygen', '--user', stranger])).code, 0);
  const refused = await cli(['upload', ...as(stranger), path.join(work, 'small.bin')]);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /: 401 .*did not accept the token/);

  const missing = await cli(['get', `${proxy.url}/uploads/nothing-here.txt`, '--user', ada, '--private-key', path.join(work, `${ada}_private.pem`)]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /GET .*nothing-here\.txt: 404/);

  const usage = await cli(['upload', '--url', proxy.url, path.join(work, 'small.bin')]);
  t.is(usage.code, 2);
  t.regex(usage.stderr, /--user is required/);
  const badSize = await cli(['upload', ...as(ada), '--part-size', '1MiB', path.join(work, 'small.bin')]);
  t.is(badSize.code, 2);
  t.regex(badSize.stderr, /--part-size must be from 5\.0 MiB/);
});
