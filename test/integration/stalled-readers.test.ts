// Stalled readers and a full pool: a client that reads nothing is dropped
// after CLIENT_IDLE_TIMEOUT and its S3 connection goes back, and requests
// beyond AWS_S3_MAX_CONNECTIONS wait up to the response timeout, then get
// 503 with Retry-After. Real RGW and Redis; the proxy's S3 sockets are
// counted from /proc, not from anything the proxy reports about itself.
import test from 'ava';
import net from 'node:net';
import http from 'node:http';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv, oauth2Sso } from '../support/proxy-env.ts';
import { createBucket, patternBytes, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { signedInCookie } from '../support/user-agent.ts';

const stack = s3Stack();
const s3Port = Number(stack.endpoint.port);
// Far more than every buffer between S3 and a client that reads nothing
// (kernel send and receive buffers on loopback, undici's and Node's), so the
// download cannot finish unread.
const bigSize = 40 * 1024 * 1024;

let bucket: string;
let sso: OAuth2Sso;
const proxies: ProxyProcess[] = [];

test.before(async () => {
  bucket = await createBucket(stack, 'stalled');
  await putObject(stack, bucket, 'big.bin', patternBytes(bigSize, 5));
  await putObject(stack, bucket, 'small.txt', 'small', 'text/plain');
  sso = await startOAuth2Sso();
});

test.after.always(async () => {
  await Promise.all(proxies.map((p) => p.stop()));
  await sso?.close();
});

async function proxyWith(extra: Record<string, string>): Promise<{ proxy: ProxyProcess; cookie: string }> {
  const proxy = await startProxy(proxyEnv(stack, { bucket, sso: oauth2Sso(sso), extra }));
  proxies.push(proxy);
  const cookie = await signedInCookie(`${proxy.url}/small.txt`, proxy.url);
  return { proxy, cookie };
}

/** Established TCP connections from the process to S3's port, read from /proc. */
function s3Sockets(pid: number): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]!);
    } catch {
      // the fd closed while we looked
    }
  }
  let count = 0;
  for (const table of ['tcp', 'tcp6']) {
    const lines = readFileSync(`/proc/${pid}/net/${table}`, 'utf8').trim().split('\n').slice(1);
    for (const line of lines) {
      const fields = line.trim().split(/\s+/);
      const remotePort = parseInt(fields[2]!.split(':')[1]!, 16);
      const established = fields[3] === '01';
      if (established && remotePort === s3Port && inodes.has(fields[9]!)) count++;
    }
  }
  return count;
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** A GET whose response the client does not read until told to; then it counts what arrives. */
function stalledDownload(proxy: ProxyProcess, cookie: string, path: string): { socket: net.Socket; readRest(): Promise<number> } {
  const socket = net.connect(proxy.port, '127.0.0.1');
  socket.pause();
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${proxy.port}\r\nCookie: ${cookie}\r\nSec-Fetch-Mode: cors\r\n\r\n`);
  socket.on('error', () => undefined);
  let received = 0;
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(received)));
  return {
    socket,
    readRest() {
      socket.on('data', (chunk: Buffer) => (received += chunk.length));
      socket.resume();
      return closed;
    },
  };
}

/** One GET on a connection of its own (no keep-alive reuse racing the server's idle close). */
function getOnce(proxy: ProxyProcess, cookie: string, path: string): Promise<{ status: number; retryAfter: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get(`${proxy.url}${path}`, { agent: false, headers: { cookie, 'sec-fetch-mode': 'cors' } }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, retryAfter: response.headers['retry-after'], body }));
    });
    request.on('error', reject);
  });
}

test('twenty signed-in downloads that are never read are cut after CLIENT_IDLE_TIMEOUT, and the S3 connections return to baseline', async (t) => {
  const { proxy, cookie } = await proxyWith({ CLIENT_IDLE_TIMEOUT: '2' });
  const pid = proxy.child.pid!;
  const baseline = s3Sockets(pid);
  const downloads = Array.from({ length: 20 }, () => stalledDownload(proxy, cookie, '/big.bin'));
  // The sign-in's idle keep-alive connection, if any, is reused by one of them.
  await waitFor(() => s3Sockets(pid) >= 20, 10_000, 'twenty S3 connections');

  // Dropped only after the idle timeout: the downloads hold S3 for a while first.
  await sleep(1_500);
  t.true(s3Sockets(pid) >= 20, 'no download was dropped before the idle timeout');
  // undici replaces each aborted connection with a fresh idle one, which its
  // keep-alive timeout (10 s) then closes.
  await waitFor(() => s3Sockets(pid) <= baseline, 20_000, 'S3 connections back to baseline')
  t.true(s3Sockets(pid) <= baseline);

  // A dropped client finds its connection closed with the body cut short
  // (a paused socket cannot see the close until it reads).
  const received = await Promise.race([Promise.all(downloads.map((d) => d.readRest())), sleep(10_000).then(() => undefined)]);
  t.truthy(received, 'every stalled connection was closed by the proxy');
  for (const bytes of received ?? []) t.true(bytes < bigSize, `the body was cut short (${bytes} bytes)`);

  // The proxy still serves afterwards.
  const after = await getOnce(proxy, cookie, '/small.txt');
  t.is(after.status, 200);
  t.is(after.body, 'small');
});

test('a request beyond AWS_S3_MAX_CONNECTIONS waits up to the response timeout, then gets 503 with Retry-After', async (t) => {
  const { proxy, cookie } = await proxyWith({ AWS_S3_MAX_CONNECTIONS: '2', AWS_S3_RESPONSE_TIMEOUT: '1', CLIENT_IDLE_TIMEOUT: '60' });
  const pid = proxy.child.pid!;
  const held = [stalledDownload(proxy, cookie, '/big.bin'), stalledDownload(proxy, cookie, '/big.bin')];
  await waitFor(() => s3Sockets(pid) >= 2, 10_000, 'both S3 connections busy');

  const startedAt = Date.now();
  const refused = await getOnce(proxy, cookie, '/small.txt');
  const waited = Date.now() - startedAt;
  t.is(refused.status, 503);
  t.truthy(refused.retryAfter);
  t.true(waited >= 900, `waited for a connection first (${waited} ms)`);
  t.true(s3Sockets(pid) <= 2, 'the cap held');

  // A queued request that gets a connection in time is served.
  const queued = getOnce(proxy, cookie, '/small.txt');
  await sleep(300);
  held[0]!.socket.destroy();
  const served = await queued;
  t.is(served.status, 200);
  t.is(served.body, 'small');
  held[1]!.socket.destroy();
});
