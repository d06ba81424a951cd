// Signing in and out with a real Chromium, through the OpenID provider's own
// login page, the way a person does it.
import test from 'ava';
import type { Browser } from 'playwright-core';
import { launchBrowser, recordResponses, screenshot, signInAtIssuer, startBrowserStack, type BrowserStack } from './browser.ts';

let stack: BrowserStack;
let browser: Browser;

test.before(async () => {
  stack = await startBrowserStack('browser-sign-in', [
    { key: 'notes/first.txt', body: 'the first object', type: 'text/plain' },
    { key: 'notes/second.txt', body: 'the second object', type: 'text/plain' },
    { key: 'report.txt', body: 'quarterly report', type: 'text/plain' },
    { key: 'docs/a.txt', body: 'a', type: 'text/plain' },
    { key: 'docs/b.txt', body: 'b', type: 'text/plain' },
  ]);
  browser = await launchBrowser();
});

test.after.always(async () => {
  await browser?.close();
  await stack?.close();
});

test("a person signs in on the provider's login page and lands on the object they asked for", async (t) => {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const responses = recordResponses(page);
    const objectUrl = `${stack.url}/report.txt`;

    await page.goto(objectUrl);
    await page.locator('#login-form').waitFor();
    t.is(new URL(page.url()).origin, stack.issuer.issuer, 'the login page is the provider’s own');
    await screenshot(page, 'sign-in-page');

    await signInAtIssuer(page, 'alice', 'wonderland');
    await page.waitForURL(objectUrl, { timeout: 30_000 });
    t.is(page.url(), objectUrl);
    t.is((await page.locator('body').innerText()).trim(), 'quarterly report');

    const documents = responses.filter((response) => response.resourceType === 'document');
    t.is(documents[0]?.url, objectUrl);
    t.is(documents[0]?.status, 302, 'without a session the object is not served');
    t.true(documents.some((response) => response.url.startsWith(`${stack.url}/__redirect_from_sso?`) && response.status === 302));
    t.is(documents.at(-1)?.status, 200);
    t.deepEqual(stack.issuer.loginAttempts.filter((attempt) => attempt.username === 'alice').at(-1), { username: 'alice', ok: true });
  } finally {
    await context.close();
  }
});

test('two tabs starting sign-in at the same moment each end on their own object', async (t) => {
  const context = await browser.newContext();
  try {
    const [first, second] = await Promise.all([context.newPage(), context.newPage()]);
    const firstUrl = `${stack.url}/notes/first.txt`;
    const secondUrl = `${stack.url}/notes/second.txt`;

    await Promise.all([first.goto(firstUrl), second.goto(secondUrl)]);
    // Both tabs sit on a login page of their own before either signs in.
    await Promise.all([first.locator('#login-form').waitFor(), second.locator('#login-form').waitFor()]);
    await Promise.all([signInAtIssuer(first, 'alice', 'wonderland'), signInAtIssuer(second, 'alice', 'wonderland')]);
    // Either tab may go wrong; wait for both to settle so a failure shows where each ended.
    await Promise.allSettled([first.waitForURL(firstUrl, { timeout: 20_000 }), second.waitForURL(secondUrl, { timeout: 20_000 })]);

    t.is(first.url(), firstUrl, await first.locator('body').innerText());
    t.is((await first.locator('body').innerText()).trim(), 'the first object');
    t.is(second.url(), secondUrl, await second.locator('body').innerText());
    t.is((await second.locator('body').innerText()).trim(), 'the second object');
  } finally {
    await context.close();
  }
});

test('signing out with the button on the sign-out page ends on the signed-out page and the object then asks for sign-in again', async (t) => {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const objectUrl = `${stack.url}/report.txt`;
    await page.goto(objectUrl);
    await signInAtIssuer(page, 'bob', 'builder');
    await page.waitForURL(objectUrl, { timeout: 30_000 });
    const endSessionsBefore = stack.issuer.endSessionCalls;

    await page.goto(`${stack.url}/__s3proxy/logout`);
    // Opening the page signs no one out: the button does.
    const stillIn = await page.request.get(`${stack.url}/__s3proxy/me`);
    t.is(stillIn.status(), 200);
    await page.locator('#sign-out').click();
    await page.waitForURL((url) => url.origin === stack.issuer.issuer || url.pathname === '/__s3proxy/signed-out', { timeout: 30_000 });
    // The provider asks before ending its own session; a person clicks "Yes".
    const confirm = page.locator('#logout-yes');
    if (await confirm.isVisible()) await confirm.click();
    await page.waitForURL(`${stack.url}/__s3proxy/signed-out`, { timeout: 30_000 });
    t.is(await page.locator('h1').innerText(), 'You have signed out');
    t.is(stack.issuer.endSessionCalls, endSessionsBefore + 1, 'the provider’s session ended too');

    const responses = recordResponses(page);
    await page.goto(objectUrl);
    await page.locator('#login-form').waitFor();
    t.is(new URL(page.url()).origin, stack.issuer.issuer);
    t.is(responses.find((response) => response.url === objectUrl)?.status, 302);
    t.false((await page.content()).includes('quarterly report'));

    const me = await page.request.get(`${stack.url}/__s3proxy/me`);
    t.is(me.status(), 401);
  } finally {
    await context.close();
  }
});

test('the signed-in identity page shows who is signed in', async (t) => {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const meUrl = `${stack.url}/__s3proxy/me`;
    await page.goto(`${stack.url}/report.txt`);
    await signInAtIssuer(page, 'alice', 'wonderland');
    await page.waitForURL(`${stack.url}/report.txt`, { timeout: 30_000 });

    const response = await page.goto(meUrl);
    t.is(response?.status(), 200);
    t.deepEqual(JSON.parse(await page.locator('body').innerText()), { email: 'alice@example.org', name: 'Alice Example', id: 'alice-sub' });
  } finally {
    await context.close();
  }
});

test('a folder listing shows what is in the bucket and its links open the next folder', async (t) => {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${stack.url}/`);
    await signInAtIssuer(page, 'alice', 'wonderland');
    await page.waitForURL(`${stack.url}/`, { timeout: 30_000 });

    const names = await page.locator('td.name a').allInnerTexts();
    for (const name of ['docs/', 'notes/', 'report.txt']) t.true(names.includes(name), `${name} in ${JSON.stringify(names)}`);
    await screenshot(page, 'folder-listing');

    await page.locator('td.name a', { hasText: 'notes/' }).click();
    await page.waitForURL(`${stack.url}/notes/`);
    t.deepEqual((await page.locator('td.name a').allInnerTexts()).filter((name) => !name.includes('Parent')), ['first.txt', 'second.txt']);
    await page.locator('td.name a', { hasText: 'second.txt' }).click();
    await page.waitForURL(`${stack.url}/notes/second.txt`);
    t.is((await page.locator('body').innerText()).trim(), 'the second object');
  } finally {
    await context.close();
  }
});
