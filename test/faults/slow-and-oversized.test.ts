// Requests that are too slow or too big end early, with Node's own limits:
// headers dribbled byte by byte time out (REQUEST_HEADERS_TIMEOUT, 1 s here),
// headers over the limit are 431, a request-target over 8 KiB is 414. Raw
// sockets: an HTTP client library would not send such requests.
import test from 'ava';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv, oauth2Sso } from '../support/proxy-env.ts';
import { createBucket, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';

const stack = s3Stack();

let sso: OAuth2Sso;
let proxy: ProxyProcess;

test.before(async () => {
  const bucket = await createBucket(stack, 'faults-limits');
  await putObject(stack, bucket, 'health.txt', 'ok', 'text/plain');
  sso = await startOAuth2Sso();
  proxy = await startProxy(
    proxyEnv(stack, {
      bucket,
      sso: oauth2Sso(sso),
      healthcheckKey: 'health.txt',
      extra: { REQUEST_HEADERS_TIMEOUT: '1' },
    }),
  );
});

test.after.always(async () => {
  await proxy?.stop();
  await sso?.close();
});

interface Exchange {
  /** the status of the first response, 0 when none came */
  status: number;
  /** milliseconds from connecting until the server closed the connection */
  closedAfterMs: number;
}

/** Writes `parts` with `gapMs` between them, until the server answers or closes; never longer than `limitMs`. */
function exchange(parts: Array<string | Buffer>, gapMs = 0, limitMs = 15_000): Promise<Exchange> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(proxy.port, '127.0.0.1');
    let received = '';
    let closed = false;
    const finish = () => {
      if (closed) return;
      closed = true;
      clearTimeout(limit);
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(received);
      resolve({ status: match ? Number(match[1]) : 0, closedAfterMs: Date.now() - started });
    };
    const limit = setTimeout(() => {
      socket.destroy();
      finish();
    }, limitMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('close', finish);
    socket.on('error', () => undefined);
    socket.on('connect', async () => {
      for (const part of parts) {
        if (closed || socket.destroyed) return;
        socket.write(part);
        if (gapMs > 0) await sleep(gapMs);
      }
    });
  });
}

test('headers dribbled byte by byte time out after REQUEST_HEADERS_TIMEOUT', async (t) => {
  const request = 'GET /health.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ' + 'a'.repeat(200) + '\r\n\r\n';
  const result = await exchange([...request], 50);
  t.is(result.status, 408);
  // 1 s of budget, checked about every second by Node: well before the 10 s the dribble would need
  t.true(result.closedAfterMs >= 900, `closed after ${result.closedAfterMs} ms`);
  t.true(result.closedAfterMs < 6_000, `closed after ${result.closedAfterMs} ms`);
});

test('a prompt request on the same server is unaffected by the short header timeout', async (t) => {
  const result = await exchange(['GET /health.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n']);
  t.is(result.status, 200);
});

test('headers over the size limit are 431', async (t) => {
  const result = await exchange([`GET /health.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`]);
  t.is(result.status, 431);
});

test('many small headers over the size limit together are 431', async (t) => {
  const headers = Array.from({ length: 400 }, (_, i) => `X-H${i}: ${'c'.repeat(50)}\r\n`).join('');
  const result = await exchange([`GET /health.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}\r\n`]);
  t.is(result.status, 431);
});

test('a request-target over 8 KiB is 414', async (t) => {
  const result = await exchange([`GET /${'u'.repeat(10_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`]);
  t.is(result.status, 414);
});

test('a request-target just under 8 KiB is not refused for its length', async (t) => {
  const result = await exchange([`GET /${'u'.repeat(8 * 1024 - 2)} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\nConnection: close\r\n\r\n`]);
  t.not(result.status, 414);
  t.true(result.status > 0 && result.status < 500, `status ${result.status}`);
});

test('a request-target beyond the header limit is refused too, by Node (431)', async (t) => {
  const result = await exchange([`GET /${'u'.repeat(20_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`]);
  t.true([414, 431].includes(result.status), `status ${result.status}`);
  t.is(proxy.child.exitCode, null);
});
