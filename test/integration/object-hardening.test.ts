// Object responses hardened for a signed-in origin, through the built proxy
// and the real S3 server: every object sandboxed, signed-in objects kept out
// of shared caches, dot segments refused under a key prefix, S3 bodies the
// proxy reads itself bounded, clients without fetch metadata sent to SSO as
// uktrade's proxy sends them, and error answers that start with the status line.
import test from 'ava';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { oauth2Sso, proxyEnv } from '../support/proxy-env.ts';
import { createBucket, putObject, s3Client, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { CookieJar } from 'tough-cookie';
import { signedInCookie } from '../support/user-agent.ts';
import { rawRequest } from '../support/raw-http.ts';

const stack = s3Stack();
const sandbox = 'sandbox allow-same-origin';

let bucket: string;
let sso: OAuth2Sso;
/** the bucket under the key prefix `public/`, healthcheck key `health.txt` */
let prefixed: ProxyProcess;
/** the same bucket without a key prefix */
let whole: ProxyProcess;
let cookie: string;
let wholeCookie: string;

test.before(async () => {
  bucket = await createBucket(stack, 'hardening');
  await putObject(stack, bucket, 'public/plain.txt', 'plain content', 'text/plain');
  await putObject(stack, bucket, 'public/cached.txt', 'cached content', 'text/plain', { 'Cache-Control': 'public, max-age=600' });
  await putObject(stack, bucket, 'public/shared.txt', 'shared content', 'text/plain', { 'Cache-Control': 'public, max-age=600, s-maxage=86400, proxy-revalidate' });
  await putObject(stack, bucket, 'public/data.bin', Buffer.alloc(1000, 7), 'application/octet-stream');
  await putObject(stack, bucket, 'public/health.txt', 'ok', 'text/plain', { 'Cache-Control': 'public, max-age=30' });
  await putObject(stack, bucket, 'public/x/./y.txt', 'a key with a dot segment', 'text/plain');
  await putObject(stack, bucket, 'secret.txt', 'OUTSIDE THE PREFIX', 'text/plain');
  await putObject(stack, bucket, '../secret.txt', 'OUTSIDE THE BUCKET ROOT', 'text/plain');
  sso = await startOAuth2Sso();
  [prefixed, whole] = await Promise.all([
    startProxy(proxyEnv(stack, { bucket, keyPrefix: 'public/', sso: oauth2Sso(sso), healthcheckKey: 'health.txt' })),
    startProxy(proxyEnv(stack, { bucket, sso: oauth2Sso(sso) })),
  ]);
  cookie = await signedInCookie(`${prefixed.url}/plain.txt`, prefixed.url);
  wholeCookie = await signedInCookie(`${whole.url}/public/plain.txt`, whole.url);
});

test.after.always(async () => {
  await Promise.all([prefixed?.stop(), whole?.stop()]);
  await sso?.close();
});

const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => rawRequest(prefixed.url, path, { cookie, ...headers }, method);

// ---- every object is sandboxed ----------------------------------------

test('every object response is sandboxed, whatever its type: 200, 206, 304, HEAD and the healthcheck key', async (t) => {
  const full = await get('/data.bin');
  t.is(full.status, 200);
  t.is(full.headers['content-security-policy'], sandbox);
  const text = await get('/plain.txt');
  t.is(text.headers['content-security-policy'], sandbox);
  const partial = await get('/data.bin', { range: 'bytes=0-9' });
  t.is(partial.status, 206);
  t.is(partial.headers['content-security-policy'], sandbox);
  const notModified = await get('/data.bin', { 'if-none-match': full.headers.etag! });
  t.is(notModified.status, 304);
  t.is(notModified.headers['content-security-policy'], sandbox);
  const head = await get('/data.bin', {}, 'HEAD');
  t.is(head.headers['content-security-policy'], sandbox);
  const health = await rawRequest(prefixed.url, '/health.txt');
  t.is(health.status, 200);
  t.is(health.headers['content-security-policy'], sandbox);
});

// ---- signed-in content never lands in a shared cache ------------------

test("S3 keeps each object's own Cache-Control (what the proxy is given)", async (t) => {
  const stat = await s3Client(stack).statObject(bucket, 'public/cached.txt');
  t.is(stat.metaData['cache-control'], 'public, max-age=600');
});

test("a signed-in object's public max-age reaches the browser as a private one, on 200, 206 and 304", async (t) => {
  const full = await get('/cached.txt');
  t.is(full.status, 200);
  t.is(full.headers['cache-control'], 'private, max-age=600');
  const partial = await get('/cached.txt', { range: 'bytes=0-3' });
  t.is(partial.status, 206);
  t.is(partial.headers['cache-control'], 'private, max-age=600');
  const notModified = await get('/cached.txt', { 'if-none-match': full.headers.etag! });
  t.is(notModified.status, 304);
  // S3 servers that send no Cache-Control on a 304 (RGW) leave the browser's
  // stored copy, private already, as it is.
  t.true([undefined, 'private, max-age=600'].includes(notModified.headers['cache-control']), notModified.headers['cache-control']);
});

test('directives for shared caches are dropped from a signed-in object, and none at all is private', async (t) => {
  t.is((await get('/shared.txt')).headers['cache-control'], 'private, max-age=600');
  t.is((await get('/plain.txt')).headers['cache-control'], 'private');
});

test('the healthcheck key, served without sign-in, keeps its own Cache-Control', async (t) => {
  const health = await rawRequest(prefixed.url, '/health.txt');
  t.is(health.status, 200);
  t.is(health.headers['cache-control'], 'public, max-age=30');
});

// ---- dot segments under a key prefix ----------------------------------

const dotSegmentPaths = [
  '/../secret.txt',
  '/%2e%2e/secret.txt',
  '/%2E%2E/secret.txt',
  '/.%2e/secret.txt',
  '/a/%2E%2E/%2E%2E/secret.txt',
  '/a%2F..%2F..%2Fsecret.txt',
  '/x/./y.txt',
  '/x/%2e/y.txt',
  '/x/../',
];

test('with a key prefix, a path with a . or .. segment is 400, however it is encoded', async (t) => {
  for (const path of dotSegmentPaths) {
    const response = await get(path, { accept: 'text/plain' });
    t.is(response.status, 400, path);
    const body = response.body.toString();
    t.true(body.startsWith('400 Bad Request\n'), `${path}: ${body}`);
    t.false(body.includes('OUTSIDE') || body.includes('dot segment in'), path);
  }
});

test('with a key prefix, a dot segment is 400 before any sign-in', async (t) => {
  const response = await rawRequest(prefixed.url, '/%2e%2e/secret.txt', { accept: '*/*' });
  t.is(response.status, 400);
  t.is(response.headers.location, undefined);
});

test('with a key prefix, dots inside a segment are part of the key', async (t) => {
  const response = await get('/x/.../none.txt');
  t.is(response.status, 404);
});

test('without a key prefix, dot segments are kept as part of the key, as before', async (t) => {
  const inside = await rawRequest(whole.url, '/public/x/./y.txt', { cookie: wholeCookie });
  t.is(inside.status, 200);
  t.is(inside.body.toString(), 'a key with a dot segment');
  const literal = await rawRequest(whole.url, '/%2e%2e/secret.txt', { cookie: wholeCookie });
  t.is(literal.status, 200);
  t.is(literal.body.toString(), 'OUTSIDE THE BUCKET ROOT', 'the literal key ../secret.txt, not secret.txt');
});

// ---- clients without fetch metadata -----------------------------------

test('a client without fetch metadata that accepts anything (curl) is sent to SSO', async (t) => {
  const curl = await rawRequest(prefixed.url, '/plain.txt', { accept: '*/*', 'user-agent': 'curl/8.5.0' });
  t.is(curl.status, 302);
  t.true(curl.headers.location!.startsWith(sso.url), curl.headers.location);
  const bare = await rawRequest(prefixed.url, '/plain.txt');
  t.is(bare.status, 302, 'no Accept at all');
  t.true(bare.headers.location!.startsWith(sso.url));
  const html = await rawRequest(prefixed.url, '/plain.txt', { accept: 'text/html' });
  t.is(html.status, 302);
});

/**
 * A client like curl with a cookie jar (`curl -L -b jar -c jar`): no fetch
 * metadata, an Accept of any type, cookies kept, redirects followed.
 */
async function curlLike(start: string): Promise<{ status: number; body: string; visited: string[] }> {
  const jar = new CookieJar();
  const visited: string[] = [];
  let url = new URL(start);
  for (let hop = 0; hop < 10; hop += 1) {
    visited.push(url.href);
    const cookies = await jar.getCookieString(url.href);
    const headers: Record<string, string> = { accept: '*/*', 'user-agent': 'curl/8.5.0', ...(cookies ? { cookie: cookies } : {}) };
    const response = await rawRequest(url.origin, url.pathname + url.search, headers);
    const setCookies = response.headers['set-cookie'] ?? [];
    for (const setCookie of setCookies) await jar.setCookie(setCookie, url.href, { ignoreError: true });
    if (response.status < 300 || response.status >= 400 || !response.headers.location) {
      return { status: response.status, body: response.body.toString(), visited };
    }
    url = new URL(response.headers.location, url);
  }
  throw new Error(`too many redirects: ${visited.join(' -> ')}`);
}

test('a client without fetch metadata signs in through SSO with a cookie jar and gets the object', async (t) => {
  const result = await curlLike(`${prefixed.url}/plain.txt`);
  t.is(result.status, 200, result.visited.join(' -> '));
  t.is(result.body, 'plain content');
  t.true(result.visited.some((url) => url.startsWith(sso.url)), 'it went through SSO');
});

test('requests that say they are not navigations get 401, never a redirect', async (t) => {
  const cases: Array<[string, Record<string, string>, string]> = [
    ['fetch()', { accept: '*/*', 'sec-fetch-mode': 'cors' }, 'GET'],
    ['a media element', { accept: '*/*', 'sec-fetch-mode': 'no-cors', range: 'bytes=0-' }, 'GET'],
    ['an API client', { accept: 'application/json' }, 'GET'],
    ['an image loader', { accept: 'image/avif,image/webp,image/*' }, 'GET'],
    ['HTML refused', { accept: 'text/html;q=0, */*;q=0.1' }, 'GET'],
    ['an Authorization header', { accept: '*/*', authorization: 'Basic dXNlcjpwYXNz' }, 'GET'],
    ['HEAD', { accept: '*/*' }, 'HEAD'],
  ];
  for (const [who, headers, method] of cases) {
    const response = await rawRequest(prefixed.url, '/plain.txt', headers, method);
    t.is(response.status, 401, who);
    t.is(response.headers.location, undefined, who);
    t.false(response.body.toString().includes('plain content'), who);
  }
});

// ---- error answers start with the status line -------------------------

test('a plain-text error states the status code and reason phrase before the friendly sentence', async (t) => {
  const response = await rawRequest(prefixed.url, '/plain.txt', { accept: '*/*', 'sec-fetch-mode': 'cors' });
  t.is(response.status, 401);
  t.is(response.headers['content-type'], 'text/plain; charset=utf-8');
  const [first, second] = response.body.toString().split('\n');
  t.is(first, '401 Unauthorized');
  t.is(second, 'Sign-in required. Sign in and try again.');
});

test('an error page states the status code and reason phrase before the friendly sentence', async (t) => {
  const response = await get('/no-such-object.txt', { accept: 'text/html', 'sec-fetch-mode': 'navigate' });
  t.is(response.status, 404);
  t.is(response.headers['content-type'], 'text/html; charset=utf-8');
  const page = response.body.toString();
  t.regex(page, /<title>404 Not Found<\/title>/);
  const heading = page.indexOf('<h1>404 Not Found</h1>');
  t.true(heading > 0, page);
  t.true(page.indexOf('There is nothing at this address.') > heading);
});

// ---- bounded reads of S3 bodies ---------------------------------------

/**
 * A stand-in for S3, because RGW (or MinIO) cannot be made to answer with an
 * endless chunked body: HEAD is 403 with no body; every GET is 403 with an
 * S3 error document whose <Message> never ends, sent chunked (no
 * Content-Length), 4 KiB every 5 ms while the connection stays open. It
 * counts the bytes it handed to each connection.
 */
interface EndlessStream {
  path: string;
  bytes: number;
  closed: Promise<void>;
}

async function startEndlessS3(): Promise<{ url: string; streams: EndlessStream[]; close(): Promise<void> }> {
  const streams: EndlessStream[] = [];
  const filler = Buffer.alloc(4096, 'a');
  const server: Server = createServer((req, res) => {
    if (req.method === 'HEAD') {
      res.writeHead(403, { 'content-type': 'application/xml' }).end();
      return;
    }
    const code = req.url!.includes('list-type=2') ? 'AccessDenied' : 'SignatureDoesNotMatch';
    let markClosed!: () => void;
    const stream: EndlessStream = { path: req.url!, bytes: 0, closed: new Promise((resolve) => (markClosed = resolve)) };
    streams.push(stream);
    res.writeHead(403, { 'content-type': 'application/xml' });
    const send = (chunk: Buffer) => {
      stream.bytes += chunk.length;
      res.write(chunk);
    };
    send(Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>`));
    const timer = setInterval(() => send(filler), 5);
    res.on('close', () => {
      clearInterval(timer);
      markClosed();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    streams,
    async close() {
      server.closeAllConnections();
      server.close();
    },
  };
}

const limit = 64 * 1024;

/** The stream S3 was asked for, once it has closed (the proxy let go of it), within `ms`. */
async function closedStream(streams: EndlessStream[], match: (path: string) => boolean, ms = 5_000): Promise<EndlessStream> {
  const deadline = Date.now() + ms;
  for (;;) {
    const stream = streams.find((s) => match(s.path));
    if (stream) {
      const closed = await Promise.race([stream.closed.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), Math.max(0, deadline - Date.now())))]);
      if (!closed) throw new Error(`the proxy still reads ${stream.path} after ${ms} ms (${stream.bytes} bytes so far)`);
      return stream;
    }
    if (Date.now() > deadline) throw new Error('S3 was never asked');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('an endless chunked S3 error body is read to at most 64 KiB, and the proxy answers from its start', async (t) => {
  const s3 = await startEndlessS3();
  const proxy = await startProxy(
    proxyEnv(stack, {
      bucket: 'stand-in',
      sso: oauth2Sso(sso),
      healthcheckKey: 'endless.txt',
      extra: { AWS_S3_ENDPOINT: `${s3.url}/stand-in/`, AWS_S3_REGION: 'us-east-1' },
    }),
  );
  try {
    const started = Date.now();
    const response = await rawRequest(proxy.url, '/endless.txt', { accept: 'text/plain' });
    t.is(response.status, 500, 'the credential error code at the start of the body was read');
    t.true(response.body.toString().startsWith('500 Internal Server Error\n'));
    t.true(Date.now() - started < 5_000);
    const line = await proxy.waitForLog((l) => l.s3Code !== undefined);
    t.is(line.s3Code, 'SignatureDoesNotMatch');

    const stream = await closedStream(s3.streams, (path) => path.startsWith('/stand-in/endless.txt'));
    // What S3 sent: at least what the proxy read, at most that plus what was
    // on the wire when it let go (TCP buffers; 4 KiB every 5 ms). Reading the
    // whole body would never end; reading twice the bound would exceed this.
    t.log(`S3 sent ${stream.bytes} bytes before the proxy let go`);
    t.true(stream.bytes >= limit, `${stream.bytes} bytes sent`);
    t.true(stream.bytes < 2 * limit, `${stream.bytes} bytes sent`);
  } finally {
    await proxy.stop();
    await s3.close();
  }
});

test('the readiness check reads at most 64 KiB of an endless S3 answer, and answers from its start', async (t) => {
  const s3 = await startEndlessS3();
  const proxy = await startProxy(
    proxyEnv(stack, {
      bucket: 'stand-in',
      sso: oauth2Sso(sso),
      extra: { AWS_S3_ENDPOINT: `${s3.url}/stand-in/`, AWS_S3_REGION: 'us-east-1' },
    }),
  );
  try {
    const response = await rawRequest(proxy.url, '/__s3proxy/ready');
    // AccessDenied, read from the start of the body, means S3 answered and
    // accepted who the proxy is; a probe that waited for the end would time out.
    t.is(response.status, 200, response.body.toString());
    t.like(JSON.parse(response.body.toString()), { s3: 'ok', redis: 'ok' });

    const stream = await closedStream(s3.streams, (path) => path.includes('list-type=2'));
    t.log(`S3 sent ${stream.bytes} bytes before the proxy let go`);
    t.true(stream.bytes >= limit, `${stream.bytes} bytes sent`);
    t.true(stream.bytes < 2 * limit, `${stream.bytes} bytes sent`);
  } finally {
    await proxy.stop();
    await s3.close();
  }
});
