// The upload page with UPLOAD_DATA_PATH=proxy, in a real Chromium, through
// the real OpenID provider's login page, to the real S3 server: the bucket
// has no CORS rule at all, so a browser that tried to send a byte to S3
// would fail; every byte goes to the proxy's own origin, which streams it
// to S3. The page is the same as in direct mode: only the URLs the routes
// hand out differ. What S3 holds is asked of S3 (HeadObject, ListParts).
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, screenshot } from './browser.ts';
import { fileOf, partsAtS3, progressSeen, recordProgress, sha256Of, signedInPage, throttleUploads, until } from './upload-page-support.ts';
import { freePort } from '../support/free-port.ts';
import { startOidcIssuer, type OidcIssuer } from '../support/oidc-issuer.ts';
import { proxyEnv } from '../support/proxy-env.ts';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { createBucket, s3Stack } from '../support/s3-fixtures.ts';
import { removeBucket, sdkClient } from '../support/s3-sdk.ts';

const stack = s3Stack();
const MiB = 1024 * 1024;
const alice = { username: 'alice', password: 'wonderland', folder: 'uploads/alice@example.org/' };

let bucket: string;
let issuer: OidcIssuer;
let proxy: ProxyProcess;
let url: string;
let s3: S3Client;
let browser: Browser;
let files: string;

test.before(async () => {
  // no CORS rule: the bucket is out of the browser's reach
  bucket = await createBucket(stack, 'upload-page-proxy');
  const port = await freePort();
  url = `http://localhost:${port}`;
  issuer = await startOidcIssuer({
    clientId: 's3proxy-upload-page-proxy',
    clientSecret: 'upload-page-proxy-client-secret',
    redirectUris: [`${url}/__redirect_from_sso`],
    postLogoutRedirectUris: [`${url}/__s3proxy/signed-out`],
  });
  proxy = await startProxy(
    proxyEnv(stack, {
      bucket,
      sso: { mode: 'oidc', issuer: issuer.issuer, clientId: issuer.clientId, clientSecret: issuer.clientSecret },
      extra: {
        PORT: String(port),
        PUBLIC_URL: url,
        UPLOAD_PREFIX: 'uploads/{user}/',
        UPLOAD_MAX_BYTES: String(64 * MiB),
        UPLOAD_DATA_PATH: 'proxy',
      },
    }),
    { timeoutMs: 30_000 },
  );
  s3 = sdkClient(stack);
  browser = await launchBrowser();
  files = await mkdtemp(join(tmpdir(), 's3proxy-upload-page-proxy-'));
});

test.after.always(async () => {
  await browser?.close();
  await proxy?.stop();
  await issuer?.close();
  if (s3 && bucket) await removeBucket(s3, bucket);
  s3?.destroy();
  if (files) await rm(files, { recursive: true, force: true });
});

interface Traffic {
  /** every request the page made, as METHOD URL */
  requests: string[];
  /** part numbers of the parts the page sent, in the order it sent them */
  partsSent(): number[];
}

/**
 * What the page sends. A part's number is not in its URL (it is sealed in
 * the capability), so each URL is matched with the part-URL route's answer
 * that handed it out.
 */
function recordTraffic(page: Page): Traffic {
  const requests: string[] = [];
  const partOfUrl = new Map<string, number>();
  const puts: string[] = [];
  page.on('request', (request) => {
    requests.push(`${request.method()} ${request.url()}`);
    if (request.method() === 'PUT') puts.push(request.url());
  });
  page.on('response', (response) => {
    const match = /^\/__s3proxy\/s3\/multipart\/[^/]+\/(\d+)$/.exec(new URL(response.url()).pathname);
    if (match && response.request().method() === 'GET') {
      void response.json().then((body: { url: string }) => partOfUrl.set(body.url, Number(match[1])), () => undefined);
    }
  });
  return {
    requests,
    partsSent: () => puts.map((put) => partOfUrl.get(put) ?? -1),
  };
}

test('small and 60 MB files go up through the proxy (no byte to S3 from the browser, whose CSP allows only the proxy), progress reaches 100 %, and both download byte for byte', async (t) => {
  t.timeout(180_000);
  const small = await fileOf(files, 'notes.txt', 1_000, 1);
  const large = await fileOf(files, 'large.bin', 60_000_000, 2);
  const { context, page, problems } = await signedInPage(browser, url, '/' + alice.folder, alice);
  try {
    const listing = await page.request.get(`${url}/${alice.folder}`, { headers: { accept: 'text/html' } });
    const csp = listing.headers()['content-security-policy'] ?? '';
    t.regex(csp, /connect-src 'self'(;|$)/, csp);
    await page.locator('.uppy-Dashboard').waitFor();
    const traffic = recordTraffic(page);
    await recordProgress(page);
    const startedAt = Date.now();
    await page.locator('.uppy-Dashboard-input').first().setInputFiles([small.path, large.path]);
    await until('an upload in flight', async () => (await progressSeen(page)).some((p) => p > 0 && p < 100));
    await screenshot(page, 'proxy-upload-in-progress');
    await page.locator('.uppy-StatusBar.is-complete').waitFor({ timeout: 150_000 });
    const seconds = (Date.now() - startedAt) / 1000;
    t.log(`60 MB + 1 kB from the browser through the proxy to S3 in ${seconds.toFixed(1)} s (${(60 / seconds).toFixed(1)} MB/s, one part at a time)`);
    const progress = await progressSeen(page);
    t.is(progress.at(-1), 100);
    t.deepEqual(progress, [...progress].sort((a, b) => a - b), 'progress only goes up');
    for (const name of ['notes.txt', 'large.bin']) await page.locator('#listing td.name a', { hasText: name }).waitFor({ timeout: 10_000 });
    await screenshot(page, 'proxy-upload-complete');

    for (const request of traffic.requests) t.true(request.includes(` ${url}/`), `the page sent only to the proxy: ${request}`);
    // the small file as a form POST to the data path, the large one as 12 parts, each sent once
    t.is(traffic.requests.filter((r) => r.startsWith(`POST ${url}/__s3proxy/data/`)).length, 1);
    t.deepEqual([...traffic.partsSent()].sort((a, b) => a - b), Array.from({ length: 12 }, (_, i) => i + 1));
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: alice.folder + 'large.bin' }));
    t.regex(String(head.ETag), /-12"$/);
    t.is(head.ContentLength, 60_000_000);
    for (const [name, file] of [['notes.txt', small], ['large.bin', large]] as const) {
      const response = await page.request.get(`${url}/${alice.folder}${name}`);
      t.is(response.status(), 200, name);
      t.is(sha256Of(await response.body()), file.sha256, name);
    }
    t.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('a multipart upload through the proxy interrupted by a reload resumes without sending again the parts S3 already has', async (t) => {
  t.timeout(180_000);
  const file = await fileOf(files, 'resumed.bin', 60_000_000, 3);
  const key = alice.folder + 'resumed.bin';
  const { context, page, problems } = await signedInPage(browser, url, '/' + alice.folder, alice);
  try {
    await page.locator('.uppy-Dashboard').waitFor();
    await throttleUploads(page, 3_500_000);
    await page.locator('.uppy-Dashboard-input').first().setInputFiles(file.path);
    const before = await until('three parts at S3', async () => {
      const now = await partsAtS3(s3, bucket, key);
      return now && now.parts.length >= 3 ? now : undefined;
    });
    await page.reload();
    const after = recordTraffic(page);
    await throttleUploads(page, 20_000_000);
    await page.locator('.uppy-Dashboard-Item', { hasText: 'resumed.bin' }).waitFor({ timeout: 20_000 });
    await page.locator('.uppy-DashboardContent-addMore').click();
    await page.locator('.uppy-Dashboard-input').first().setInputFiles(file.path);
    await page.locator('.uppy-StatusBar-actionBtn--upload').click();
    await page.locator('.uppy-StatusBar.is-complete').waitFor({ timeout: 150_000 });

    const sentAfter = after.partsSent();
    t.log(`parts at S3 before the reload: ${before.parts.join(',')}; sent after it: ${sentAfter.join(',')}`);
    t.deepEqual(sentAfter.filter((part) => before.parts.includes(part)), []);
    t.true(sentAfter.length > 0 && sentAfter.length <= 12 - before.parts.length, `sent after the reload: ${sentAfter.join(',')}`);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    t.regex(String(head.ETag), /-12"$/);
    const response = await page.request.get(`${url}/${key}`);
    t.is(sha256Of(await response.body()), file.sha256);
    t.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('cancelling an upload through the proxy in the middle leaves no object and no incomplete multipart upload in S3', async (t) => {
  t.timeout(120_000);
  const file = await fileOf(files, 'cancelled.bin', 60_000_000, 4);
  const key = alice.folder + 'cancelled.bin';
  const { context, page, problems } = await signedInPage(browser, url, '/' + alice.folder, alice);
  try {
    await page.locator('.uppy-Dashboard').waitFor();
    await throttleUploads(page, 3_500_000);
    await page.locator('.uppy-Dashboard-input').first().setInputFiles(file.path);
    await until('a part at S3', async () => {
      const now = await partsAtS3(s3, bucket, key);
      return now && now.parts.length >= 1 ? now : undefined;
    });
    await screenshot(page, 'proxy-upload-before-cancel');
    await page.locator('.uppy-StatusBar-actionCircleBtn[aria-label="Cancel"]').click();
    await until('the multipart upload aborted at S3', async () => (await partsAtS3(s3, bucket, key)) === undefined, 20_000);
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
    t.deepEqual(uploads.Uploads ?? [], []);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(
      () => 'exists',
      (error: { name?: string }) => error.name,
    );
    t.is(head, 'NotFound');
    t.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});
