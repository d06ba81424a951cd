// The operator's limits around uploads, end to end: the daily volume, the
// overwrite modes rename and allow, who may upload (addresses, @domain,
// and OIDC groups), Redis going away, and the metrics.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { proxyEnv } from '../support/proxy-env.ts';
import { patternBytes, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso, type SsoUser } from '../support/oauth2-sso-server.ts';
import { startOidcIssuer } from '../support/oidc-issuer.ts';
import { freePort } from '../support/free-port.ts';
import { startOwnRedis } from '../support/redis-server.ts';
import { UserAgent } from '../support/user-agent.ts';
import { callJson, existsAtS3, objectAtS3, postForm, s3Admin, signIn, startUploadProxy, type UploadProxy } from '../support/uploads.ts';

const stack = s3Stack();
const s3 = s3Admin(stack);
const person = (name: string, domain = 'example.org'): SsoUser => ({ email: `${name}@${domain}`, user_id: name, first_name: name, last_name: 'Test' });

let sso: OAuth2Sso;
let volume: UploadProxy;

test.before(async () => {
  sso = await startOAuth2Sso();
  volume = await startUploadProxy(stack, sso, 'uploads-limits', { UPLOAD_DAILY_BYTES: '1000' });
});

test.after.always(async () => {
  await volume?.proxy.stop();
  await sso?.close();
});

const put = (agent: UserAgent, proxy: ProxyProcess, filename: string, size: number, type = 'application/octet-stream') =>
  callJson(agent, proxy, 'POST', '/__s3proxy/uploads', { filename, type, size });

// --- the daily volume ----------------------------------------------------------------

test('URLs are handed out until their declared sizes reach UPLOAD_DAILY_BYTES, then 413; other users keep theirs', async (t) => {
  const { proxy } = volume;
  const agent = await signIn(proxy, sso, person('vera'));
  t.is((await put(agent, proxy, 'a.bin', 600)).status, 200);
  const over = await put(agent, proxy, 'b.bin', 401);
  t.is(over.status, 413);
  t.is(over.body.error.code, 'over_daily_volume');
  t.is((await put(agent, proxy, 'c.bin', 400)).status, 200, 'exactly the rest');
  t.is((await put(agent, proxy, 'd.bin', 1)).status, 413);
  t.is((await put(agent, proxy, 'empty.bin', 0)).status, 200, 'nothing costs nothing');
  const post = await callJson(agent, proxy, 'GET', `/__s3proxy/s3/params?${new URLSearchParams({ filename: 'e.bin', type: 'text/plain' })}`);
  t.is(post.status, 413);
  const multipart = await callJson(agent, proxy, 'POST', '/__s3proxy/s3/multipart', { filename: 'f.bin', type: 'text/plain' });
  t.is(multipart.status, 413);
  const other = await signIn(proxy, sso, person('walt'));
  t.is((await put(other, proxy, 'a.bin', 1000)).status, 200);
});

test('the volume is charged when the URL is handed out, whether or not it is used', async (t) => {
  const { proxy } = volume;
  const agent = await signIn(proxy, sso, person('xena'));
  t.is((await put(agent, proxy, 'unused.bin', 1000)).status, 200);
  t.is((await put(agent, proxy, 'next.bin', 1)).status, 413);
});

test('a POST without a declared size is bounded by the rest of the day, which S3 enforces', async (t) => {
  const { proxy, bucket, keyPrefix } = volume;
  const agent = await signIn(proxy, sso, person('yuri'));
  t.is((await put(agent, proxy, 'first.bin', 900)).status, 200);
  const post = await callJson(agent, proxy, 'GET', `/__s3proxy/s3/params?${new URLSearchParams({ filename: 'rest.bin', type: 'application/octet-stream' })}`);
  t.is(post.status, 200);
  const tooBig = await postForm(post.body.url, post.body.fields, Buffer.alloc(101));
  t.is(tooBig.status, 400);
  t.false(await existsAtS3(s3, bucket, keyPrefix + post.body.key));
  t.is((await postForm(post.body.url, post.body.fields, Buffer.alloc(100))).status, 201);
  t.is((await put(agent, proxy, 'more.bin', 1)).status, 413, 'the bound was charged');
});

test('a multipart upload of undeclared size is charged at completion, by what S3 holds: over the volume it is 413 and no object appears', async (t) => {
  const { proxy, bucket, keyPrefix } = volume;
  const agent = await signIn(proxy, sso, person('zoe'));
  const created = await callJson(agent, proxy, 'POST', '/__s3proxy/s3/multipart', { filename: 'parts.bin', type: 'application/octet-stream' });
  t.is(created.status, 200);
  const { key, uploadId } = created.body;
  const query = new URLSearchParams({ key });
  const signed = await callJson(agent, proxy, 'GET', `/__s3proxy/s3/multipart/${encodeURIComponent(uploadId)}/1?${query}`);
  const part = await fetch(signed.body.url, { method: 'PUT', body: patternBytes(1001, 40) });
  t.is(part.status, 200);
  const done = await callJson(agent, proxy, 'POST', `/__s3proxy/s3/multipart/${encodeURIComponent(uploadId)}/complete?${query}`, {
    parts: [{ PartNumber: 1, ETag: part.headers.get('etag') }],
  });
  t.is(done.status, 413);
  t.is(done.body.error.code, 'over_daily_volume');
  t.false(await existsAtS3(s3, bucket, keyPrefix + key));
});

// --- overwrite modes -----------------------------------------------------------------

test('UPLOAD_OVERWRITE=rename gives a new name: report.pdf, report (1).pdf, report (2).pdf, on every route', async (t) => {
  const renaming = await startUploadProxy(stack, sso, 'uploads-rename', { UPLOAD_OVERWRITE: 'rename' });
  t.teardown(() => renaming.proxy.stop());
  const { proxy, bucket, keyPrefix } = renaming;
  const agent = await signIn(proxy, sso, person('rita'));
  const folder = 'uploads/rita@example.org/';
  await putObject(stack, bucket, `${keyPrefix}${folder}report.pdf`, 'the original', 'application/pdf');
  const first = await put(agent, proxy, 'report.pdf', 3, 'application/pdf');
  t.is(first.status, 200);
  t.is(first.body.key, `${folder}report (1).pdf`);
  t.is(first.body.headers['if-none-match'], '*', 'the new name is not taken over either');
  const second = await callJson(agent, proxy, 'GET', `/__s3proxy/s3/params?${new URLSearchParams({ filename: 'report.pdf', type: 'application/pdf' })}`);
  t.is(second.body.key, `${folder}report (2).pdf`, 'a name with a URL out is taken');
  const third = await callJson(agent, proxy, 'POST', '/__s3proxy/s3/multipart', { filename: 'report.pdf', type: 'application/pdf' });
  t.is(third.body.key, `${folder}report (3).pdf`);
  t.is((await fetch(first.body.url, { method: 'PUT', headers: first.body.headers, body: 'new' })).status, 200);
  t.is((await objectAtS3(s3, bucket, `${keyPrefix}${folder}report.pdf`))!.body.toString(), 'the original');
  t.is((await objectAtS3(s3, bucket, `${keyPrefix}${folder}report (1).pdf`))!.body.toString(), 'new');
});

test('UPLOAD_OVERWRITE=allow replaces an existing object: no If-None-Match is signed', async (t) => {
  const allowing = await startUploadProxy(stack, sso, 'uploads-allow', { UPLOAD_OVERWRITE: 'allow' });
  t.teardown(() => allowing.proxy.stop());
  const { proxy, bucket, keyPrefix } = allowing;
  const agent = await signIn(proxy, sso, person('otto'));
  const fullKey = `${keyPrefix}uploads/otto@example.org/notes.txt`;
  await putObject(stack, bucket, fullKey, 'old', 'text/plain');
  const answer = await put(agent, proxy, 'notes.txt', 3, 'text/plain');
  t.is(answer.status, 200);
  t.false('if-none-match' in answer.body.headers);
  t.is((await fetch(answer.body.url, { method: 'PUT', headers: answer.body.headers, body: 'new' })).status, 200);
  t.is((await objectAtS3(s3, bucket, fullKey))!.body.toString(), 'new');
});

// --- who may upload ----------------------------------------------------------------------

test('UPLOAD_ALLOWED_USERS: listed addresses and @domain entries may upload, nobody else', async (t) => {
  const listed = await startUploadProxy(stack, sso, 'uploads-users', { UPLOAD_ALLOWED_USERS: 'carl@example.org, @example.com' });
  t.teardown(() => listed.proxy.stop());
  const { proxy } = listed;
  const cases: Array<[SsoUser, number]> = [
    [person('carl'), 200],
    [person('Dora', 'Example.com'), 200],
    [person('eve'), 403],
    [person('finn', 'sub.example.com'), 403],
    [person('gus', 'notexample.com'), 403],
  ];
  for (const [user, status] of cases) {
    const agent = await signIn(proxy, sso, user);
    const answer = await put(agent, proxy, 'x.txt', 1, 'text/plain');
    t.is(answer.status, status, user.email);
    if (status === 403) t.is(answer.body.error.code, 'not_allowed');
  }
  const line = await proxy.waitForLog((l) => l.msg === 'upload' && l.user === 'eve@example.org' && l.outcome === 'refused');
  t.is(line.status, 403);
});

test('UPLOAD_ALLOWED_USERS group:NAME lets in OIDC identities whose groups claim has it', async (t) => {
  const port = await freePort();
  const issuer = await startOidcIssuer({
    clientId: 's3proxy-uploads',
    clientSecret: 'oidc-uploads-secret',
    redirectUris: [`http://127.0.0.1:${port}/__redirect_from_sso`],
    accounts: [
      { username: 'alice', password: 'wonderland', sub: 'alice-sub', email: 'alice@example.org', name: 'Alice', groups: ['uploaders', 'staff'] },
      { username: 'bob', password: 'builder', sub: 'bob-sub', email: 'bob@example.org', name: 'Bob', groups: ['staff'] },
    ],
  });
  t.teardown(() => issuer.close());
  const proxy = await startProxy(
    proxyEnv(stack, {
      bucket: volume.bucket,
      keyPrefix: volume.keyPrefix,
      sso: { mode: 'oidc', issuer: issuer.issuer, clientId: issuer.clientId, clientSecret: issuer.clientSecret },
      extra: { PORT: String(port), UPLOAD_PREFIX: 'uploads/{user_hash}/', UPLOAD_ALLOWED_USERS: 'group:uploaders' },
    }),
  );
  t.teardown(() => proxy.stop());
  for (const [username, password, status] of [
    ['alice', 'wonderland', 200],
    ['bob', 'builder', 403],
  ] as const) {
    const agent = new UserAgent();
    const signedIn = await agent.signInOidc(`${proxy.url}/index.txt`, { username, password });
    t.is(signedIn.response.status, 200);
    const answer = await put(agent, proxy, 'x.txt', 1, 'text/plain');
    t.is(answer.status, status, username);
    if (status === 200) t.regex(answer.body.key, /^uploads\/[0-9a-f]{20}\/x\.txt$/, '{user_hash} keeps the address out of the key');
  }
});

// --- Redis away ----------------------------------------------------------------------------

test('with Redis down every upload route answers 503 in JSON, and recovers with it', async (t) => {
  let redis = await startOwnRedis();
  const own = await startUploadProxy(stack, sso, 'uploads-redis', {}, { bucket: volume.bucket, redisUrl: redis.url });
  t.teardown(async () => {
    await own.proxy.stop();
    await redis.kill();
  });
  const { proxy } = own;
  const agent = await signIn(proxy, sso, person('rhea'));
  const created = await callJson(agent, proxy, 'POST', '/__s3proxy/s3/multipart', { filename: 'r.bin', type: 'text/plain' });
  t.is(created.status, 200);
  const path = `/__s3proxy/s3/multipart/${encodeURIComponent(created.body.uploadId)}`;
  const query = `?${new URLSearchParams({ key: created.body.key })}`;
  await redis.kill();
  const routes: Array<[string, string, unknown?]> = [
    ['POST', '/__s3proxy/uploads', { filename: 'r.txt', type: 'text/plain', size: 1 }],
    ['GET', `/__s3proxy/s3/params?filename=r.txt&type=text/plain`],
    ['GET', '/__s3proxy/uploads'],
    ['POST', '/__s3proxy/s3/multipart', { filename: 'r2.bin', type: 'text/plain' }],
    ['GET', `${path}/1${query}`],
    ['GET', `${path}/batch${query}&partNumbers=1`],
    ['GET', `${path}${query}`],
    ['POST', `${path}/complete${query}`, { parts: [{ PartNumber: 1, ETag: '"x"' }] }],
    ['DELETE', `${path}${query}`],
  ];
  for (const [method, route, body] of routes) {
    const started = Date.now();
    const answer = await callJson(agent, proxy, method, route, body);
    t.is(answer.status, 503, `${method} ${route}`);
    t.is(answer.body.error.code, 'unavailable');
    t.is(answer.headers.get('retry-after'), '1');
    t.true(Date.now() - started < 5_000, 'at once, not after a hang');
  }
  // the same port again: the proxy reconnects by itself (the sessions went with the old server)
  redis = await startOwnRedis(redis.port);
  let status = 0;
  for (let i = 0; i < 50 && status !== 401; i++) {
    status = (await callJson(agent, proxy, 'GET', '/__s3proxy/uploads')).status;
    if (status !== 401) await sleep(100);
  }
  t.is(status, 401, 'back: the session is gone with the data, so 401, not 503');
});

// --- metrics -------------------------------------------------------------------------------

test('uploads are counted: s3proxy_uploads_total{kind,outcome} and s3proxy_upload_bytes_total', async (t) => {
  const counted = await startUploadProxy(stack, sso, 'uploads-metrics', {}, { bucket: volume.bucket, extra: { METRICS_PORT: '0' } });
  t.teardown(() => counted.proxy.stop());
  const { proxy } = counted;
  const listening = await proxy.waitForLog((l) => l.msg === 'metrics listening');
  const agent = await signIn(proxy, sso, person('mia'));
  t.is((await put(agent, proxy, 'a.bin', 123)).status, 200);
  t.is((await put(agent, proxy, 'b.bin', 77)).status, 200);
  t.is((await put(agent, proxy, '../', 1)).status, 400);
  const created = await callJson(agent, proxy, 'POST', '/__s3proxy/s3/multipart', { filename: 'm.bin', type: 'text/plain' });
  const aborted = await callJson(agent, proxy, 'DELETE', `/__s3proxy/s3/multipart/${encodeURIComponent(created.body.uploadId)}?${new URLSearchParams({ key: created.body.key })}`);
  t.is(aborted.status, 200);
  const text = await (await fetch(`http://127.0.0.1:${listening.port as number}/metrics`)).text();
  const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  t.is(value('s3proxy_uploads_total{kind="put",outcome="presigned"}'), 2);
  t.is(value('s3proxy_uploads_total{kind="put",outcome="refused"}'), 1);
  t.is(value('s3proxy_uploads_total{kind="multipart",outcome="created"}'), 1);
  t.is(value('s3proxy_uploads_total{kind="multipart",outcome="aborted"}'), 1);
  t.is(value('s3proxy_upload_bytes_total'), 200);
  t.false(/s3proxy_uploads_total\{[^}]*(mia|a\.bin)/.test(text), 'labels carry no users or keys');
});
