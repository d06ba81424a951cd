// A video in the bucket plays in Chromium through the proxy, and seeking near
// its end resumes at once with a range request there, without the browser
// first fetching what lies in between.
import test from 'ava';
import { readFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { fixturePath, launchBrowser, recordResponses, recordTransfers, screenshot, signInAtIssuer, startBrowserStack, type BrowserStack, type PageGlobals } from './browser.ts';

const video = readFileSync(fixturePath('video.webm'));

let stack: BrowserStack;
let browser: Browser;

test.before(async () => {
  stack = await startBrowserStack('browser-video', [{ key: 'media/video.webm', body: video, type: 'video/webm' }]);
  browser = await launchBrowser();
});

test.after.always(async () => {
  await browser?.close();
  await stack?.close();
});

/** `bytes=N-` or `bytes=N-M`: where a request starts. */
const rangeStart = (range: string | undefined): number | undefined => {
  const match = /^bytes=(\d+)-/.exec(range ?? '');
  return match ? Number(match[1]) : undefined;
};

test('seeking near the end of a video resumes playback there without downloading the middle', async (t) => {
  // HTML objects are served with `Content-Security-Policy: sandbox`, whose
  // opaque origin keeps the Lax session cookie off an embedded <video>; the
  // video's own URL gives Chromium's player page, which is what a link to it opens.
  const videoUrl = `${stack.url}/media/video.webm`;
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const responses = recordResponses(page);
    const { transfers, cdp } = await recordTransfers(page);
    // On loopback the whole file would arrive before any seek; a slow link
    // (about 16 KB/s: the file takes 14 s) is where a seek must not wait for it.
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: 16_000, uploadThroughput: 64_000 });

    await page.goto(videoUrl);
    await signInAtIssuer(page, 'alice', 'wonderland');
    await page.waitForURL(videoUrl, { timeout: 30_000 });

    // Every object is served with `Content-Security-Policy: sandbox`, so no
    // script callback (event listener, timer) runs in the player's page, ours
    // included: the test sets the player from here and polls it from here.
    const duration = await page.evaluate(async () => {
      const element = (globalThis as unknown as PageGlobals).document.querySelector('video');
      if (!element) throw new Error('no <video> on the page');
      element.muted = true;
      // play() resolves once playback has begun, so the metadata is there.
      await element.play();
      return element.duration;
    });
    t.true(Math.abs(duration - 60) < 1, `duration ${duration}`);

    const seekTo = duration - 3;
    const started = Date.now();
    await page.evaluate((target) => {
      (globalThis as unknown as PageGlobals).document.querySelector('video')!.currentTime = target;
    }, seekTo);
    // Past the seek point means frames there were decoded and played, not just the position set.
    let resumedAt = 0;
    while (Date.now() - started < 8_000) {
      resumedAt = await page.evaluate(() => (globalThis as unknown as PageGlobals).document.querySelector('video')!.currentTime);
      if (resumedAt >= seekTo + 0.25) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const seek = { resumedAt, ms: Date.now() - started };
    t.true(seek.resumedAt >= seekTo + 0.25, `no progress past ${seekTo} s; at ${seek.resumedAt} s`);
    t.log(`playback resumed at ${seek.resumedAt.toFixed(2)} s, ${Math.round(seek.ms)} ms after the seek`);
    t.true(seek.ms < 8_000);
    await screenshot(page, 'video');

    const media = responses.filter((response) => response.url === videoUrl && response.resourceType === 'media');
    t.true(media.length >= 2, 'the player asked for more than one range');
    for (const response of media) {
      t.is(response.status, 206, response.range);
      t.regex(response.contentRange ?? '', new RegExp(`^bytes \\d+-\\d+/${video.length}$`));
    }
    const served206 = stack.proxy.logs().filter((line) => line.msg === 'request' && line.path === '/media/video.webm' && line.status === 206);
    t.true(served206.length >= 2, 'the proxy answered the ranges with 206');

    // What arrived, as intervals of the file: the seek jumped past the middle.
    const received = [...transfers.values()]
      .filter((transfer) => transfer.url === videoUrl && rangeStart(transfer.range) !== undefined)
      .map((transfer) => ({ start: rangeStart(transfer.range)!, end: rangeStart(transfer.range)! + transfer.received }));
    const middle = Math.floor(video.length / 2);
    t.true(
      received.some((interval) => interval.start > middle),
      `a range request started past the middle: ${JSON.stringify(received)}`,
    );
    t.false(
      received.some((interval) => interval.start <= middle && interval.end > middle),
      `the middle of the file was never fetched: ${JSON.stringify(received)}`,
    );
    const total = received.reduce((sum, interval) => sum + interval.end - interval.start, 0);
    t.true(total < video.length * 0.75, `${total} of ${video.length} bytes fetched`);
  } finally {
    await context.close();
  }
});
