// A long mixed load: small and medium objects, ranges, misses and strangers
// from wrk, plus downloads abandoned half-way and slow readers that come and
// go. Leaks show as RSS or descriptors that keep climbing.
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { startSampler, type MemorySample } from './proc.ts';
import { runWrk, type WrkResult } from './wrk.ts';
import { objects } from './fixtures.ts';

export interface SoakOptions {
  proxyUrl: string;
  pid: number;
  cookie: string;
  minutes: number;
  workDir: string;
  sampleEveryS?: number;
  say: (line: string) => void;
}

export interface Trend {
  first: number;
  last: number;
  max: number;
  /** median of the last quarter of samples against the median of the first quarter */
  growthPercent: number;
}

export interface SoakResult {
  minutes: number;
  samples: MemorySample[];
  rssMb: Trend;
  fds: Trend;
  wrk: WrkResult;
  abandonedDownloads: number;
  slowReaders: number;
  sideErrors: Record<string, number>;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

export function trend(values: number[]): Trend {
  const quarter = Math.max(1, Math.floor(values.length / 4));
  const start = median(values.slice(0, quarter));
  const end = median(values.slice(-quarter));
  return {
    first: values[0]!,
    last: values.at(-1)!,
    max: Math.max(...values),
    growthPercent: Math.round(((end - start) / start) * 1000) / 10,
  };
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const headers = { cookie: options.cookie };
  const durationMs = options.minutes * 60_000;
  const deadline = performance.now() + durationMs;
  const sideErrors: Record<string, number> = {};
  const countError = (error: Error) => {
    const code = (error as NodeJS.ErrnoException).code ?? error.message;
    sideErrors[code] = (sideErrors[code] ?? 0) + 1;
  };
  let abandoned = 0;
  let slowReaders = 0;

  /** Reads `bytes` of the large object at `rate` bytes/s (Infinity: as fast as it comes), then leaves. */
  const download = (bytes: number, rate: number) =>
    new Promise<void>((resolve) => {
      const request = http.get(`${options.proxyUrl}/${objects.large.key}`, { headers, agent: false }, (response) => {
        const started = performance.now();
        let received = 0;
        response.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received >= bytes) {
            request.destroy();
            return resolve();
          }
          const allowed = (rate * (performance.now() - started)) / 1000;
          if (received > allowed) {
            response.pause();
            setTimeout(() => response.resume(), ((received - allowed) / rate) * 1000);
          }
        });
        response.on('error', () => resolve());
        response.on('end', resolve);
      });
      request.on('error', (error) => {
        countError(error);
        resolve();
      });
    });

  const abandoner = (async () => {
    while (performance.now() < deadline) {
      await download(5 * 1024 * 1024, Infinity);
      abandoned += 1;
      await sleep(500);
    }
  })();
  const slow = Array.from({ length: 20 }, async (_, i) => {
    await sleep(i * 250);
    while (performance.now() < deadline - 2_000) {
      const seconds = 5 + Math.random() * 10;
      await download(Math.min(seconds, (deadline - performance.now()) / 1000) * 100_000, 100_000);
      slowReaders += 1;
    }
  });

  const sampler = startSampler(options.pid, (options.sampleEveryS ?? 10) * 1000);
  const progress = setInterval(() => {
    const s = sampler.samples.at(-1);
    if (s) options.say(`soak: ${Math.round(s.atMs / 1000)} s, RSS ${(s.rssBytes / 1048576).toFixed(1)} MB, ${s.fds} fds`);
  }, 60_000);

  const key = (k: string) => `/${k}`;
  const wrk = await runWrk(
    {
      url: options.proxyUrl,
      connections: 8,
      threads: 1,
      durationS: Math.round(durationMs / 1000),
      timeoutS: 30,
      headers,
      requests: [
        ...Array.from({ length: 6 }, () => ({ path: key(objects.small.key) })),
        { path: key(objects.medium.key) },
        { path: key(objects.medium.key), headers: { range: 'bytes=1000-99999' } },
        { path: key(objects.large.key), headers: { range: 'bytes=52428800-52494335' } },
        { path: '/no-such-object.bin' },
        { path: key(objects.small.key), bare: true },
        { path: key(objects.small.key), headers: { 'if-none-match': '"not-the-etag"' } },
      ],
    },
    options.workDir,
  );
  clearInterval(progress);
  await Promise.all([abandoner, ...slow]);
  // The first sample is the idle proxy; the trend starts once the load runs.
  const samples = sampler.stop().filter((s, i) => i > 0 && s.atMs <= durationMs + 1_000);
  if (samples.length < 2) throw new Error('the soak was too short to sample twice');
  return {
    minutes: options.minutes,
    samples,
    rssMb: trend(samples.map((s) => Math.round((s.rssBytes / 1048576) * 10) / 10)),
    fds: trend(samples.map((s) => s.fds)),
    wrk,
    abandonedDownloads: abandoned,
    slowReaders,
    sideErrors,
  };
}
