// An HTML file from the bucket, opened in a real browser: its own images load
// (the session cookie goes with them), its scripts never run on this origin.
import test from 'ava';
import { readFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { fixturePath, launchBrowser, signInAtIssuer, startBrowserStack, type BrowserStack } from './browser.ts';

let stack: BrowserStack;
let browser: Browser;

const page = `<!doctype html><html><head><title>untouched</title></head><body>
<img id="chart" src="chart.png" alt="chart">
<script>document.title = 'script ran'</script>
<img src="missing.png" onerror="document.title = 'handler ran'">
</body></html>`;

test.before(async () => {
  stack = await startBrowserStack('bucket-html', [
    { key: 'reports/q3.html', body: page, type: 'text/html' },
    { key: 'reports/chart.png', body: readFileSync(fixturePath('sample.png')), type: 'image/png' },
  ]);
  browser = await launchBrowser();
});

test.after.always(async () => {
  await browser?.close();
  await stack?.close();
});

test('an HTML page from the bucket shows its own images but none of its scripts run', async (t) => {
  const context = await browser.newContext();
  try {
    const tab = await context.newPage();
    const url = `${stack.url}/reports/q3.html`;
    await tab.goto(url);
    await tab.locator('#login-form').waitFor();
    await signInAtIssuer(tab, 'alice', 'wonderland');
    await tab.waitForURL(url, { timeout: 30_000 });
    await tab.waitForLoadState('load');
    const image = (await tab.evaluate(`(() => { const i = document.getElementById('chart'); return { complete: i.complete, width: i.naturalWidth }; })()`)) as { complete: boolean; width: number };
    t.true(image.complete);
    t.true(image.width > 0, 'the image from the bucket rendered');
    t.is(await tab.title(), 'untouched');
  } finally {
    await context.close();
  }
});
