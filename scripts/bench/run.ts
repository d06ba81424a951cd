// The benchmark: the same downloads asked of S3 directly (presigned URLs)
// and through the proxy (a signed-in session), side by side, with targets.
// Every load is repeated (default 3 times), direct and proxy runs alternate
// in order, and the report gives medians and the spread of the repeats.
//   npm run bench                                  # about 15 minutes
//   npm run bench -- --duration 2 --repeat 1       # a quick check that it all runs
//   npm run bench -- --soak [--soak-minutes N]     # the soak alone (10 minutes by default)
// Options: --only startup,large,small,ttfb,memory,uploads,profile   (default: all of them)
//          --upload-mib N      MiB per upload in the uploads phase, and per part of its RSS run (default 128)
//          --duration S        seconds per load run (default 10)
//          --repeat N          runs of each load, alternating direct and proxy first (default 3)
//          --readers N         slow readers in the memory phase (default 500)   --slow-seconds S (default 25)
//          --settle-seconds S  RSS is sampled this long after the loads (default 30)
//          --proxy-node-args=ARGS  node flags for every proxy started (default --max-semi-space-size=1, as the Procfile)
//          --proxy-env=K=V,...     environment for every proxy started (default MALLOC_ARENA_MAX=2, as the Procfile)
//          --profile           profile small and large downloads whatever the results
//          --no-profile        never profile (by default a missed target is profiled)
// Large bodies are fetched by curl, each body's status and length checked;
// small ones by wrk. Needs S3_TEST_* and REDIS_TEST_URL (scripts/bench.sh
// provides them), wrk and curl.
import { cpus, loadavg, totalmem } from 'node:os';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { s3Stack } from '../../test/support/s3-fixtures.ts';
import { objects, prepareBucket, signIn, type Bucket, type ObjectName, type Session } from './fixtures.ts';
import { startBenchProxy, type BenchProxy, type LogStats } from './proxy.ts';
import { removeWrkScript, runWrk, wrkErrors, type WrkOptions, type WrkResult } from './wrk.ts';
import { runCurlLoad, type CurlLoadResult } from './curl-load.ts';
import { measureTtfb, type TtfbResult } from './ttfb.ts';
import { runSlowClients, type SlowClientsResult } from './slow-clients.ts';
import { cpuSeconds, mb, sampleProcess, startSampler, type MemorySample } from './proc.ts';
import { runSoak } from './soak.ts';
import { withSmallRgwReadAhead } from './rgw.ts';
import { formatSummary, summariseFile, type ProfileSummary } from './profile-summary.ts';
import { formatTable, saveJson, verdict, type Row } from './report.ts';
import { formatSpread, spread, type Spread } from './stats.ts';
import { dependencyCosts, formatCosts, startupRss, type StartupSample } from './startup-memory.ts';
import { runUploadBench } from './uploads.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const workDir = join(root, '.cache', 'bench');
mkdirSync(workDir, { recursive: true });

const allPhases = ['startup', 'large', 'small', 'ttfb', 'memory', 'uploads', 'profile'] as const;
type Phase = (typeof allPhases)[number];

const { values: args } = parseArgs({
  options: {
    soak: { type: 'boolean', default: false },
    'soak-minutes': { type: 'string', default: '10' },
    only: { type: 'string', default: allPhases.join(',') },
    duration: { type: 'string', default: '10' },
    repeat: { type: 'string', default: '3' },
    readers: { type: 'string', default: '500' },
    'slow-seconds': { type: 'string', default: '25' },
    'settle-seconds': { type: 'string', default: '30' },
    // as the Procfile and Dockerfile run it; --proxy-node-args= (empty) measures V8's default
    'proxy-node-args': { type: 'string', default: '--max-semi-space-size=1' },
    // as the Procfile and Dockerfile run it; --proxy-env= (empty) measures glibc's default arenas
    'proxy-env': { type: 'string', default: 'MALLOC_ARENA_MAX=2' },
    profile: { type: 'boolean', default: false },
    'no-profile': { type: 'boolean', default: false },
    // uploads: MiB per upload (direct PUT, proxy PUT, proxy multipart), and per part of the four-at-once RSS run
    'upload-mib': { type: 'string', default: '128' },
  },
  strict: true,
});
const positive = (name: string, raw: string): number => {
  const n = Number(raw);
  if (!(n > 0)) throw new Error(`--${name} must be a positive number, got ${raw}`);
  return n;
};
const durationS = positive('duration', args.duration);
const repeat = Math.round(positive('repeat', args.repeat));
const soakMinutes = positive('soak-minutes', args['soak-minutes']);
const readers = Math.round(positive('readers', args.readers));
const slowSeconds = positive('slow-seconds', args['slow-seconds']);
const settleS = positive('settle-seconds', args['settle-seconds']);
const proxyNodeArgs = args['proxy-node-args'].split(/\s+/).filter(Boolean);
const proxyEnv: Record<string, string> = Object.fromEntries(
  args['proxy-env']
    .split(',')
    .filter(Boolean)
    .map((pair) => {
      const at = pair.indexOf('=');
      if (at < 1) throw new Error(`--proxy-env: expected NAME=value, got ${pair}`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
);
const phases = new Set(
  args.only.split(',').map((p) => {
    if (!(allPhases as readonly string[]).includes(p)) throw new Error(`--only: unknown phase ${p} (phases: ${allPhases.join(', ')})`);
    return p as Phase;
  }),
);

const say = (line: string) => process.stderr.write(`bench: ${line}\n`);
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const proxyEnvExtra = { SSO_TOKEN_CHECK_GRACE_PERIOD: '60', LOG_LEVEL: 'info' };

// Whatever was started is undone in reverse, on success, failure or Ctrl-C:
// the 1 GB object in particular must not outlive the run.
const cleanups: Array<() => Promise<unknown>> = [];
let cleaning: Promise<void> | undefined;
const cleanUp = () =>
  (cleaning ??= (async () => {
    for (const undo of cleanups.reverse()) await undo().catch((e: Error) => say(`clean-up: ${e.message}`));
    removeWrkScript();
  })());
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    say(`${signal}: cleaning up`);
    void cleanUp().finally(() => process.exit(130));
  });
}

function machine() {
  let wrkVersion = '';
  try {
    wrkVersion = execFileSync('wrk', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    // wrk --version prints its banner and exits 1
    wrkVersion = String((error as { stdout?: string }).stdout ?? '');
  }
  let commit = '';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    // not a checkout
  }
  return {
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    wrk: wrkVersion.split(' Copyright')[0]!.trim(),
    commit,
  };
}
const startMachine = machine();

async function startProxy(session: Session, nodeArgs: string[] = [], env: Record<string, string> = {}): Promise<BenchProxy> {
  const proxy = await startBenchProxy({ ...proxyEnv, ...session.env, ...env }, { nodeArgs: [...proxyNodeArgs, ...nodeArgs], cwd: workDir });
  cleanups.push(() => proxy.stop());
  return proxy;
}

/** Refuses to benchmark a setup that answers wrongly: a fast 401 is not a result. */
async function checkAnswers(bucket: Bucket, proxy: BenchProxy, cookie: string, names: ObjectName[]): Promise<void> {
  for (const name of names.filter((n) => objects[n].size <= 1024 * 1024)) {
    const direct = await fetch(bucket.direct[name]);
    const viaProxy = await fetch(`${proxy.url}/${objects[name].key}`, { headers: { cookie } });
    const [d, p] = [(await direct.arrayBuffer()).byteLength, (await viaProxy.arrayBuffer()).byteLength];
    if (direct.status !== 200 || viaProxy.status !== 200 || d !== objects[name].size || p !== objects[name].size) {
      throw new Error(`${objects[name].key}: direct ${direct.status} (${d} bytes), proxy ${viaProxy.status} (${p} bytes)`);
    }
  }
}

/** Runs each variant once per repeat, in an order that rotates, so that none always goes first. */
async function alternate<V extends string, R>(label: string, variants: V[], run: (variant: V, round: number) => Promise<R>): Promise<Array<Record<V, R> & { order: V[] }>> {
  const rounds = [];
  for (let round = 0; round < repeat; round += 1) {
    const order = variants.map((_, i) => variants[(i + round) % variants.length]!);
    const results = {} as Record<V, R>;
    for (const variant of order) {
      say(`${label}: ${variant} (round ${round + 1} of ${repeat})`);
      results[variant] = await run(variant, round);
    }
    rounds.push({ ...results, order });
  }
  return rounds;
}

/** CPU seconds the process used while `body` ran */
async function withCpu<R>(pid: number | undefined, body: () => Promise<R>): Promise<{ result: R; cpuS: number }> {
  const before = pid === undefined ? 0 : cpuSeconds(pid);
  const result = await body();
  return { result, cpuS: pid === undefined ? 0 : Math.round((cpuSeconds(pid) - before) * 1000) / 1000 };
}

const invalid = (...results: WrkResult[]) => results.some((r) => wrkErrors(r) > 0 || r.requests === 0);
const ratioText = (s: Spread) => (s.n === 0 ? '-' : `${formatSpread(s, 2)}x`);

type ProfiledLoad = 'small' | 'latency' | 'large';
const profiledLoad: Record<ProfiledLoad, string> = {
  small: '1 KB GETs at 64 connections',
  latency: '1 KB GETs at 1 connection (the unloaded latency)',
  large: '100 MB GETs, one at a time',
};

async function profileUnder(session: Session, what: ProfiledLoad): Promise<{ file: string; summary: ProfileSummary }> {
  const started = Date.now();
  const proxy = await startProxy(session, ['--cpu-prof', '--cpu-prof-dir', workDir]);
  const options =
    what === 'large'
      ? { url: `${proxy.url}/${objects.large.key}`, connections: 1, threads: 1, durationS: 2, timeoutS: 120, headers: { cookie: session.cookie } }
      : { url: `${proxy.url}/${objects.small.key}`, connections: what === 'small' ? 64 : 1, durationS: 2, headers: { cookie: session.cookie } };
  say(`profile: ${profiledLoad[what]} under --cpu-prof`);
  await runWrk(options, workDir);
  await runWrk({ ...options, durationS }, workDir);
  await proxy.stop();
  const file = readdirSync(workDir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(workDir, f))
    .filter((f) => statSync(f).mtimeMs >= started)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  if (!file) throw new Error('the proxy wrote no .cpuprofile');
  return { file, summary: summariseFile(file, 25) };
}

async function forgetSessions(session: Session): Promise<void> {
  const prefix = session.env.REDIS_KEY_PREFIX!;
  const redis = new Redis(session.env.REDIS_URL!, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

async function setUp(names: ObjectName[]): Promise<{ bucket: Bucket; session: Session }> {
  const stack = s3Stack();
  say(`uploading ${names.map((n) => objects[n].key).join(', ')} to ${stack.endpoint.origin}`);
  const bucket = await prepareBucket(stack, names, say);
  cleanups.push(() => bucket.remove());
  const session = await signIn(stack, bucket.name, proxyEnvExtra);
  cleanups.push(() => session.sso.close());
  cleanups.push(() => forgetSessions(session));
  return { bucket, session };
}

type LargeVariant = 'direct' | 'proxy';
type SmallVariant = 'direct' | 'proxy' | 'grace0';

interface LargeRun {
  result: CurlLoadResult;
  cpuS: number;
}
interface SmallRun {
  result: WrkResult;
  cpuS: number;
}

/** The issue's table, one row for this run */
interface IssueRow {
  small16: Spread;
  small64: Spread;
  large1: Spread;
  large8: Spread;
  cpuMsPerSmall: Spread;
  cpuSPerGb: Spread;
  rssIdleMb?: number;
  rssPeakMb?: number;
  readers?: { peakMb: number; perReaderKb: number; served: number; directServed: number; receivingAtEnd: number };
}

function issueTable(row: IssueRow, commit: string): string {
  const r = (s: Spread) => (s.n === 0 ? '-' : s.median.toFixed(2));
  const readers = row.readers
    ? `${row.readers.peakMb} MB (${row.readers.perReaderKb} KB per reader), ${row.readers.served} served (direct ${row.readers.directServed}), ${row.readers.receivingAtEnd} receiving in the last 5 s`
    : '-';
  return [
    '| | 1 KiB c16 (× direct) | 1 KiB c64 | 100 MiB c1 | 100 MiB c8 | CPU per small request | CPU per GB | RSS idle | RSS peak (load) | readers at 100 KB/s |',
    '|---|---|---|---|---|---|---|---|---|---|',
    `| this proxy (${commit}) | ${r(row.small16)} | ${r(row.small64)} | ${r(row.large1)} | ${r(row.large8)} | ${row.cpuMsPerSmall.n ? `${row.cpuMsPerSmall.median.toFixed(2)} ms` : '-'} | ${row.cpuSPerGb.n ? `${row.cpuSPerGb.median.toFixed(2)} s` : '-'} | ${row.rssIdleMb === undefined ? '-' : `${row.rssIdleMb} MB`} | ${row.rssPeakMb === undefined ? '-' : `${row.rssPeakMb} MB`} | ${readers} |`,
  ].join('\n');
}

async function benchmark(): Promise<void> {
  const rows: Row[] = [];
  const notes: string[] = [];
  const results: Record<string, unknown> = {};
  const logs: Record<string, LogStats> = {};
  const issue: IssueRow = { small16: spread([]), small64: spread([]), large1: spread([]), large8: spread([]), cpuMsPerSmall: spread([]), cpuSPerGb: spread([]) };
  const needed = new Set<ObjectName>(['small']);
  if (phases.has('large') || phases.has('memory') || phases.has('profile')) needed.add('large');
  if (phases.has('ttfb')) needed.add('huge');
  const { bucket, session } = await setUp([...needed]);
  const cookie = { cookie: session.cookie };
  let smallMissed = false;
  let largeMissed = false;
  let latencyMissed = false;
  if (proxyNodeArgs.length) notes.push(`every proxy ran with node ${proxyNodeArgs.join(' ')}`);
  if (Object.keys(proxyEnv).length) notes.push(`every proxy ran with ${args['proxy-env']} in its environment`);

  // --- start-up: a fresh proxy, before any request ---------------------------------
  if (phases.has('startup')) {
    const samples: StartupSample[] = [];
    for (let i = 0; i < repeat; i += 1) {
      say(`start-up memory: fresh proxy ${i + 1} of ${repeat}`);
      samples.push(await startupRss({ ...proxyEnv, ...session.env }, proxyNodeArgs));
    }
    const rss = spread(samples.map((s) => s.rssBytes / (1024 * 1024)));
    issue.rssIdleMb = Math.round(rss.median * 10) / 10;
    say('start-up memory: each dependency alone and loaded last, in fresh processes');
    const costs = await dependencyCosts(repeat);
    results.startup = { samples, dependencies: costs };
    rows.push({
      benchmark: 'proxy RSS after start-up, before any request',
      proxy: `${formatSpread(rss)} MB (anon ${mb(samples[0]!.anonBytes)}, file ${mb(samples[0]!.fileBytes)})`,
      target: '<= 80 MB',
      verdict: verdict(rss.median <= 80),
    });
    notes.push(`start-up cost of each dependency (MB, median of ${repeat}):\n${formatCosts(costs)}`);
  }

  // --- throughput and latency: one proxy for all of it, and one checking the token every time
  if (phases.has('large') || phases.has('small') || phases.has('ttfb')) {
    const proxy = await startProxy(session);
    await checkAnswers(bucket, proxy, session.cookie, [...needed]);
    const sampler = startSampler(proxy.pid, 250);
    let loadSamples: MemorySample[] = [];

    if (phases.has('large')) {
      const large: Record<number, unknown> = {};
      const cpuPerGb: number[] = [];
      let bodies = 0;
      const badBodies: Record<string, number> = {};
      for (const connections of [1, 8]) {
        const runs = await alternate<LargeVariant, LargeRun>(`100 MiB GET, ${connections} at a time`, ['direct', 'proxy'], async (variant) => {
          const url = variant === 'direct' ? bucket.direct.large : `${proxy.url}/${objects.large.key}`;
          const { result, cpuS } = await withCpu(variant === 'proxy' ? proxy.pid : undefined, () =>
            runCurlLoad({ url, connections, durationS, expectBytes: objects.large.size, ...(variant === 'proxy' ? { headers: cookie } : {}) }, workDir),
          );
          bodies += result.transfers;
          for (const [what, n] of Object.entries(result.bad)) badBodies[`${variant} ${what}`] = (badBodies[`${variant} ${what}`] ?? 0) + n;
          return { result, cpuS };
        });
        const ratios = spread(runs.map((r) => r.proxy.result.mbPerS / r.direct.result.mbPerS));
        // bytes the proxy sent in the run: its rate over the run's wall time
        const perGb = runs.map((r) => r.proxy.cpuS / ((r.proxy.result.mbPerS * 1024 * 1024 * r.proxy.result.durationS) / 1e9));
        cpuPerGb.push(...perGb);
        if (connections === 1) issue.large1 = ratios;
        else issue.large8 = ratios;
        const target = connections === 1 ? 0.7 : 0.65;
        if (ratios.median < target) largeMissed = true;
        large[connections] = { runs, ratio: ratios, cpuSPerGb: spread(perGb) };
        rows.push({
          benchmark: `100 MiB GET throughput, ${connections} at a time`,
          direct: `${formatSpread(spread(runs.map((r) => r.direct.result.mbPerS)))} MB/s`,
          proxy: `${formatSpread(spread(runs.map((r) => r.proxy.result.mbPerS)))} MB/s`,
          ratio: ratioText(ratios),
          target: `>= ${target.toFixed(2)}x direct`,
          verdict: verdict(ratios.median >= target),
        });
      }
      issue.cpuSPerGb = spread(cpuPerGb);
      rows.push({
        benchmark: 'proxy CPU per GB sent (1 and 8 at a time)',
        proxy: `${formatSpread(issue.cpuSPerGb, 2)} s`,
        target: '<= 2.2 s',
        verdict: verdict(issue.cpuSPerGb.median <= 2.2),
      });
      const badCount = Object.values(badBodies).reduce((a, b) => a + b, 0);
      rows.push({
        benchmark: `100 MiB bodies: status 200 and exactly ${objects.large.size} bytes`,
        proxy: `${bodies - badCount} of ${bodies}`,
        target: 'all',
        verdict: verdict(badCount === 0 && bodies > 0),
      });
      if (badCount) notes.push(`100 MiB bodies that were not 200 and whole, by "variant status bytes": ${JSON.stringify(badBodies)}`);
      results.large = large;
    }

    if (phases.has('small')) {
      // The same session, with a token check at SSO on every request
      const grace0 = await startProxy(session, [], { SSO_TOKEN_CHECK_GRACE_PERIOD: '0' });
      say('1 KiB GET: warming the proxies up');
      for (const p of [proxy, grace0]) await runWrk({ url: `${p.url}/${objects.small.key}`, connections: 16, durationS: Math.min(3, durationS), headers: cookie }, workDir);
      const small: Record<number, unknown> = {};
      const cpuPerRequest: number[] = [];
      const grace0CpuPerRequest: number[] = [];
      for (const connections of [1, 16, 64]) {
        const base = { connections, durationS: connections === 1 ? Math.min(durationS, 5) : durationS };
        const runs = await alternate<SmallVariant, SmallRun>(`1 KiB GET, ${connections} connections`, ['direct', 'proxy', 'grace0'], async (variant) => {
          const target = variant === 'direct' ? undefined : variant === 'proxy' ? proxy : grace0;
          const options: WrkOptions = target ? { ...base, url: `${target.url}/${objects.small.key}`, headers: cookie } : { ...base, url: bucket.direct.small };
          const { result, cpuS } = await withCpu(target?.pid, () => runWrk(options, workDir));
          return { result, cpuS };
        });
        const bad = runs.some((r) => invalid(r.direct.result, r.proxy.result, r.grace0.result));
        if (bad) notes.push(`1 KiB, ${connections} connections: wrk errors ${JSON.stringify(runs.map((r) => ({ direct: r.direct.result.errors, proxy: r.proxy.result.errors, grace0: r.grace0.result.errors })))}`);
        const ratios = spread(runs.map((r) => r.proxy.result.requestsPerS / r.direct.result.requestsPerS));
        const grace0Ratios = spread(runs.map((r) => r.grace0.result.requestsPerS / r.direct.result.requestsPerS));
        const perRequest = runs.map((r) => (r.proxy.cpuS * 1000) / r.proxy.result.requests);
        const grace0PerRequest = runs.map((r) => (r.grace0.cpuS * 1000) / r.grace0.result.requests);
        const added = spread(runs.map((r) => r.proxy.result.latencyMs.p50 - r.direct.result.latencyMs.p50));
        small[connections] = { runs, ratio: ratios, grace0Ratio: grace0Ratios, cpuMsPerRequest: spread(perRequest), grace0CpuMsPerRequest: spread(grace0PerRequest), addedP50Ms: added };
        const judge = (pass: boolean) => (bad ? 'INVALID' : verdict(pass));
        if (connections === 1) {
          rows.push({
            benchmark: '1 KiB GET p50 added latency, unloaded (1 conn)',
            direct: `${formatSpread(spread(runs.map((r) => r.direct.result.latencyMs.p50)), 3)} ms`,
            proxy: `${formatSpread(spread(runs.map((r) => r.proxy.result.latencyMs.p50)), 3)} ms`,
            ratio: `+${formatSpread(added, 3)} ms`,
            target: 'added <= 0.5 ms',
            verdict: judge(added.median <= 0.5),
          });
          if (!bad && added.median > 0.5) latencyMissed = true;
          continue;
        }
        cpuPerRequest.push(...perRequest);
        grace0CpuPerRequest.push(...grace0PerRequest);
        if (connections === 16) issue.small16 = ratios;
        else issue.small64 = ratios;
        if (!bad && ratios.median < 0.65) smallMissed = true;
        rows.push(
          {
            benchmark: `1 KiB GET requests/s, ${connections} conn`,
            direct: `${formatSpread(spread(runs.map((r) => r.direct.result.requestsPerS)), 0)}/s`,
            proxy: `${formatSpread(spread(runs.map((r) => r.proxy.result.requestsPerS)), 0)}/s`,
            ratio: ratioText(ratios),
            target: '>= 0.65x direct',
            verdict: judge(ratios.median >= 0.65),
          },
          {
            benchmark: `1 KiB GET p99 latency, ${connections} conn`,
            direct: `${formatSpread(spread(runs.map((r) => r.direct.result.latencyMs.p99)), 2)} ms`,
            proxy: `${formatSpread(spread(runs.map((r) => r.proxy.result.latencyMs.p99)), 2)} ms`,
            target: '(info)',
            verdict: '',
          },
          {
            benchmark: `1 KiB GET, token check on every request (SSO_TOKEN_CHECK_GRACE_PERIOD=0), ${connections} conn`,
            direct: `${formatSpread(spread(runs.map((r) => r.direct.result.requestsPerS)), 0)}/s`,
            proxy: `${formatSpread(spread(runs.map((r) => r.grace0.result.requestsPerS)), 0)}/s, cpu ${formatSpread(spread(grace0PerRequest), 3)} ms/req`,
            ratio: ratioText(grace0Ratios),
            target: '(info: its cost)',
            verdict: '',
          },
        );
      }
      issue.cpuMsPerSmall = spread(cpuPerRequest);
      const grace0Cpu = spread(grace0CpuPerRequest);
      rows.push(
        {
          benchmark: 'proxy CPU per 1 KiB request (16 and 64 conn)',
          proxy: `${formatSpread(issue.cpuMsPerSmall, 3)} ms`,
          target: '<= 0.65 ms',
          verdict: verdict(issue.cpuMsPerSmall.median <= 0.65),
        },
        {
          benchmark: 'cost of a token check on every request (grace 0 minus grace 60)',
          proxy: `+${(grace0Cpu.median - issue.cpuMsPerSmall.median).toFixed(3)} ms CPU per request (proxy only; the test SSO server's own CPU not counted)`,
          target: '(info)',
          verdict: '',
        },
      );
      results.small = small;
      logs.grace0 = grace0.log;
      await grace0.stop();
    }
    loadSamples = sampler.stop();

    if (phases.has('large') || phases.has('small')) {
      const peak = Math.max(...loadSamples.map((s) => s.rssBytes));
      issue.rssPeakMb = mb(peak);
      say(`memory after the loads: sampling for ${settleS} s`);
      const after = startSampler(proxy.pid, 1000);
      await sleep(settleS * 1000);
      const settled = after.stop();
      const at = (s: number) => settled.filter((x) => x.atMs <= Math.min(s, settleS) * 1000).at(-1) ?? settled[0]!;
      results.loadMemory = { peakRssBytes: peak, samples: loadSamples, after: settled };
      rows.push(
        { benchmark: 'proxy peak RSS under the small and large loads', proxy: `${mb(peak)} MB`, target: '<= 150 MB', verdict: verdict(peak <= 150 * 1024 * 1024) },
        {
          benchmark: `proxy RSS ${Math.min(5, settleS)} s / ${settleS} s after the loads`,
          proxy: `${mb(at(5).rssBytes)} / ${mb(settled.at(-1)!.rssBytes)} MB`,
          target: settleS >= 30 ? '<= 120 MB within 30 s' : '(info: --settle-seconds < 30)',
          verdict: settleS >= 30 ? verdict(settled.some((x) => x.rssBytes <= 120 * 1024 * 1024)) : '',
        },
      );
    }

    if (phases.has('ttfb')) {
      const ttfb: Record<string, { direct: TtfbResult; proxy: TtfbResult }> = {};
      for (const name of ['small', 'huge'] as const) {
        say(`time to first byte: ${objects[name].key}`);
        // proxy first here, direct first there
        const viaProxy = await measureTtfb(`${proxy.url}/${objects[name].key}`, cookie, 15);
        const direct = await measureTtfb(bucket.direct[name], {}, 15);
        ttfb[name] = { direct, proxy: viaProxy };
      }
      const gap = Math.round((ttfb.huge!.proxy.firstByteMs.p50 - ttfb.small!.proxy.firstByteMs.p50) * 100) / 100;
      const directGap = Math.round((ttfb.huge!.direct.firstByteMs.p50 - ttfb.small!.direct.firstByteMs.p50) * 100) / 100;
      for (const name of ['small', 'huge'] as const) {
        rows.push({
          benchmark: `TTFB p50, ${name === 'huge' ? '1 GiB' : '1 KiB'} object`,
          direct: `${ttfb[name]!.direct.firstByteMs.p50} ms`,
          proxy: `${ttfb[name]!.proxy.firstByteMs.p50} ms`,
          target: '(info)',
          verdict: '',
        });
      }
      rows.push({
        benchmark: 'TTFB p50 of 1 GiB minus 1 KiB, through the proxy',
        direct: `${directGap} ms`,
        proxy: `${gap} ms`,
        target: '<= 2 ms',
        verdict: verdict(gap <= 2),
      });
      results.ttfb = ttfb;
    }
    logs.throughput = proxy.log;
    await proxy.stop();
  }

  // --- memory: many slow readers, through a fresh proxy and directly ------------------
  if (phases.has('memory')) {
    // The test S3 server starts hundreds of downloads slowly; the proxy waits
    // for it instead of answering 504, so that all of them end up streaming.
    const slow = (url: string, headers: Record<string, string>) =>
      runSlowClients({ url, headers, clients: readers, bytesPerSecond: 100_000, durationS: slowSeconds, headersWithinS: 110 });
    const proxy = await startProxy(session, [], { AWS_S3_RESPONSE_TIMEOUT: '120' });
    await sleep(1000);
    const before = sampleProcess(proxy.pid);
    const { result: both, note } = await withSmallRgwReadAhead(say, async () => {
      say(`memory: ${readers} readers of ${objects.large.key} at ~100 KB/s for ${slowSeconds} s, through the proxy`);
      const sampler = startSampler(proxy.pid, 250);
      const viaProxy = await slow(`${proxy.url}/${objects.large.key}`, cookie);
      const during = sampler.stop();
      say(`memory: the same readers directly from S3`);
      const direct = await slow(bucket.direct.large, {});
      return { viaProxy, direct, during };
    });
    notes.push(`memory: ${note}`);
    await sleep(5000);
    const after = sampleProcess(proxy.pid);
    const { viaProxy, direct, during } = both;
    const peakRss = Math.max(...during.map((s) => s.rssBytes));
    const perReaderKb = viaProxy.streaming > 0 ? Math.round((peakRss - before.rssBytes) / viaProxy.streaming / 1024) : Number.NaN;
    issue.readers = { peakMb: mb(peakRss), perReaderKb, served: viaProxy.streaming, directServed: direct.streaming, receivingAtEnd: viaProxy.receivingAtEnd };
    results.memory = { before, after, peakRssBytes: peakRss, hwmBytes: after.hwmBytes, peakFds: Math.max(...during.map((s) => s.fds)), proxy: viaProxy, direct, samples: during };
    const readersRow = (label: string, r: SlowClientsResult) => `${label} ${r.streaming}/${r.clients} served, ${r.receivingAtEnd} receiving in the last ${r.tailS} s`;
    rows.push(
      {
        benchmark: `${readers} readers at 100 KB/s: served (200, streaming)`,
        direct: `${direct.streaming}/${direct.clients}`,
        proxy: `${viaProxy.streaming}/${viaProxy.clients}`,
        target: '>= direct',
        verdict: verdict(viaProxy.streaming >= direct.streaming),
      },
      {
        benchmark: `served readers still receiving in the last ${viaProxy.tailS} s`,
        direct: `${direct.receivingAtEnd}/${direct.streaming}`,
        proxy: `${viaProxy.receivingAtEnd}/${viaProxy.streaming}`,
        target: 'all served',
        verdict: verdict(viaProxy.streaming > 0 && viaProxy.receivingAtEnd === viaProxy.streaming),
      },
      { benchmark: `proxy peak RSS, ${readers} readers`, proxy: `${mb(peakRss)} MB`, target: '<= 150 MB', verdict: verdict(peakRss <= 150 * 1024 * 1024) },
      { benchmark: 'proxy RSS per served reader (peak minus before)', proxy: `${perReaderKb} KB`, target: '<= 100 KB', verdict: verdict(perReaderKb <= 100) },
      { benchmark: 'proxy RSS before / 5 s after; VmHWM', proxy: `${mb(before.rssBytes)} / ${mb(after.rssBytes)} MB; ${mb(after.hwmBytes)} MB`, target: '(info)', verdict: '' },
      { benchmark: 'readers: mean read rate', direct: `${Math.round(direct.meanRateBytesPerS / 1000)} KB/s`, proxy: `${Math.round(viaProxy.meanRateBytesPerS / 1000)} KB/s`, target: '(info, ~100 KB/s)', verdict: '' },
    );
    for (const [label, r] of [['proxy', viaProxy], ['direct', direct]] as const) {
      if (Object.keys(r.errors).length) notes.push(`${label} readers' errors: ${JSON.stringify(r.errors)}`);
      notes.push(
        r.allHeadersWithinMs === null
          ? `memory (${label}): ${r.waitingForHeaders} readers still had no answer after 110 s; ${readersRow(label, r)}`
          : `memory (${label}): all ${r.clients} readers had their answer within ${(r.allHeadersWithinMs / 1000).toFixed(1)} s, then were held ${Math.round(r.heldForMs / 1000)} s`,
      );
    }
    logs.memory = proxy.log;
    await proxy.stop();
  }

  // --- uploads: direct PUT to S3 against UPLOAD_DATA_PATH=proxy (scripts/bench/uploads.ts)
  if (phases.has('uploads')) {
    const uploadBytes = Math.round(positive('upload-mib', args['upload-mib']) * 1024 * 1024);
    const uploads = await runUploadBench({
      stack: s3Stack(),
      bucket: bucket.name,
      session,
      sizeBytes: uploadBytes,
      rssPartBytes: uploadBytes,
      rounds: repeat,
      startProxy: (env) => startProxy(session, [], env),
      say,
    });
    rows.push(...uploads.rows);
    results.uploads = uploads.result;
  }

  // --- where the time goes, for what missed its target -----------------------------
  const profileText: string[] = [];
  if (phases.has('profile') && !args['no-profile']) {
    const forced = args.profile || (phases.size === 1 && phases.has('profile'));
    const profiles: Record<string, unknown> = {};
    for (const what of ['small', 'latency', 'large'] as const) {
      if (!forced && !{ small: smallMissed, latency: latencyMissed, large: largeMissed }[what]) continue;
      const profile = await profileUnder(session, what);
      profiles[what] = { file: profile.file, ...profile.summary };
      profileText.push(
        '',
        `CPU profile of the proxy under ${profiledLoad[what]} (${profile.file}):`,
        formatSummary(profile.summary),
      );
    }
    results.profile = profiles;
  }

  results.issueRow = issue;
  finish(rows, results, { profileText: profileText.join('\n'), notes, logs, issueText: issueTable(issue, startMachine.commit) });
}

async function soak(): Promise<void> {
  const { session } = await setUp(['small', 'medium', 'large']);
  const proxy = await startProxy(session);
  say(`soak: ${soakMinutes} minute(s) of mixed load; RSS and descriptors every 10 s`);
  const result = await runSoak({ proxyUrl: proxy.url, pid: proxy.pid, cookie: session.cookie, minutes: soakMinutes, workDir, say });
  const rows: Row[] = [
    { benchmark: 'soak RSS first / last / max', proxy: `${result.rssMb.first} / ${result.rssMb.last} / ${result.rssMb.max} MB`, target: '(info)', verdict: '' },
    { benchmark: 'soak RSS growth', proxy: `${result.rssMb.growthPercent} %`, target: '<= 10 %', verdict: verdict(result.rssMb.growthPercent <= 10) },
    { benchmark: 'soak open fds first / last / max', proxy: `${result.fds.first} / ${result.fds.last} / ${result.fds.max}`, target: '(info)', verdict: '' },
    { benchmark: 'soak open fds growth', proxy: `${result.fds.growthPercent} %`, target: '<= 10 %', verdict: verdict(result.fds.growthPercent <= 10) },
    { benchmark: 'soak wrk mix', proxy: `${result.wrk.requestsPerS}/s, p99 ${result.wrk.latencyMs.p99} ms`, target: '(info)', verdict: '' },
    { benchmark: 'soak abandoned downloads / slow readers', proxy: `${result.abandonedDownloads} / ${result.slowReaders}`, target: '(info)', verdict: '' },
  ];
  const log = proxy.log;
  await proxy.stop();
  finish(
    rows,
    { soak: result },
    {
      logs: { soak: log },
      notes: [
        `growth: median of the last quarter of the ${result.samples.length} samples against the median of the first quarter (first sample at 10 s)`,
        `wrk mix answers >= 400 (misses and strangers are part of the mix): ${result.wrk.errors.status}; socket errors/timeouts: ${wrkErrors(result.wrk) - result.wrk.errors.status}; side errors: ${JSON.stringify(result.sideErrors)}`,
      ],
    },
  );
}

function finish(
  rows: Row[],
  results: Record<string, unknown>,
  { profileText = '', notes = [], logs = {}, issueText = '' }: { profileText?: string; notes?: string[]; logs?: Record<string, LogStats>; issueText?: string },
): void {
  const endMachine = machine();
  const out: string[] = [
    '',
    `s3proxy benchmark ${stamp}: node ${startMachine.node}, ${startMachine.cpus} CPUs, ${startMachine.wrk}, commit ${startMachine.commit}, ${repeat} repeat(s) of ${durationS} s`,
    `load average at start ${startMachine.loadAverage.join(' ')}, at end ${endMachine.loadAverage.join(' ')}: other work on this machine skews every figure`,
    '',
    formatTable(rows),
  ];
  for (const note of notes) out.push(`note: ${note}`);
  for (const [name, log] of Object.entries(logs)) {
    if (Object.keys(log.problems).length) out.push(`note: the ${name} proxy logged warnings/errors: ${JSON.stringify(log.problems)}`);
  }
  if (issueText) out.push('', "The issue's table, this run (medians of the repeats):", issueText);
  if (profileText) out.push(profileText);
  const path = saveJson(workDir, stamp, { machine: { start: startMachine, end: endMachine }, args, rows, results, proxyLogs: logs });
  out.push('', `results: ${path}`, '');
  process.stdout.write(out.join('\n'));
}

try {
  await (args.soak ? soak() : benchmark());
} finally {
  await cleanUp();
}
