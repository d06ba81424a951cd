// Uploading from a folder listing with a real Chromium, through the real
// OpenID provider's login page, to the real S3 server, with the bytes going
// from the browser to S3 directly (UPLOAD_DATA_PATH=direct, the default).
// What S3 holds is asked of S3 (ListMultipartUploads, ListParts, GetObject
// through the proxy), never of the proxy's own state or logs.
import test from 'ava';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, screenshot, signInAtIssuer } from './browser.ts';
import { freePort } from '../support/free-port.ts';
import { startOidcIssuer, type OidcIssuer } from '../support/oidc-issuer.ts';
import { proxyEnv } from '../support/proxy-env.ts';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { createBucket, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { allowBrowserUploads } from '../support/upload-cors.ts';
import { removeBucket, sdkClient } from '../support/s3-sdk.ts';
import { fileOf, partsAtS3, progressSeen, recordProgress, sha256Of, throttleUploads, until } from './upload-page-support.ts';

const stack = s3Stack();
const MiB = 1024 * 1024;
/** UPLOAD_MAX_BYTES: the 60 MB file fits, a file one byte larger than this does not */
const maxBytes = 64 * MiB;
const allowedTypes = 'text/plain,application/octet-stream,image/*';
const alice = { username: 'alice', password: 'wonderland', folder: 'uploads/alice@example.org/' };

let bucket: string;
let issuer: OidcIssuer;
let proxy: ProxyProcess;
let url: string;
let s3: S3Client;
let browser: Browser;
let files: string;

test.before(async () => {
  bucket = await createBucket(stack, 'upload-page');
  await putObject(stack, bucket, 'reports/q3.txt', 'the third quarter', 'text/plain');
  const port = await freePort();
  url = `http://localhost:${port}`;
  await allowBrowserUploads(stack, bucket, [url]);
  issuer = await startOidcIssuer({
    clientId: 's3proxy-upload-page',
    clientSecret: 'upload-page-client-secret',
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
        UPLOAD_MAX_BYTES: String(maxBytes),
        UPLOAD_ALLOWED_TYPES: allowedTypes,
      },
    }),
    { timeoutMs: 30_000 },
  );
  s3 = sdkClient(stack);
  browser = await launchBrowser();
  files = await mkdtemp(join(tmpdir(), 's3proxy-upload-page-'));
});

test.after.always(async () => {
  await browser?.close();
  await proxy?.stop();
  await issuer?.close();
  // four 60 MB uploads per run: do not leave them in the test stack's memory-backed store
  if (s3 && bucket) await removeBucket(s3, bucket);
  s3?.destroy();
  if (files) await rm(files, { recursive: true, force: true });
});

/** A fresh browser profile, signed in as alice, on the listing at `path`. */
async function signedIn(path: string): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  // CSP refusals and script errors show up here; a test that expects none checks it.
  const problems: string[] = [];
  page.on('console', (message) => {
    // the browser's own favicon request (of the provider's page too) is no part of the page
    if (message.type() === 'error' && !message.location().url.endsWith('/favicon.ico')) problems.push(`${message.text()} ${message.location().url}`);
  });
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(url + path);
  await signInAtIssuer(page, alice.username, alice.password);
  await page.waitForURL(url + path, { timeout: 30_000 });
  return { context, page, problems };
}

test("a folder listing has an upload area whose Dashboard, script and styles all come from the proxy, with no CSP refusal", async (t) => {
  const { context, page, problems } = await signedIn('/');
  try {
    const requested: string[] = [];
    page.on('request', (request) => requested.push(request.url()));
    await page.reload();
    await page.locator('.uppy-Dashboard').waitFor({ timeout: 20_000 });
    t.true(await page.locator('.uppy-Dashboard-AddFiles').isVisible());
    const link = page.locator('#upload a.destination');
    t.is(await link.getAttribute('href'), '/uploads/alice%40example.org/');
    t.is(await link.innerText(), `/${alice.folder}`);
    t.true(requested.length > 0);
    for (const address of requested) t.is(new URL(address).origin, url, address);
    t.deepEqual(problems, []);
    await screenshot(page, 'upload-area');
  } finally {
    await context.close();
  }
});

/** The parts of an upload S3 holds right now, by number. */
const partsAt = (key: string) => partsAtS3(s3, bucket, key);
/** A file of `size` deterministic bytes in the test's own folder; its SHA-256. */
const fileIn = (name: string, size: number, seed: number) => fileOf(files, name, size, seed);

/** What the browser sent to S3 itself: part numbers of UploadPart requests (PUT ...?partNumber=N&uploadId=...). */
function recordPartsSent(page: Page): number[] {
  const sent: number[] = [];
  page.on('request', (request) => {
    const address = new URL(request.url());
    if (request.method() === 'PUT' && address.origin === stack.endpoint.origin && address.searchParams.has('partNumber')) {
      sent.push(Number(address.searchParams.get('partNumber')));
    }
  });
  return sent;
}

test('a small file and a 60 MB file go up (the large one in parts), progress reaches 100 %, both appear in the listing without a reload, and download byte for byte', async (t) => {
  t.timeout(180_000);
  const small = await fileIn('notes.txt', 1_000, 1);
  const large = await fileIn('large.bin', 60_000_000, 2);
  const { context, page, problems } = await signedIn('/' + alice.folder);
  try {
    await page.locator('.uppy-Dashboard').waitFor();
    let navigations = 0;
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations += 1;
    });
    const partsSent = recordPartsSent(page);
    await recordProgress(page);
    const startedAt = Date.now();
    await page.locator('.uppy-Dashboard-input').first().setInputFiles([small.path, large.path]);
    await until('an upload in flight', async () => (await progressSeen(page)).some((p) => p > 0 && p < 100));
    await screenshot(page, 'upload-in-progress');

    await page.locator('.uppy-StatusBar.is-complete').waitFor({ timeout: 150_000 });
    const seconds = (Date.now() - startedAt) / 1000;
    t.log(`60 MB + 1 kB from the browser to S3 in ${seconds.toFixed(1)} s (${(60 / seconds).toFixed(1)} MB/s, one part at a time)`);
    const progress = await progressSeen(page);
    t.is(progress.at(-1), 100);
    t.true(progress.some((p) => p > 0 && p < 100), `progress ${JSON.stringify(progress)}`);
    t.deepEqual(progress, [...progress].sort((a, b) => a - b), 'progress only goes up');

    // The listing updates itself: both names appear on this page, which never navigated.
    for (const name of ['notes.txt', 'large.bin']) await page.locator('#listing td.name a', { hasText: name }).waitFor({ timeout: 10_000 });
    t.is(navigations, 0);
    await screenshot(page, 'upload-complete');

    // 60,000,000 bytes in 5 MiB parts: 12 of them, each sent once; at S3 the object is made of 12 parts.
    t.deepEqual([...partsSent].sort((a, b) => a - b), Array.from({ length: 12 }, (_, i) => i + 1));
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

test('a multipart upload interrupted by a reload is offered again and resumes, without sending again the parts S3 already has', async (t) => {
  t.timeout(180_000);
  const file = await fileIn('resumed.bin', 60_000_000, 3);
  const key = alice.folder + 'resumed.bin';
  const { context, page, problems } = await signedIn('/' + alice.folder);
  try {
    await page.locator('.uppy-Dashboard').waitFor();
    // About 1.5 s per 5 MiB part: time enough to reload in the middle.
    await throttleUploads(page, 3_500_000);
    const sentBefore = recordPartsSent(page);
    await page.locator('.uppy-Dashboard-input').first().setInputFiles(file.path);
    const before = await until('three parts at S3', async () => {
      const now = await partsAt(key);
      return now && now.parts.length >= 3 ? now : undefined;
    });
    await screenshot(page, 'upload-before-reload');

    const sentBeforeReload = [...sentBefore];
    await page.reload();
    const sentAfter = recordPartsSent(page);
    await throttleUploads(page, 20_000_000);
    await page.locator('.uppy-Dashboard').waitFor();
    // Uppy keeps files of up to 10 MiB in the browser; a larger one is offered again and picked again.
    await page.locator('.uppy-Dashboard-Item', { hasText: 'resumed.bin' }).waitFor({ timeout: 20_000 });
    await screenshot(page, 'upload-offered-after-reload');
    t.true(await page.getByText('Please re-select it and resume the upload.').isVisible());
    // As a person does: "Add more", pick the same file, then "Upload".
    await page.locator('.uppy-DashboardContent-addMore').click();
    await page.locator('.uppy-Dashboard-input').first().setInputFiles(file.path);
    await page.locator('.uppy-StatusBar-actionBtn--upload').click();

    await page.locator('.uppy-StatusBar.is-complete').waitFor({ timeout: 150_000 });
    await page.locator('#listing td.name a', { hasText: 'resumed.bin' }).waitFor({ timeout: 10_000 });

    t.log(`parts at S3 before the reload: ${before.parts.join(',')}; sent before it: ${sentBeforeReload.join(',')}; sent after it: ${sentAfter.join(',')}`);
    const resent = sentAfter.filter((part) => before.parts.includes(part));
    t.deepEqual(resent, [], `parts at S3 before the reload: ${before.parts.join(',')}; sent after it: ${sentAfter.join(',')}`);
    t.true(sentAfter.length > 0 && sentAfter.length <= 12 - before.parts.length, `sent after the reload: ${sentAfter.join(',')}`);
    t.true(sentBeforeReload.length >= before.parts.length);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    t.regex(String(head.ETag), /-12"$/);
    t.is(await partsAt(key), undefined, 'no multipart upload left open');
    const response = await page.request.get(`${url}/${key}`);
    t.is(sha256Of(await response.body()), file.sha256);
    t.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('cancelling an upload in the middle leaves no object and no incomplete multipart upload in S3', async (t) => {
  t.timeout(120_000);
  const file = await fileIn('cancelled.bin', 60_000_000, 4);
  const key = alice.folder + 'cancelled.bin';
  const { context, page, problems } = await signedIn('/' + alice.folder);
  try {
    await page.locator('.uppy-Dashboard').waitFor();
    await throttleUploads(page, 3_500_000);
    await page.locator('.uppy-Dashboard-input').first().setInputFiles(file.path);
    const started = await until('a part at S3', async () => {
      const now = await partsAt(key);
      return now && now.parts.length >= 1 ? now : undefined;
    });
    await screenshot(page, 'upload-before-cancel');
    await page.locator('.uppy-StatusBar-actionCircleBtn[aria-label="Cancel"]').click();

    // The page asks the proxy to abort; S3 then has neither the upload nor an object.
    await until('the multipart upload aborted at S3', async () => (await partsAt(key)) === undefined, 20_000);
    // (other tests of this file upload at the same time, under other names)
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
    t.deepEqual((uploads.Uploads ?? []).map((u) => u.UploadId), [], `the upload ${started.uploadId} is gone, and no other of that name is open`);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(
      () => 'exists',
      (error: { name?: string }) => error.name,
    );
    t.is(head, 'NotFound');
    t.is(await page.locator('.uppy-Dashboard-Item').count(), 0, 'the Dashboard no longer holds the file');
    t.false((await page.locator('#listing').innerText()).includes('cancelled.bin'));
    t.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('a file over the size limit and a file of a type not allowed are refused by the page before a byte is sent', async (t) => {
  // sparse: one byte over UPLOAD_MAX_BYTES without writing 64 MiB
  const tooLarge = join(files, 'too-large.bin');
  const handle = await open(tooLarge, 'w');
  await handle.truncate(maxBytes + 1);
  await handle.close();
  const wrongType = join(files, 'slides.pdf');
  await writeFile(wrongType, '%PDF-1.4\n');
  const { context, page } = await signedIn('/' + alice.folder);
  try {
    await page.locator('.uppy-Dashboard').waitFor();
    const sent: string[] = [];
    page.on('request', (request) => {
      const address = new URL(request.url());
      if (address.origin === stack.endpoint.origin || address.pathname.startsWith('/__s3proxy/s3') || address.pathname.startsWith('/__s3proxy/uploads')) {
        sent.push(`${request.method()} ${request.url()}`);
      }
    });
    const informer = page.locator('.uppy-Informer');

    await page.locator('.uppy-Dashboard-input').first().setInputFiles(tooLarge);
    await informer.getByText(/exceeds maximum allowed size of 64 MB/).first().waitFor({ timeout: 10_000 });
    await screenshot(page, 'upload-refused-size');
    await page.locator('.uppy-Dashboard-input').first().setInputFiles(wrongType);
    await informer.getByText(/You can only upload: text\/plain, application\/octet-stream, image\/\*/).first().waitFor({ timeout: 10_000 });

    t.is(await page.locator('.uppy-Dashboard-Item').count(), 0, 'neither file was taken');
    // give a wrongly started upload time to show itself
    await page.waitForTimeout(1_000);
    t.deepEqual(sent, []);
    for (const name of ['too-large.bin', 'slides.pdf']) {
      const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: alice.folder + name }));
      t.deepEqual(uploads.Uploads ?? [], [], name);
      t.false((await page.locator('#listing').innerText()).includes(name), name);
    }
  } finally {
    await context.close();
  }
});

test("the listing's Sign out button signs out with one click, and the listing then asks for sign-in again", async (t) => {
  const { context, page } = await signedIn('/reports/');
  try {
    t.is(await page.locator('header.session .user').innerText(), 'Signed in as Alice Example (alice@example.org)');
    await page.locator('header.session button', { hasText: 'Sign out' }).click();
    await page.waitForURL((address) => address.origin === issuer.issuer || address.pathname === '/__s3proxy/signed-out', { timeout: 30_000 });
    // The provider asks before ending its own session; a person clicks "Yes".
    const confirm = page.locator('#logout-yes');
    if (await confirm.isVisible()) await confirm.click();
    await page.waitForURL(`${url}/__s3proxy/signed-out`, { timeout: 30_000 });
    t.is((await page.request.get(`${url}/__s3proxy/me`)).status(), 401);
    await page.goto(`${url}/reports/`);
    await page.locator('#login-form').waitFor();
    t.is(new URL(page.url()).origin, issuer.issuer);
  } finally {
    await context.close();
  }
});
