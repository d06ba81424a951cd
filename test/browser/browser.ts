// A real Chromium for end-to-end tests (the Debian package, never a
// downloaded browser), a record of what went over the network, and the
// proxy + OpenID provider + bucket the browser tests sign in through.
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { chromium, type Browser, type CDPSession, type Page } from 'playwright-core';
import { freePort } from '../support/free-port.ts';
import { startOidcIssuer, type OidcIssuer } from '../support/oidc-issuer.ts';
import { proxyEnv } from '../support/proxy-env.ts';
import { startProxy, type ProxyProcess } from '../support/proxy-process.ts';
import { createBucket, putObject, s3Stack, type S3Stack } from '../support/s3-fixtures.ts';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

// Without the networking flags Chromium's background connections (updates,
// sync, QUIC probes) are refused in CI sandboxes and slow everything down.
export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const screenshotDir = join(repoRoot, '.test-artifacts', 'screenshots');
export const fixturePath = (name: string): string => join(repoRoot, 'test', 'fixtures', name);

/** launch() gives every browser a fresh temporary profile of its own. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs, timeout: 60_000 });
}

/**
 * The page-side globals the tests use inside page.evaluate, typed by hand:
 * the project compiles without the DOM library.
 */
export interface PageGlobals {
  document: { querySelector(selector: 'video'): VideoElement | null };
}
export interface VideoElement {
  muted: boolean;
  currentTime: number;
  readonly duration: number;
  readonly readyState: number;
  play(): Promise<void>;
  addEventListener(type: string, listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: string, listener: () => void): void;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

export interface RecordedResponse {
  url: string;
  method: string;
  status: number;
  resourceType: string;
  /** the Range header the browser sent, if any */
  range: string | undefined;
  contentRange: string | undefined;
  at: number;
}

/** Every response the page receives, in order of arrival. */
export function recordResponses(page: Page): RecordedResponse[] {
  const recorded: RecordedResponse[] = [];
  page.on('response', (response) => {
    const request = response.request();
    const headers = response.headers();
    recorded.push({
      url: response.url(),
      method: request.method(),
      status: response.status(),
      resourceType: request.resourceType(),
      range: request.headers().range,
      contentRange: headers['content-range'],
      at: Date.now(),
    });
  });
  return recorded;
}

export interface Transfer {
  url: string;
  range: string | undefined;
  status?: number;
  /** body bytes that reached the renderer (what a user actually waited for) */
  received: number;
}

/**
 * Body bytes per request as the DevTools protocol sees them arrive. Media
 * requests are cancelled half-way when a player seeks, which Playwright's
 * own per-request sizes do not report.
 */
export async function recordTransfers(page: Page): Promise<{ transfers: Map<string, Transfer>; cdp: CDPSession }> {
  const cdp = await page.context().newCDPSession(page);
  const transfers = new Map<string, Transfer>();
  cdp.on('Network.requestWillBeSent', (event) => {
    const headers = event.request.headers as Record<string, string>;
    const range = Object.entries(headers).find(([name]) => name.toLowerCase() === 'range')?.[1];
    transfers.set(event.requestId, { url: event.request.url, range, received: 0 });
  });
  cdp.on('Network.responseReceived', (event) => {
    const transfer = transfers.get(event.requestId);
    if (transfer) transfer.status = event.response.status;
  });
  cdp.on('Network.dataReceived', (event) => {
    const transfer = transfers.get(event.requestId);
    if (transfer) transfer.received += event.dataLength;
  });
  await cdp.send('Network.enable');
  return { transfers, cdp };
}

/** On the provider's own login page: types the credentials and submits, as a person does. */
export async function signInAtIssuer(page: Page, username: string, password: string): Promise<void> {
  const form = page.locator('#login-form');
  await form.waitFor({ state: 'visible', timeout: 30_000 });
  await form.locator('input[name="username"]').fill(username);
  await form.locator('input[name="password"]').fill(password);
  await form.locator('button[type="submit"]').click();
}

export interface BrowserStack {
  stack: S3Stack;
  bucket: string;
  issuer: OidcIssuer;
  proxy: ProxyProcess;
  /** http://localhost:PORT: another host than the issuer's 127.0.0.1, so their cookies stay apart as on real sites */
  url: string;
  close(): Promise<void>;
}

/**
 * A bucket seeded with `objects`, an OpenID provider with the proxy's
 * redirect URIs registered, and the built proxy on a port known up front.
 */
export async function startBrowserStack(
  bucketPrefix: string,
  objects: Array<{ key: string; body: Buffer | string; type: string }>,
): Promise<BrowserStack> {
  const stack = s3Stack();
  const bucket = await createBucket(stack, bucketPrefix);
  for (const object of objects) await putObject(stack, bucket, object.key, object.body, object.type);
  const port = await freePort();
  const url = `http://localhost:${port}`;
  const issuer = await startOidcIssuer({
    clientId: 's3proxy-browser',
    clientSecret: 'browser-test-client-secret',
    redirectUris: [`${url}/__redirect_from_sso`],
    postLogoutRedirectUris: [`${url}/__s3proxy/signed-out`],
  });
  let proxy: ProxyProcess;
  try {
    proxy = await startProxy(
      proxyEnv(stack, {
        bucket,
        sso: { mode: 'oidc', issuer: issuer.issuer, clientId: issuer.clientId, clientSecret: issuer.clientSecret },
        extra: { PORT: String(port) },
      }),
      { timeoutMs: 30_000 },
    );
  } catch (error) {
    await issuer.close();
    throw error;
  }
  return {
    stack,
    bucket,
    issuer,
    proxy,
    url,
    async close() {
      await proxy.stop();
      await issuer.close();
    },
  };
}
