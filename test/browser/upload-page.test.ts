// Uploading from a folder listing with a real Chromium, through the real
// OpenID provider's login page, to the real S3 server, with the bytes going
// from the browser to S3 directly (UPLOAD_DATA_PATH=direct, the default).
// What S3 holds is asked of S3 (ListMultipartUploads, ListParts, GetObject
// through the proxy), never of the proxy's own state or logs.
import test from 'ava';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { AbortMultipartUploadCommand, ListMultipartUploadsCommand, ListPartsCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, screenshot, signInAtIssuer } from './browser.ts';
import { freePort } from '../support/free-port.ts';
import { startOidcIssuer, type OidcIssuer } from '../support/oidc-issuer.ts';
import { proxyEnv } from '../support/proxy-env.ts';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { createBucket, patternBytes, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { allowBrowserUploads, sdkClient } from '../support/upload-cors.ts';

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
