// What the upload page's browser tests share: a signed-in page on a
// listing, Uppy's progress as the page saw it, files of known bytes, the
// parts S3 holds (asked of S3), and Chromium's own upload throttling.
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ListMultipartUploadsCommand, ListPartsCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { signInAtIssuer } from './browser.ts';
import { patternBytes } from '../support/s3-fixtures.ts';

export interface SignedInPage {
  context: BrowserContext;
  page: Page;
  /** console errors (CSP refusals among them) and script errors */
  problems: string[];
}

/** A fresh browser profile, signed in at the provider's page, on the listing at `url` + `path`. */
export async function signedInPage(browser: Browser, url: string, path: string, user: { username: string; password: string }): Promise<SignedInPage> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    // the browser's own favicon request (of the provider's page too) is no part of the page
    if (message.type() === 'error' && !message.location().url.endsWith('/favicon.ico')) problems.push(`${message.text()} ${message.location().url}`);
  });
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(url + path);
  await signInAtIssuer(page, user.username, user.password);
  await page.waitForURL(url + path, { timeout: 30_000 });
  return { context, page, problems };
}

/** The page's own record of Uppy's total progress, kept in the page from now on. */
export async function recordProgress(page: Page): Promise<void> {
  await page.evaluate(() => {
    const g = globalThis as unknown as { s3proxyUppy: { on(event: string, f: (p: number) => void): void }; progressSeen: number[] };
    g.progressSeen = [];
    g.s3proxyUppy.on('progress', (p) => g.progressSeen.push(p));
  });
}

export async function progressSeen(page: Page): Promise<number[]> {
  return page.evaluate(() => (globalThis as unknown as { progressSeen: number[] }).progressSeen);
}

export async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** A file of `size` deterministic bytes in `dir`; its path and SHA-256. */
export async function fileOf(dir: string, name: string, size: number, seed: number): Promise<{ path: string; sha256: string }> {
  const path = join(dir, name);
  const bytes = patternBytes(size, seed);
  await writeFile(path, bytes);
  return { path, sha256: createHash('sha256').update(bytes).digest('hex') };
}

export const sha256Of = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** The parts of the upload at `key` that S3 holds right now, by number; undefined when none is open. */
export async function partsAtS3(s3: S3Client, bucket: string, key: string): Promise<{ uploadId: string; parts: number[] } | undefined> {
  const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
  const upload = (uploads.Uploads ?? []).find((u) => u.Key === key);
  if (!upload?.UploadId) return undefined;
  // aborted between the two questions: RGW says NoSuchKey, AWS NoSuchUpload
  const listed = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: upload.UploadId })).catch((error: { name?: string }) => {
    if (error.name === 'NoSuchUpload' || error.name === 'NoSuchKey') return undefined;
    throw error;
  });
  if (!listed) return undefined;
  return { uploadId: upload.UploadId, parts: (listed.Parts ?? []).map((part) => part.PartNumber!).sort((a, b) => a - b) };
}

/** Chromium's own upload throttling, so that a large upload lasts long enough to interrupt. */
export async function throttleUploads(page: Page, bytesPerSecond: number): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: bytesPerSecond });
}
