// A few thousand hostile request paths and Range headers, generated from a
// seeded PRNG (reproducible; FAULT_FUZZ_SEED and FAULT_FUZZ_COUNT change them),
// sent over raw sockets with a valid session to a proxy whose key prefix is
// `inside/`. Nothing may answer 5xx, the proxy must survive, and every key (or
// listing prefix) S3 was asked for must lie under the prefix: that is read at
// a recording relay in front of S3, as S3 received it, not from the proxy.
import test from 'ava';
import net from 'node:net';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv, oauth2Sso } from '../support/proxy-env.ts';
import { createBucket, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { signedInCookie } from '../support/user-agent.ts';
import { startS3Recorder, type S3Recorder } from '../support/s3-recorder.ts';

const stack = s3Stack();
const seed = Number(process.env.FAULT_FUZZ_SEED ?? 20240611);
const count = Number(process.env.FAULT_FUZZ_COUNT ?? 3000);
const concurrency = 16;

let sso: OAuth2Sso;
let proxy: ProxyProcess;
let cookie: string;
let bucket: string;
let recorder: S3Recorder;

test.before(async () => {
  bucket = await createBucket(stack, 'faults-fuzz');
  await putObject(stack, bucket, 'inside/ok.txt', 'inside the prefix', 'text/plain');
  await putObject(stack, bucket, 'inside/a/b.txt', 'deeper inside', 'text/plain');
  await putObject(stack, bucket, 'outside.txt', 'OUTSIDE-THE-PREFIX', 'text/plain');
  await putObject(stack, bucket, 'secret.txt', 'OUTSIDE-THE-PREFIX', 'text/plain');
  await putObject(stack, bucket, 'inside', 'OUTSIDE-THE-PREFIX', 'text/plain');
  sso = await startOAuth2Sso();
  recorder = await startS3Recorder({ host: stack.endpoint.hostname, port: Number(stack.endpoint.port) });
  const env = proxyEnv(stack, { bucket, keyPrefix: 'inside/', sso: oauth2Sso(sso) });
  env.AWS_S3_ENDPOINT = `${recorder.url}/${bucket}/inside/`;
  proxy = await startProxy(env);
  cookie = await signedInCookie(`${proxy.url}/ok.txt`, proxy.url);
});

test.after.always(async () => {
  await proxy?.stop();
  await recorder?.close();
  await sso?.close();
});

/** mulberry32: small, fast, and the same sequence everywhere for a seed */
function prng(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const dotDots = [
  '..', '.', '%2e%2e', '%2E%2E', '%2e.', '.%2e', '%2E.', '%c0%ae%c0%ae', '%C0%AE%C0%AE', '%C0%AE', '%e0%80%ae%e0%80%ae',
  '%252e%252e', '%%32%65%%32%65', '..%2f', '..%2F..%2F', '%2e%2e%5c', '..\\', '..;', '.../', '%u002e%u002e', '%c0%2e%c0%2e', '%ef%bc%8e%ef%bc%8e',
];
const separators = ['/', '//', '%2f', '%2F', '%5c', '\\', '/./', '/%2e/', ';/', '%252f'];
const nasties = [
  '%00', '%0d%0a', '%0a', '%0d', '%0d%0aSet-Cookie:%20x=1', '%0d%0aLocation:%20http://evil', '%09', '%20', '%7f', '%ff', '%fe%ff',
  '%', '%z', '%zz', '%1', '%c0', '%e2%82', '%f4%90%80%80', '%ed%a0%80', '?x=%2e%2e/', '#frag', ';jsessionid=1', '~', '*', '%2a', '+', '%2b',
  '日本', '%E6%97%A5%E6%9C%AC', 'outside.txt', 'secret.txt', 'ok.txt', 'a', 'b.txt', '__s3proxy', '__redirect_from_sso', '%5f%5fs3proxy',
];
/** raw bytes that a URL parser would refuse; only a raw socket sends them */
const rawBytes = ['\u0000', '\r\n', '\n', ' ', '\t', '\u00e9', '"', '<', '>', '`', '{', '}', '|', '^'];

function pick<T>(random: () => number, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)]!;
}

function hostilePath(random: () => number): string {
  const roll = random();
  if (roll < 0.03) return '/' + 'x'.repeat(1 + Math.floor(random() * 7_000));
  if (roll < 0.05) return '/' + Array.from({ length: 1 + Math.floor(random() * 300) }, () => pick(random, dotDots)).join('/');
  if (roll < 0.08) {
    // random bytes, percent-encoded
    return '/' + Array.from({ length: 1 + Math.floor(random() * 40) }, () => '%' + Math.floor(random() * 256).toString(16).padStart(2, '0')).join('');
  }
  const segments = 1 + Math.floor(random() * 6);
  let path = random() < 0.1 ? pick(random, ['//', '/./', '/../', '/%2e%2e/', '/inside/']) : '/';
  for (let i = 0; i < segments; i += 1) {
    const kind = random();
    const segment =
      kind < 0.45 ? pick(random, dotDots) : kind < 0.85 ? pick(random, nasties) : kind < 0.93 ? pick(random, rawBytes) : 'seg'.repeat(1 + Math.floor(random() * 200));
    path += segment + (i < segments - 1 ? pick(random, separators) : '');
  }
  return path;
}

function hostileRange(random: () => number): string | undefined {
  const roll = random();
  if (roll < 0.55) return undefined;
  const ranges = [
    () => `bytes=${Array.from({ length: 2 + Math.floor(random() * 400) }, (_, i) => `${i * 2}-${i * 2 + 1}`).join(',')}`,
    () => 'bytes=99999999999999999999999-',
    () => 'bytes=0-99999999999999999999999',
    () => `bytes=${Number.MAX_SAFE_INTEGER}-${Number.MAX_SAFE_INTEGER + 10}`,
    () => 'bytes=-0',
    () => 'bytes=5-1',
    () => 'bytes=abc',
    () => 'bytes=',
    () => 'bytes=--1',
    () => 'bytes=0-0,-1',
    () => 'items=0-1',
    () => 'bytes=0-1;x',
    () => 'bytes = 0-1',
    () => 'bytes=1e3-2e3',
    () => 'bytes=0x10-0x20',
    () => `bytes=${'0-,'.repeat(1_500)}0-`,
    () => 'bytes=0-1\u0000',
  ];
  return pick(random, ranges)();
}

interface Outcome {
  status: number;
  body: string;
}

/** One request on a raw socket: path bytes exactly as generated. */
function send(path: string, range: string | undefined, requestId: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = net.connect(proxy.port, '127.0.0.1');
    let received = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(received);
      resolve({ status: match ? Number(match[1]) : 0, body: received });
    };
    const timer = setTimeout(() => {
      socket.destroy();
      finish();
    }, 20_000);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('close', finish);
    socket.on('error', () => undefined);
    const head =
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}\r\nAccept: */*\r\nX-Request-Id: ${requestId}\r\n` +
      (range === undefined ? '' : `Range: ${range}\r\n`) +
      'Connection: close\r\n\r\n';
    // write, not end: Node's server aborts the requests of a client that
    // half-closes (httpAllowHalfOpen is off), which would hide real answers
    socket.write(Buffer.from(head, 'utf8'));
  });
}

test('thousands of hostile paths and ranges: no 5xx, no crash, no key outside the prefix', async (t) => {
  t.timeout(180_000);
  const random = prng(seed);
  const cases = Array.from({ length: count }, (_, i) => ({ id: `fuzz-${i}`, path: hostilePath(random), range: hostileRange(random) }));
  const statuses = new Map<number, number>();
  const failures: string[] = [];
  const silent: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const one = cases[next++]!;
      const outcome = await send(one.path, one.range, one.id);
      statuses.set(outcome.status, (statuses.get(outcome.status) ?? 0) + 1);
      if (outcome.status === 0 && silent.length < 15) silent.push(JSON.stringify(one.path.slice(0, 120)) + ' range=' + JSON.stringify(one.range?.slice(0, 40)));
      if (outcome.status >= 500) failures.push(`${outcome.status} ${JSON.stringify(one.path.slice(0, 200))} range=${JSON.stringify(one.range?.slice(0, 80))}`);
      if (outcome.body.includes('OUTSIDE-THE-PREFIX')) failures.push(`outside content for ${JSON.stringify(one.path.slice(0, 200))}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  t.log(`seed ${seed}, ${count} requests, statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`);

  t.deepEqual(failures.slice(0, 20), []);
  t.deepEqual(silent, []);
  // status 0 (closed without an answer) would mean a connection dropped on the floor
  t.is(statuses.get(0) ?? 0, 0);
  t.is(proxy.child.exitCode, null);
  t.is(proxy.child.signalCode, null);

  // the proxy still serves
  const check = await send('/ok.txt', undefined, 'fuzz-after');
  t.is(check.status, 200);
  t.true(check.body.includes('inside the prefix'));

  // and S3, at its side of the wire, was asked only for keys and listings under the prefix
  const asked = recorder.asked(bucket);
  t.is(asked.length, recorder.requests().length, 'S3 was asked about another bucket');
  const objects = asked.filter((a) => a.kind === 'object');
  t.log(`S3 received ${asked.length} requests: ${objects.length} for objects, ${asked.filter((a) => a.kind === 'list').length} listings`);
  // most hostile paths are refused before S3 (400); enough must reach it for the check below to mean something
  t.true(asked.length >= count / 20, `only ${asked.length} requests reached S3`);
  const outside = asked.filter((a) => (a.kind === 'object' ? !a.key.startsWith('inside/') : a.kind === 'list' ? !a.prefix.startsWith('inside/') : false));
  t.deepEqual(outside.slice(0, 20), []);
  t.false(proxy.logs().some((l) => l.level >= 60), 'a fatal log line');
});
