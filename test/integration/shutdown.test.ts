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

type Attempt = { id: string; startedAt: number; endedAt: number; outcome: 'answered' | 'refused' | 'dropped' | 'broken' | 'hung'; status?: number };
let attemptCount = 0;

/**
 * One short request on a fresh connection (a range of the object, so that it
 * waits on S3 for a moment): 'answered' when a whole response arrived,
 * 'refused' when the connection failed, 'dropped' when it closed with no byte
 * of an answer, 'broken' when an answer began but was cut, 'hung' when
 * nothing happened in 5 s.
 */
function attempt(port: number): Promise<Attempt> {
  const startedAt = Date.now();
  const id = `race-${(attemptCount += 1)}`;
  let connected = false;
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let settled = false;
    const settle = (outcome: Attempt['outcome']) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const status = /^HTTP\/1\.1 (\d{3})/.exec(received.toString('latin1'))?.[1];
      resolve({ id, startedAt, endedAt: Date.now(), outcome, ...(status ? { status: Number(status) } : {}) });
    };
    const timer = setTimeout(() => settle('hung'), 5000);
    const whole = () => {
      const headEnd = received.indexOf('\r\n\r\n');
      if (headEnd === -1) return false;
      const length = /\r\ncontent-length: *(\d+)/i.exec(received.subarray(0, headEnd).toString('latin1'))?.[1];
      return length !== undefined && received.length - headEnd - 4 >= Number(length);
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (whole()) settle('answered');
    });
    socket.on('close', () => settle(received.length > 0 ? (whole() ? 'answered' : 'broken') : connected ? 'dropped' : 'refused'));
    socket.on('error', () => undefined);
    socket.on('connect', () => {
      connected = true;
      socket.write(`GET /big.bin HTTP/1.1\r\nhost: x\r\nrange: bytes=0-65535\r\nx-request-id: ${id}\r\nconnection: close\r\n\r\n`);
    });
  });
}

test('connections racing with SIGTERM are refused or fully answered, never cut or left hanging', async (t) => {
  const proxy = await start();
  try {
    // Downloads mid-body when the signal arrives: they must complete.
    const downloads = await Promise.all([0, 1, 2].map(() => get(proxy, '/big.bin', false)));
    const readers = downloads.map(reader);
    await Promise.all(readers.map((r) => r.until(64 * 1024)));

    // And a stream of short requests on fresh connections, from before the
    // signal until each one's first refusal after it (at most 10 s).
    let signalledAt = Infinity;
    const attempts: Attempt[] = [];
    const deadline = Date.now() + 10_000;
    const loop = async (): Promise<boolean> => {
      while (Date.now() < deadline) {
        const one = await attempt(proxy.port);
        attempts.push(one);
        if ((one.outcome === 'refused' || one.outcome === 'dropped') && one.startedAt > signalledAt) return true;
      }
      return false;
    };
    const loops = Array.from({ length: 8 }, loop);
    while (attempts.filter((a) => a.outcome === 'answered').length < 24) await sleep(5);
    signalledAt = Date.now();
    proxy.child.kill('SIGTERM');
    const refusedInTheEnd = await Promise.all(loops);

    const count = (outcome: Attempt['outcome']) => attempts.filter((a) => a.outcome === outcome).length;
    const spanning = attempts.filter((a) => a.startedAt < signalledAt && a.endedAt > signalledAt);
    t.log(
      `${attempts.length} attempts: ${count('answered')} answered, ${count('refused')} refused, ${count('dropped')} dropped, ` +
        `${count('broken')} broken, ${count('hung')} hung; ${spanning.length} in flight at the signal`,
    );
    t.is(count('broken'), 0, 'an answer was cut');
    t.is(count('hung'), 0, 'a connection was left hanging');
    t.true(attempts.every((a) => a.outcome !== 'answered' || a.status === 206), 'every answer is the range asked for');
    // the race happened: requests were in flight when the signal arrived, and were answered
    t.true(spanning.some((a) => a.outcome === 'answered'), 'no request in flight at the signal was answered');
    // and after it the proxy stops taking connections, while it still drains
    t.deepEqual(refusedInTheEnd, refusedInTheEnd.map(() => true), 'new connections were still served after SIGTERM');
    t.is(proxy.child.exitCode, null, 'the downloads keep the proxy draining');

    const wholes = await Promise.all(readers.map((r) => r.rest()));
    const expected = createHash('sha256').update(big).digest('hex');
    for (const whole of wholes) {
      t.true(whole.complete);
      t.is(whole.sha, expected);
    }
    t.is((await proxy.exit).code, 0);
    // A connection closed without an answer is fine only if the proxy never
    // took its request (refused at the door): the log line of every request
    // it took is written when that request's response closes.
    const taken = new Set(proxy.logs().filter((l) => l.msg === 'request').map((l) => l.requestId));
    const droppedAfterTaking = attempts.filter((a) => a.outcome === 'dropped' && taken.has(a.id));
    t.deepEqual(droppedAfterTaking, [], 'the proxy took these requests and closed them unanswered');
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

// As when the log collector on the other end of stdout dies: its read end closes.
test('a proxy whose stdout is a broken pipe exits 0 at once on SIGTERM, not retrying its last log lines forever', async (t) => {
  // With Redis unreachable there is nothing to close: the last two log lines
  // are written in one turn of the event loop, just before the exit.
  const proxy = await start({ REDIS_URL: 'redis://127.0.0.1:9' });
  try {
    proxy.child.stdout!.destroy();
    await sleep(200);
    const started = Date.now();
    proxy.child.kill('SIGTERM');
    const exit = await Promise.race([proxy.exit, sleep(5000).then(() => 'still running after 5 s' as const)]);
    t.deepEqual(exit, { code: 0, signal: null });
    t.true(Date.now() - started < 3000);
  } finally {
    await proxy.stop();
  }
});

test('a proxy whose stdout is a broken pipe still serves whole bodies', async (t) => {
  const proxy = await start();
  try {
    proxy.child.stdout!.destroy();
    await sleep(200);
    for (let i = 0; i < 3; i += 1) {
      const served = await get(proxy, '/big.bin', false);
      t.is(served.statusCode, 200);
      t.is((await reader(served).rest()).bytes, size);
    }
  } finally {
    await proxy.stop();
  }
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
