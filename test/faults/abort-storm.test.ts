// A thousand clients (FAULT_ABORT_CLIENTS) walk away from downloads, in
// batches (FAULT_ABORT_BATCH), at three moments: before the answer, right
// after the headers, and mid-body. Afterwards the proxy's open sockets and
// its memory return to near where they were, and every request was logged
// as closed: nothing is left holding an S3 connection or a buffer.
import test from 'ava';
import http from 'node:http';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv, oauth2Sso } from '../support/proxy-env.ts';
import { createBucket, patternBytes, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { signedInCookie } from '../support/user-agent.ts';

const stack = s3Stack();
const clients = Number(process.env.FAULT_ABORT_CLIENTS ?? 1000);
const batch = Number(process.env.FAULT_ABORT_BATCH ?? 50);
const size = 16 * 1024 * 1024;

let sso: OAuth2Sso;
let proxy: ProxyProcess;
let cookie: string;

test.before(async () => {
  const bucket = await createBucket(stack, 'faults-abort');
  await putObject(stack, bucket, 'big.bin', patternBytes(size, 5));
  await putObject(stack, bucket, 'small.txt', 'small', 'text/plain');
  sso = await startOAuth2Sso();
  proxy = await startProxy(
    proxyEnv(stack, {
      bucket,
      sso: oauth2Sso(sso),
    }),
  );
  cookie = await signedInCookie(`${proxy.url}/small.txt`, proxy.url);
});

test.after.always(async () => {
  await proxy?.stop();
  await sso?.close();
});

function openSockets(pid: number): number {
  let sockets = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) sockets += 1;
    } catch {
      // closed while we looked
    }
  }
  return sockets;
}

function rss(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}

/** One client that leaves at the given moment; resolves once it has gone. */
function leave(i: number): Promise<void> {
  const moment = i % 3;
  return new Promise((resolve) => {
    const request = http.get(`${proxy.url}/big.bin`, { headers: { cookie, 'x-request-id': `storm-${i}` }, agent: false }, (response) => {
      if (moment === 1) {
        request.destroy();
        return;
      }
      let received = 0;
      response.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received >= 256 * 1024) request.destroy();
      });
    });
    request.on('close', () => resolve());
    request.on('error', () => undefined);
    // before any answer: the proxy is still checking the session or waiting for S3
    if (moment === 0) setImmediate(() => request.destroy());
  });
}

test('after many clients abort mid-download, sockets and memory return to near baseline', async (t) => {
  t.timeout(240_000);
  const pid = proxy.child.pid!;
  // warm up the paths the storm takes, so start-up allocations are not counted as growth
  for (let i = 0; i < 5; i += 1) await leave(3 * i + 2);
  await sleep(500);
  const baseSockets = openSockets(pid);
  const baseRss = rss(pid);

  const started = Date.now();
  let peakSockets = 0;
  let halfwayRss = 0;
  for (let first = 0; first < clients; first += batch) {
    const ids = Array.from({ length: Math.min(batch, clients - first) }, (_, k) => 1_000 + first + k);
    await Promise.all(ids.map(leave));
    peakSockets = Math.max(peakSockets, openSockets(pid));
    if (halfwayRss === 0 && first + batch >= clients / 2) halfwayRss = rss(pid);
  }
  t.log(`${clients} clients in ${Date.now() - started} ms; sockets ${baseSockets} before, peak ${peakSockets}`);

  // The S3 pool may keep one idle keep-alive connection per request that ran
  // at once (a batch), for its keep-alive timeout: bounded by the batch, not
  // by the number of clients, which is what a leak would grow with.
  const socketLimit = baseSockets + batch + 10;
  // V8 and malloc keep freed memory for reuse, so RSS settles above the
  // baseline; a leak keeps climbing through the second half of the storm.
  const rssLimit = baseRss + 192 * 2 ** 20;
  const secondHalfLimit = halfwayRss + 64 * 2 ** 20;
  let sockets = openSockets(pid);
  let memory = rss(pid);
  for (let i = 0; i < 50 && (sockets > socketLimit || memory > rssLimit || memory > secondHalfLimit); i += 1) {
    await sleep(200);
    sockets = openSockets(pid);
    memory = rss(pid);
  }
  const mib = (n: number) => Math.round(n / 2 ** 20);
  t.log(`after: sockets ${sockets}; RSS ${mib(baseRss)} MiB before, ${mib(halfwayRss)} MiB halfway, ${mib(memory)} MiB after`);
  t.true(sockets <= socketLimit, `sockets ${sockets}, baseline ${baseSockets}`);
  t.true(memory <= rssLimit, `RSS ${mib(memory)} MiB, baseline ${mib(baseRss)} MiB`);
  t.true(memory <= secondHalfLimit, `RSS ${mib(memory)} MiB, halfway ${mib(halfwayRss)} MiB`);

  // every one of them was seen to close
  const closed = () => proxy.logs().filter((l) => l.msg === 'request' && String(l.requestId).startsWith('storm-') && Number(String(l.requestId).slice(6)) >= 1_000).length;
  for (let i = 0; i < 50 && closed() < clients; i += 1) await sleep(200);
  t.is(closed(), clients);
  const completed = proxy.logs().filter((l) => l.msg === 'request' && String(l.requestId).startsWith('storm-') && l.completed === true);
  t.is(completed.length, 0);

  const response = await fetch(`${proxy.url}/small.txt`, { headers: { cookie } });
  t.is(response.status, 200);
  t.is(await response.text(), 'small');
});
