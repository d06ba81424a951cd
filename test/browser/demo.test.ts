// `./demo.sh` as a person runs it: it prints a URL and credentials, a browser
// signs in with them and plays the video, and Ctrl-C leaves nothing behind.
// It runs inside the test stack (S3_TEST_ENDPOINT, REDIS_TEST_URL), so it
// starts neither S3 nor Redis.
import test from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { freePort } from '../support/free-port.ts';
import { launchBrowser, signInAtIssuer, type PageGlobals } from './browser.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

const refusesConnections = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });

const groupIsGone = (pgid: number): boolean => {
  try {
    process.kill(-pgid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
};

test('the demo prints a URL and credentials that sign in and play the video, and Ctrl-C stops all it started', async (t) => {
  t.timeout(240_000);
  const port = await freePort();
  // Its own process group, as in a terminal: Ctrl-C signals the whole group.
  const demo = spawn('./demo.sh', [], {
    cwd: repoRoot,
    env: { ...process.env, DEMO_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const exited = once(demo, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  let out = '';
  let err = '';
  demo.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  demo.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const pgid = demo.pid!;

  try {
    const printed = await new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed within 180 s\nstdout: ${out}\nstderr: ${err}`)), 180_000);
      const check = () => {
        const match = /Open\s+(\S+)\s+Sign in\s+(\S+) \/ (\S+)/.exec(out);
        if (!match) return;
        clearTimeout(timer);
        resolve(match);
      };
      demo.stdout!.on('data', check);
      void exited.then(() => reject(new Error(`demo.sh exited early\nstdout: ${out}\nstderr: ${err}`)));
    });
    const [, url, username, password] = printed as unknown as [string, string, string, string];
    t.is(url, `http://localhost:${port}/`);
    const issuerPort = Number(/OpenID provider\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1]);

    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(url);
      await signInAtIssuer(page, username, password);
      await page.waitForURL(url, { timeout: 30_000 });
      t.true((await page.locator('td.name a').allInnerTexts()).includes('media/'));

      const videoUrl = /Video\s+(\S+)/.exec(out)?.[1] ?? `${url}media/video.webm`;
      await page.goto(videoUrl);
      const duration = await page.evaluate(async () => {
        const element = (globalThis as unknown as PageGlobals).document.querySelector('video');
        if (!element) throw new Error('no <video> on the page');
        element.muted = true;
        await element.play();
        return element.duration;
      });
      t.true(Math.abs(duration - 60) < 1, `duration ${duration}`);
    } finally {
      await browser.close();
    }

    process.kill(-pgid, 'SIGINT');
    let timer: NodeJS.Timeout | undefined;
    const [code, signal] = await Promise.race([
      exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`demo.sh still running 30 s after SIGINT\nstdout: ${out}`)), 30_000);
      }),
    ]).finally(() => clearTimeout(timer));
    t.is(code, 0, `signal ${signal}\nstderr: ${err}`);
    t.true(groupIsGone(pgid), 'no process of the demo is left');
    t.true(await refusesConnections(port), 'the proxy stopped listening');
    t.true(await refusesConnections(issuerPort), 'the OpenID provider stopped listening');
  } finally {
    if (!groupIsGone(pgid)) process.kill(-pgid, 'SIGKILL');
  }
});
