// Large downloads, `connections` at a time, by curl (C, like wrk, so the
// load generator takes little of a small machine), with every body's status
// and byte count checked: wrk counts bytes only in total. Each connection is
// a curl reading the same URL 50 times on one kept-alive connection (a new
// curl when it is done; curl reads long config files slowly) until the time
// is up; the headers (a session cookie) travel in a config file of mode 600,
// never on a command line.
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CurlLoadOptions {
  url: string;
  connections: number;
  durationS: number;
  headers?: Record<string, string>;
  /** every body must be exactly this long */
  expectBytes: number;
}

export interface CurlLoadResult {
  connections: number;
  /** wall time of the run */
  durationS: number;
  /** complete downloads, good or not */
  transfers: number;
  /** bodies of status 200 and exactly `expectBytes` */
  good: number;
  /** every other outcome, by `status size` */
  bad: Record<string, number>;
  /** body bytes of the complete downloads */
  bytes: number;
  /** sum over connections of each one's bytes over its busy time (a download cut at the end counts for neither) */
  mbPerS: number;
  transferMs: { p50: number; min: number; max: number };
}

const quote = (value: string) => `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export async function runCurlLoad(options: CurlLoadOptions, workDir: string): Promise<CurlLoadResult> {
  const config = join(workDir, `curl-${process.pid}-${Date.now()}.conf`);
  // on standard error, which curl does not buffer: a line as each download ends (standard output would hold them to the end)
  const lines = ['silent', 'show-error', 'no-buffer', `write-out = ${quote('%{stderr}%{http_code} %{size_download} %{time_total}\\n')}`];
  for (const [name, value] of Object.entries(options.headers ?? {})) lines.push(`header = ${quote(`${name}: ${value}`)}`);
  for (let i = 0; i < 50; i += 1) lines.push(`url = ${quote(options.url)}`, 'output = "/dev/null"');
  writeFileSync(config, lines.join('\n') + '\n', { mode: 0o600 });

  const perConnection: Array<{ bytes: number; seconds: number }> = [];
  const durations: number[] = [];
  const bad: Record<string, number> = {};
  let transfers = 0;
  let good = 0;
  let bytes = 0;
  const started = performance.now();
  try {
    let stopping = false;
    const running = new Set<ReturnType<typeof spawn>>();
    const worker = async (mine: { bytes: number; seconds: number }) => {
      while (!stopping) {
        const child = spawn('curl', ['--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
        running.add(child);
        let partial = '';
        let stderr = '';
        child.stdout.resume();
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
          const got = (partial + chunk).split('\n');
          partial = got.pop() ?? '';
          for (const line of got) {
            const fields = /^(\d{3}) (\d+) ([\d.]+)$/.exec(line.trim());
            if (!fields) {
              if (stderr.length < 4096) stderr += line + '\n';
              continue;
            }
            const [, status, size, total] = fields;
            const n = Number(size);
            transfers += 1;
            durations.push(Number(total) * 1000);
            if (status === '200' && n === options.expectBytes) {
              good += 1;
              bytes += n;
              mine.bytes += n;
              mine.seconds += Number(total);
            } else {
              bad[`${status} ${size}`] = (bad[`${status} ${size}`] ?? 0) + 1;
            }
          }
        });
        await new Promise<void>((resolve, reject) => {
          child.once('error', reject);
          child.once('close', (code, signal) => {
            running.delete(child);
            // SIGTERM is how a run ends; anything else is a failed load generator
            if (signal === 'SIGTERM' || code === 0) resolve();
            else reject(new Error(`curl exited ${code ?? signal}: ${stderr.trim().slice(0, 300)}`));
          });
        });
      }
    };
    const workers = Array.from({ length: options.connections }, () => {
      const mine = { bytes: 0, seconds: 0 };
      perConnection.push(mine);
      return worker(mine);
    });
    await new Promise((resolve) => setTimeout(resolve, options.durationS * 1000));
    // A run shorter than one download would measure nothing: wait for one per connection (at most 2 minutes, not once all fail).
    const deadline = performance.now() + 120_000;
    while (perConnection.some((c) => c.seconds === 0) && performance.now() < deadline && transfers - good < 100) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    stopping = true;
    for (const child of running) child.kill('SIGTERM');
    await Promise.all(workers);
  } finally {
    rmSync(config, { force: true });
  }
  durations.sort((a, b) => a - b);
  const rate = perConnection.reduce((sum, c) => sum + (c.seconds > 0 ? c.bytes / c.seconds : 0), 0);
  return {
    connections: options.connections,
    durationS: Math.round((performance.now() - started) / 10) / 100,
    transfers,
    good,
    bad,
    bytes,
    mbPerS: Math.round((rate / (1024 * 1024)) * 10) / 10,
    transferMs: {
      p50: Math.round(durations[Math.floor((durations.length - 1) / 2)] ?? Number.NaN),
      min: Math.round(durations[0] ?? Number.NaN),
      max: Math.round(durations.at(-1) ?? Number.NaN),
    },
  };
}
