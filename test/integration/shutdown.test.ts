// SIGTERM as a PaaS sends it: no new connections, every response in flight
// completes, open connections are still answered (with connection: close),
// then exit 0; past SHUTDOWN_TIMEOUT what is left is cut and the exit is 1.
import test from 'ava';
import http from 'node:http';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv } from '../support/proxy-env.ts';
import { createBucket, patternBytes, putObject, s3Stack } from '../support/s3-fixtures.ts';

const stack = s3Stack();
const size = 20 * 1024 * 1024;
const big = patternBytes(size, 3);
let bucket: string;

test.before(async () => {
  bucket = await createBucket(stack, 'shutdown');
  await putObject(stack, bucket, 'big.bin', big);
});

// The healthcheck key needs no sign-in, which keeps these tests about the lifecycle.
function start(extra: Record<string, string> = {}): Promise<ProxyProcess> {
  return startProxy(
    proxyEnv(stack, {
      bucket,
      sso: { mode: 'oauth2', url: 'http://127.0.0.1:9/', clientId: 'c', clientSecret: 's' },
      healthcheckKey: 'big.bin',
      extra,
    }),
  );
}

function get(proxy: ProxyProcess, path: string, agent: http.Agent | false): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    http.get(`${proxy.url}${path}`, { agent, headers: { accept: '*/*' } }, resolve).on('error', reject);
  });
}

/** Reads a response from its first byte, counting everything; can hold off reading. */
function reader(response: http.IncomingMessage) {
  const hash = createHash('sha256');
  let bytes = 0;
  let wanted = Infinity;
  let reached: (() => void) | undefined;
  response.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    hash.update(chunk);
    if (bytes >= wanted) {
      response.pause();
      reached?.();
    }
  });
  const finished = new Promise<{ bytes: number; sha: string; complete: boolean }>((resolve) => {
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      resolve({ bytes, sha: hash.digest('hex'), complete: response.complete });
    };
    response.on('end', done);
    response.on('error', done);
    response.on('close', done);
  });
  return {
    /** resolves once at least `n` bytes have arrived, leaving the stream paused */
    until(n: number): Promise<void> {
      wanted = n;
      return bytes >= n ? Promise.resolve() : new Promise((resolve) => (reached = resolve));
    },
    rest() {
      wanted = Infinity;
      response.resume();
      return finished;
    },
  };
}

function connectOutcome(port: number): Promise<'refused' | 'connected'> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      // Accepted by the kernel is not served: the proxy must close it unanswered.
      socket.write('GET /__s3proxy/signed-out HTTP/1.1\r\nhost: x\r\n\r\n');
      socket.once('data', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('close', () => resolve('refused'));
    });
    socket.once('error', () => resolve('refused'));
  });
}

test('after SIGTERM the download in flight completes, new connections are refused, an open connection is answered with connection: close, and the exit is 0', async (t) => {
  const proxy = await start();
  const downloadAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const idleAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    // An idle keep-alive connection, opened before the signal.
    const warm = await get(proxy, '/__s3proxy/signed-out', idleAgent);
    await reader(warm).rest();

    const download = await get(proxy, '/big.bin', downloadAgent);
    t.is(download.statusCode, 200);
    const slow = reader(download);
    await slow.until(64 * 1024);

    proxy.child.kill('SIGTERM');
    await proxy.waitForLog((l) => l.msg === 'shutting down: no new connections, draining');

    t.is(await connectOutcome(proxy.port), 'refused');

    // A second SIGTERM changes nothing.
    proxy.child.kill('SIGTERM');

    const late = await get(proxy, '/__s3proxy/signed-out', idleAgent);
    t.is(late.statusCode, 200);
    t.is(late.headers.connection, 'close');
    await reader(late).rest();

    const whole = await slow.rest();
    t.true(whole.complete);
    t.is(whole.bytes, size);
    t.is(whole.sha, createHash('sha256').update(big).digest('hex'));
    const exit = await proxy.exit;
    t.is(exit.code, 0);
    const received = proxy.logs().find((l) => l.msg === 'request' && l.path === '/big.bin');
    t.is(received?.completed, true);
    t.is(received?.bytesSent, size);
  } finally {
    downloadAgent.destroy();
    idleAgent.destroy();
    await proxy.stop();
  }
});

test('a connection racing with SIGTERM is either refused or fully answered, never left hanging', async (t) => {
  const proxy = await start();
  try {
    proxy.child.kill('SIGTERM');
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => Promise.race([connectOutcome(proxy.port), sleep(5000).then(() => 'hung' as const)])));
    t.false(outcomes.includes('hung'));
    t.is((await proxy.exit).code, 0);
  } finally {
    await proxy.stop();
  }
});

test('with nothing in flight SIGTERM exits 0 at once', async (t) => {
  const proxy = await start();
  const started = Date.now();
  proxy.child.kill('SIGTERM');
  const exit = await proxy.exit;
  t.is(exit.code, 0);
  t.true(Date.now() - started < 3000);
});

test('past the shutdown deadline what is left is cut, counted in the log, and the exit is 1', async (t) => {
  const proxy = await start({ SHUTDOWN_TIMEOUT: '1' });
  try {
    const download = await get(proxy, '/big.bin', false);
    const slow = reader(download);
    await slow.until(64 * 1024);
    const started = Date.now();
    proxy.child.kill('SIGTERM');
    // The client reads no further: the response cannot finish before the deadline.
    const exit = await proxy.exit;
    t.is(exit.code, 1);
    t.true(Date.now() - started >= 900);
    const { complete, bytes } = await slow.rest();
    t.false(complete);
    t.true(bytes < size);
    const cut = proxy.logs().find((l) => l.msg.startsWith('shutdown deadline passed'));
    t.is(cut?.cut, 1);
  } finally {
    await proxy.stop();
  }
});
