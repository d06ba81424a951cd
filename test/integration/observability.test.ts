// What operators see: Prometheus metrics on METRICS_PORT, one log line per
// request, no secret anywhere in the output, and liveness and readiness that
// follow Redis, S3 and shutdown.
import test from 'ava';
import http from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv, oauth2Sso } from '../support/proxy-env.ts';
import { createBucket, patternBytes, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { UserAgent } from '../support/user-agent.ts';
import { freePort } from '../support/free-port.ts';
import { startGetOnlyProxy } from '../support/get-only-proxy.ts';
import { listeningPorts } from '../support/listening-ports.ts';

const stack = s3Stack();
const bigSize = 50 * 1024 * 1024;
const big = patternBytes(bigSize, 11);
const small = Buffer.from('observability, small object');
const cookieName = 'assets_session_id';

let bucket: string;
let sso: OAuth2Sso;
let proxy: ProxyProcess;
let metricsUrl: string;
let metricsPort: number;
let user: UserAgent;

function start(extra: Record<string, string> = {}, options: { redisUrl?: string; healthcheckKey?: string } = {}): Promise<ProxyProcess> {
  return startProxy(
    proxyEnv(stack, {
      bucket,
      keyPrefix: 'files/',
      sso: oauth2Sso(sso),
      ...options,
      extra: { METRICS_PORT: '0', ...extra },
    }),
  );
}

test.before(async () => {
  bucket = await createBucket(stack, 'observability');
  await putObject(stack, bucket, 'files/small.txt', small, 'text/plain');
  await putObject(stack, bucket, 'files/big.bin', big);
  sso = await startOAuth2Sso();
  // Every request re-checks the token with SSO, so token checks show up at once.
  proxy = await start({ LOG_LEVEL: 'debug', SSO_TOKEN_CHECK_GRACE_PERIOD: '0' });
  const line = await proxy.waitForLog((l) => l.msg === 'metrics listening');
  metricsPort = line.port as number;
  metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  user = new UserAgent();
  const signIn = await user.signInOAuth2(`${proxy.url}/small.txt`);
  if (signIn.response.status !== 200) throw new Error(`sign-in failed: ${signIn.response.status}`);
  await signIn.response.arrayBuffer();
});

test.after.always(async () => {
  await proxy?.stop();
  await sso?.close();
});

// --- the text exposition format, just enough of it -------------------------------

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]!] = pair[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

async function scrape(): Promise<Sample[]> {
  const response = await fetch(metricsUrl);
  if (response.status !== 200) throw new Error(`metrics answered ${response.status}`);
  return parseExposition(await response.text());
}

/** The value of the series with exactly these labels; 0 when it does not exist yet. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).sort();
  const found = samples.find(
    (s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === JSON.stringify(wanted),
  );
  return found?.value ?? 0;
}

// --- requests by hand ------------------------------------------------------------

function get(url: string, headers: Record<string, string>, agent: http.Agent | false = false): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent, headers: { accept: '*/*', ...headers } }, resolve).on('error', reject);
  });
}

async function readAll(response: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function sessionCookie(ua: UserAgent, url: string): Promise<string> {
  return (await ua.jar.getCookieString(url)) ?? '';
}

function signedIn(): Promise<string> {
  return sessionCookie(user, proxy.url);
}

// --- metrics -----------------------------------------------------------------------

test.serial('metrics count a sign-in, a download, a 404 and an aborted download with their labels', async (t) => {
  const before = await scrape();

  const signIn = await new UserAgent().signInOAuth2(`${proxy.url}/small.txt`);
  t.is(signIn.response.status, 200);
  t.is(await signIn.response.text(), small.toString());

  const cookie = await signedIn();
  const download = await get(`${proxy.url}/small.txt`, { cookie, 'x-request-id': 'metrics-download' });
  t.is(download.statusCode, 200);
  await readAll(download);

  const missing = await get(`${proxy.url}/missing.txt`, { cookie, 'x-request-id': 'metrics-missing' });
  t.is(missing.statusCode, 404);
  await readAll(missing);

  const aborted = await get(`${proxy.url}/big.bin`, { cookie, 'x-request-id': 'metrics-aborted' });
  t.is(aborted.statusCode, 200);
  for await (const _chunk of aborted) break; // leaves after the first chunk
  aborted.destroy();

  // Metrics are recorded as each response closes, just like its log line.
  for (const id of ['metrics-download', 'metrics-missing', 'metrics-aborted']) {
    await proxy.waitForLog((l) => l.msg === 'request' && l.requestId === id);
  }
  const after = await scrape();
  const delta = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);

  t.is(delta('s3proxy_sign_ins_total', { outcome: 'started' }), 1);
  t.is(delta('s3proxy_sign_ins_total', { outcome: 'succeeded' }), 1);
  t.is(delta('s3proxy_sign_ins_total', { outcome: 'failed', reason: 'unknown_state' }), 0);
  t.is(delta('s3proxy_http_requests_total', { route: 'sign-in', status: '302' }), 1);
  t.is(delta('s3proxy_http_requests_total', { route: 'callback', status: '302' }), 1);
  t.is(delta('s3proxy_http_requests_total', { route: 'object', status: '200' }), 3);
  t.is(delta('s3proxy_http_requests_total', { route: 'object', status: '404' }), 1);
  t.is(delta('s3proxy_downloads_total', { outcome: 'completed' }), 2);
  t.is(delta('s3proxy_downloads_total', { outcome: 'aborted' }), 1);
  t.is(delta('s3proxy_s3_errors_total', { code: 'NoSuchKey' }), 1);
  t.is(delta('s3proxy_s3_request_duration_seconds_count', { method: 'GET' }), 4);
  t.is(delta('s3proxy_http_request_duration_seconds_count', { route: 'object' }), 4);
  t.true(delta('s3proxy_http_response_bytes_total', { route: 'object' }) >= 2 * small.length);
  t.is(delta('s3proxy_sso_token_checks_total', { result: 'valid' }), 4, 'SSO_TOKEN_CHECK_GRACE_PERIOD=0 checks every signed-in request');
  t.is(value(after, 's3proxy_http_requests_in_flight'), 0);
  t.true(value(after, 'process_cpu_user_seconds_total') > 0, 'default process metrics');
  t.true(after.some((s) => s.name === 'nodejs_eventloop_lag_seconds'), 'default Node.js metrics');

  // Keys, users and paths never become label values.
  const labelValues = after.flatMap((s) => Object.values(s.labels));
  for (const leak of ['small.txt', 'missing.txt', 'big.bin', 'files/', 'alice@example.org', '/']) {
    t.false(labelValues.some((v) => v.includes(leak)), leak);
  }
});

test.serial('a used sign-in link is counted as a failed sign-in with its reason', async (t) => {
  const before = await scrape();
  const response = await fetch(`${proxy.url}/__redirect_from_sso?code=used&state=not-a-state`, { redirect: 'manual' });
  t.is(response.status, 403);
  await response.arrayBuffer();
  const missing = await fetch(`${proxy.url}/__redirect_from_sso`, { redirect: 'manual' });
  t.is(missing.status, 400);
  await missing.arrayBuffer();
  await sleep(100);
  const after = await scrape();
  const delta = (labels: Record<string, string>) => value(after, 's3proxy_sign_ins_total', labels) - value(before, 's3proxy_sign_ins_total', labels);
  t.is(delta({ outcome: 'failed', reason: 'unknown_state' }), 1);
  t.is(delta({ outcome: 'failed', reason: 'missing_parameters' }), 1);
});

test.serial('the metrics listener serves GET /metrics only, and the public port does not serve metrics', async (t) => {
  const base = metricsUrl.replace(/\/metrics$/, '');
  const other = await fetch(`${base}/`);
  t.is(other.status, 404);
  await other.arrayBuffer();
  const post = await fetch(metricsUrl, { method: 'POST' });
  t.is(post.status, 405);
  await post.arrayBuffer();
  const ok = await fetch(metricsUrl);
  t.regex(ok.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  t.true((await ok.text()).includes('# TYPE s3proxy_http_requests_total counter'));
  const publicPort = await fetch(`${proxy.url}/__s3proxy/metrics`);
  t.is(publicPort.status, 404);
  await publicPort.arrayBuffer();
});

test('without METRICS_PORT the process listens on its public port only', async (t) => {
  // the kernel's view, checked on a proxy that does have a metrics listener
  t.deepEqual(listeningPorts(proxy.child.pid!), [proxy.port, metricsPort].sort((a, b) => a - b));
  const plain = await startProxy(proxyEnv(stack, { bucket, sso: oauth2Sso(sso) }));
  try {
    t.deepEqual(listeningPorts(plain.child.pid!), [plain.port]);
    t.false(plain.logs().some((l) => l.msg === 'metrics listening'));
  } finally {
    await plain.stop();
  }
});

// --- logs ----------------------------------------------------------------------------

test.serial('the log line of a download names request id, user, key, status, bytes, duration and completion', async (t) => {
  const cookie = await signedIn();
  const response = await get(`${proxy.url}/small.txt`, { cookie, 'x-request-id': 'lb-trace-0001' });
  t.is(response.headers['x-request-id'], 'lb-trace-0001');
  await readAll(response);
  const line = await proxy.waitForLog((l) => l.msg === 'request' && l.requestId === 'lb-trace-0001');
  t.like(line, {
    requestId: 'lb-trace-0001',
    method: 'GET',
    route: 'object',
    user: 'alice@example.org',
    key: 'files/small.txt',
    status: 200,
    bytesSent: small.length,
    completed: true,
    s3Status: 200,
  });
  t.is(typeof line.durationMs, 'number');
  t.is(typeof line.s3LatencyMs, 'number');

  const aborted = await get(`${proxy.url}/big.bin`, { cookie, 'x-request-id': 'lb-trace-0002' });
  for await (const _chunk of aborted) break;
  aborted.destroy();
  const abortedLine = await proxy.waitForLog((l) => l.msg === 'request' && l.requestId === 'lb-trace-0002');
  t.like(abortedLine, { status: 200, key: 'files/big.bin', completed: false });
  t.true((abortedLine.bytesSent as number) < bigSize);
});

test.serial('a malformed x-request-id is replaced by a fresh one', async (t) => {
  const response = await get(`${proxy.url}/__s3proxy/live`, { 'x-request-id': 'bad id with spaces' });
  await readAll(response);
  const id = response.headers['x-request-id'] as string;
  t.not(id, 'bad id with spaces');
  t.regex(id, /^[0-9a-f-]{36}$/);
});

test.serial('no token, cookie, code or secret reaches the output during a full sign-in, use and sign-out at debug level', async (t) => {
  const codesBefore = sso.tokenRequests.length;
  const ua = new UserAgent();
  // Stop on the way to SSO, to learn the sealed login state (it is spent at the callback).
  const toSso = await ua.signInOAuth2(`${proxy.url}/small.txt?download`, { stopAt: (url) => url.href.startsWith(sso.url) });
  const ssoUrl = toSso.chain.at(-1)?.location;
  t.truthy(ssoUrl, 'the sign-in went to SSO');
  await toSso.response.arrayBuffer();
  const loginState = (await ua.cookies(`${proxy.url}/__redirect_from_sso`)).find((c) => c.name.startsWith(`${cookieName}_login`))?.value;
  const result = await ua.follow(ssoUrl!);
  t.is(result.response.status, 200);
  await result.response.arrayBuffer();
  // Use the session too: a download, a token check, an S3 error, who am I, then sign out.
  const cookie = await sessionCookie(ua, proxy.url);
  for (const path of ['/small.txt', '/missing.txt', '/__s3proxy/me']) await readAll(await get(proxy.url + path, { cookie }));
  // read before signing out, which expires it
  const session = (await ua.cookie(proxy.url, cookieName))?.value;

  // a sign-out from the proxy's own page: same origin, by POST
  const signOut = await ua.follow(`${proxy.url}/__s3proxy/logout`, {
    method: 'POST',
    navigation: true,
    fetchSite: 'same-origin',
    headers: { origin: proxy.url },
  });
  t.is(signOut.response.status, 200);
  await signOut.response.arrayBuffer();
  t.true(signOut.chain.some((step) => new URL(step.url).pathname === '/__s3proxy/signed-out'), 'the sign-out ends on the signed-out page');
  const afterSignOut = await get(`${proxy.url}/__s3proxy/me`, { cookie, accept: 'application/json', 'sec-fetch-mode': 'cors' });
  t.is(afterSignOut.statusCode, 401, 'the session is gone');
  await readAll(afterSignOut);
  const codes = sso.tokenRequests.slice(codesBefore).map((r) => r.code);
  const secrets: Record<string, string | undefined> = {
    'access token': sso.issuedTokens.at(-1),
    'session cookie': session,
    'sealed login-state cookie': loginState,
    'authorization code': codes[0],
    'SSO client secret': sso.clientSecret,
    'AWS secret key': stack.secretKey,
  };
  await sleep(200);
  const output = proxy.stdout() + proxy.stderr();
  t.true(output.includes('"level":20'), 'debug lines are being written');
  for (const [what, secret] of Object.entries(secrets)) {
    t.true(typeof secret === 'string' && secret.length >= 8, `${what} is known to the test`);
    t.false(output.includes(secret!), `${what} appears in the output`);
  }
  for (const token of sso.issuedTokens) t.false(output.includes(token), 'an issued access token appears in the output');
});

// --- liveness and readiness ----------------------------------------------------------

test.serial('liveness and readiness answer 200 without a session', async (t) => {
  const live = await fetch(`${proxy.url}/__s3proxy/live`);
  t.is(live.status, 200);
  t.deepEqual(await live.json(), { live: true });
  const ready = await fetch(`${proxy.url}/__s3proxy/ready`);
  t.is(ready.status, 200);
  t.is(ready.headers.get('cache-control'), 'no-store');
  t.deepEqual(await ready.json(), { redis: 'ok', s3: 'ok', draining: false });
});

/** A Redis server of the test's own, so that it can be frozen. */
async function privateRedis(): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i += 1) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = http.request({ host: '127.0.0.1', port }).on('error', () => resolve(false));
      socket.on('socket', (s) => s.on('connect', () => (s.destroy(), resolve(true))));
      socket.end();
    });
    if (up) break;
    await sleep(50);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await once(child, 'exit');
    },
  };
}

async function readinessUntil(url: string, status: number, timeoutMs = 10_000): Promise<{ status: number; body: unknown }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(`${url}/__s3proxy/ready`);
    const body = await response.json();
    if (response.status === status || Date.now() > deadline) return { status: response.status, body };
    await sleep(200);
  }
}

test('readiness turns 503 while Redis does not answer, and 200 again when it does', async (t) => {
  const redis = await privateRedis();
  const own = await start({}, { redisUrl: redis.url });
  try {
    t.deepEqual(await readinessUntil(own.url, 200), { status: 200, body: { redis: 'ok', s3: 'ok', draining: false } });
    redis.child.kill('SIGSTOP');
    t.deepEqual(await readinessUntil(own.url, 503), { status: 503, body: { redis: 'down', s3: 'ok', draining: false } });
    const live = await fetch(`${own.url}/__s3proxy/live`);
    t.is(live.status, 200, 'a process waiting for Redis is still alive');
    await live.arrayBuffer();
    redis.child.kill('SIGCONT');
    t.deepEqual(await readinessUntil(own.url, 200), { status: 200, body: { redis: 'ok', s3: 'ok', draining: false } });
  } finally {
    await own.stop();
    await redis.stop();
  }
});

/** What /ready says of a proxy started with these settings. */
async function readinessWith(options: Partial<Parameters<typeof proxyEnv>[1]>): Promise<{ status: number; body: unknown }> {
  const own = await startProxy(proxyEnv(stack, { bucket, sso: oauth2Sso(sso), ...options }));
  try {
    const ready = await fetch(`${own.url}/__s3proxy/ready`);
    return { status: ready.status, body: await ready.json() };
  } finally {
    await own.stop();
  }
}

test('readiness reports S3 down when the bucket does not exist', async (t) => {
  t.deepEqual(await readinessWith({ bucket: `${bucket}-missing` }), {
    status: 503,
    body: { redis: 'ok', s3: 'down', draining: false },
  });
});

test('readiness reports S3 down when S3 rejects the credentials', async (t) => {
  t.deepEqual(await readinessWith({ credentials: { accessKey: stack.accessKey, secretKey: `${stack.secretKey}-wrong` } }), {
    status: 503,
    body: { redis: 'ok', s3: 'down', draining: false },
  });
});

test('readiness is 200 for credentials that may read objects but not list the bucket', async (t) => {
  // the stack must provide the limited user; without one this throws, naming it
  const own = await startGetOnlyProxy(stack, oauth2Sso(sso), 'observability-limited');
  try {
    const ua = new UserAgent();
    const object = await ua.signInOAuth2(`${own.url}/there.txt`);
    t.is(object.response.status, 200, 'the limited credentials do read objects');
    t.is(await object.response.text(), 'here');
    const ready = await fetch(`${own.url}/__s3proxy/ready`);
    t.deepEqual(await ready.json(), { redis: 'ok', s3: 'ok', draining: false });
    t.is(ready.status, 200);
  } finally {
    await own.stop();
  }
});

test('readiness answers 503 with connection: close the moment SIGTERM arrives, while a slow download still drains', async (t) => {
  // The healthcheck key needs no sign-in, which keeps this test about the lifecycle.
  const own = await start({ SHUTDOWN_TIMEOUT: '30' }, { healthcheckKey: 'big.bin' });
  const probeAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    // The load balancer's keep-alive connection, opened before the signal:
    // after it the proxy accepts no new connection.
    const first = await get(`${own.url}/__s3proxy/ready`, {}, probeAgent);
    t.is(first.statusCode, 200);
    await readAll(first);

    const download = await get(`${own.url}/big.bin`, {});
    t.is(download.statusCode, 200);
    let received = 0;
    download.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    download.pause();
    await sleep(200);

    own.child.kill('SIGTERM');
    await own.waitForLog((l) => l.msg === 'shutting down: no new connections, draining');

    const draining = await get(`${own.url}/__s3proxy/ready`, {}, probeAgent);
    t.is(draining.statusCode, 503);
    t.is(draining.headers.connection, 'close');
    t.like(JSON.parse((await readAll(draining)).toString()), { draining: true });
    t.is(own.child.exitCode, null, 'the proxy is still draining the download');

    download.resume();
    await once(download, 'end');
    t.is(received, bigSize);
    t.is((await own.exit).code, 0);
  } finally {
    probeAgent.destroy();
    await own.stop();
  }
});
