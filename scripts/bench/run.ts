// The benchmark: the same downloads asked of S3 directly (presigned URLs)
// and through the proxy (a signed-in session), side by side, with targets.
//   npm run bench                                  # about 4 minutes
//   npm run bench -- --soak [--soak-minutes N]     # the soak alone (10 minutes by default)
// Options: --only large,small,ttfb,memory,uploads,profile   (default: all of them)
//          --upload-mib N      MiB per upload in the uploads phase, and per part of its RSS run (default 128)
//          --duration S        seconds per load run (default 10)
//          --slow-clients N    (default 1000)   --slow-seconds S (default 25)
//          --profile           profile small and large downloads whatever the results
//          --no-profile        never profile (by default a missed target is profiled)
// Needs S3_TEST_* and REDIS_TEST_URL (scripts/bench.sh provides them) and wrk.
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
import { measureTtfb, type TtfbResult } from './ttfb.ts';
import { runSlowClients } from './slow-clients.ts';
import { cpuSeconds, mb, sampleProcess, startSampler } from './proc.ts';
import { runSoak } from './soak.ts';
import { withSmallRgwReadAhead } from './rgw.ts';
import { formatSummary, summariseFile, type ProfileSummary } from './profile-summary.ts';
import { formatTable, ratio, saveJson, verdict, type Row } from './report.ts';
import { runUploadBench } from './uploads.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const workDir = join(root, '.cache', 'bench');
mkdirSync(workDir, { recursive: true });

const allPhases = ['large', 'small', 'ttfb', 'memory', 'uploads', 'profile'] as const;
type Phase = (typeof allPhases)[number];

const { values: args } = parseArgs({
  options: {
    soak: { type: 'boolean', default: false },
    'soak-minutes': { type: 'string', default: '10' },
    only: { type: 'string', default: allPhases.join(',') },
    duration: { type: 'string', default: '10' },
    'slow-clients': { type: 'string', default: '1000' },
    'slow-seconds': { type: 'string', default: '25' },
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
const soakMinutes = positive('soak-minutes', args['soak-minutes']);
const slowClients = Math.round(positive('slow-clients', args['slow-clients']));
const slowSeconds = positive('slow-seconds', args['slow-seconds']);
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
  const proxy = await startBenchProxy({ ...session.env, ...env }, { nodeArgs, cwd: workDir });
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

interface Pair {
  direct: WrkResult;
  proxy: WrkResult;
  /** the proxy's CPU time over the run's wall time: near 100 % is one saturated core */
  proxyCpuPercent: number;
}

async function pair(label: string, pid: number, direct: WrkOptions, proxy: WrkOptions): Promise<Pair> {
  say(`${label}: direct`);
  const d = await runWrk(direct, workDir);
  say(`${label}: proxy`);
  const cpuBefore = cpuSeconds(pid);
  const p = await runWrk(proxy, workDir);
  const proxyCpuPercent = Math.round(((cpuSeconds(pid) - cpuBefore) / p.durationS) * 100);
  return { direct: d, proxy: p, proxyCpuPercent };
}

const invalid = (...results: WrkResult[]) => results.some((r) => wrkErrors(r) > 0 || r.requests === 0);
const errorNote = (d: WrkResult, p: WrkResult) => `direct ${JSON.stringify(d.errors)}, proxy ${JSON.stringify(p.errors)}`;

async function profileUnder(session: Session, what: 'small' | 'large'): Promise<{ file: string; summary: ProfileSummary }> {
  const started = Date.now();
  const proxy = await startProxy(session, ['--cpu-prof', '--cpu-prof-dir', workDir]);
  const options =
    what === 'small'
      ? { url: `${proxy.url}/${objects.small.key}`, connections: 64, durationS: 2, headers: { cookie: session.cookie } }
      : { url: `${proxy.url}/${objects.large.key}`, connections: 1, threads: 1, durationS: 2, timeoutS: 120, headers: { cookie: session.cookie } };
  say(`profile: ${what === 'small' ? '1 KB GETs at 64 connections' : '100 MB GETs, 1 at a time'} under --cpu-prof`);
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

async function benchmark(): Promise<void> {
  const rows: Row[] = [];
  const notes: string[] = [];
  const results: Record<string, unknown> = {};
  const logs: Record<string, LogStats> = {};
  const needed = new Set<ObjectName>(['small']);
  if (phases.has('large') || phases.has('memory') || phases.has('profile')) needed.add('large');
  if (phases.has('ttfb')) (needed.add('medium'), needed.add('huge'));
  const { bucket, session } = await setUp([...needed]);
  const cookie = { cookie: session.cookie };
  let smallMissed = false;
  let largeMissed = false;

  // --- throughput and latency, one proxy for all of it --------------------------
  if (phases.has('large') || phases.has('small') || phases.has('ttfb')) {
    const proxy = await startProxy(session);
    await checkAnswers(bucket, proxy, session.cookie, [...needed]);

    if (phases.has('large')) {
      const large: Record<number, Pair> = {};
      for (const connections of [1, 8]) {
        const base = { connections, threads: Math.min(2, connections), durationS, timeoutS: 120 };
        const r = (large[connections] = await pair(
          `100 MB GET, ${connections} concurrent`,
          proxy.pid,
          { ...base, url: bucket.direct.large },
          { ...base, url: `${proxy.url}/${objects.large.key}`, headers: cookie },
        ));
        const bad = invalid(r.direct, r.proxy);
        const pass = r.proxy.mbPerS >= 0.9 * r.direct.mbPerS;
        if (!bad && !pass) largeMissed = true;
        if (bad) notes.push(`100 MB, ${connections} concurrent: wrk errors ${errorNote(r.direct, r.proxy)}`);
        rows.push({
          benchmark: `100 MB GET throughput, ${connections} concurrent`,
          direct: `${r.direct.mbPerS} MB/s`,
          proxy: `${r.proxy.mbPerS} MB/s (cpu ${r.proxyCpuPercent}%)`,
          ratio: ratio(r.proxy.mbPerS, r.direct.mbPerS),
          target: '>= 0.90x direct',
          verdict: bad ? 'INVALID' : verdict(pass),
        });
      }
      results.large = large;
    }

    if (phases.has('small')) {
      say('1 KB GET: warming the proxy up');
      await runWrk({ url: `${proxy.url}/${objects.small.key}`, connections: 16, durationS: 3, headers: cookie }, workDir);
      const small: Record<number, Pair> = {};
      for (const connections of [1, 16, 64]) {
        const base = { connections, durationS: connections === 1 ? Math.min(durationS, 5) : durationS };
        const r = (small[connections] = await pair(
          `1 KB GET, ${connections} connections`,
          proxy.pid,
          { ...base, url: bucket.direct.small },
          { ...base, url: `${proxy.url}/${objects.small.key}`, headers: cookie },
        ));
        const added = Math.round((r.proxy.latencyMs.p50 - r.direct.latencyMs.p50) * 1000) / 1000;
        const bad = invalid(r.direct, r.proxy);
        // One connection is the unloaded latency: context for the targets, not one of them.
        const judged = connections !== 1;
        const rpsPass = r.proxy.requestsPerS >= 0.5 * r.direct.requestsPerS;
        const latencyPass = added <= 1;
        if (judged && !bad && !(rpsPass && latencyPass)) smallMissed = true;
        if (bad) notes.push(`1 KB, ${connections} connections: wrk errors ${errorNote(r.direct, r.proxy)}`);
        const judge = (pass: boolean) => (bad ? 'INVALID' : judged ? verdict(pass) : '');
        rows.push({
          benchmark: `1 KB GET requests/s, ${connections} conn`,
          direct: `${r.direct.requestsPerS}/s`,
          proxy: `${r.proxy.requestsPerS}/s (cpu ${r.proxyCpuPercent}%)`,
          ratio: ratio(r.proxy.requestsPerS, r.direct.requestsPerS),
          target: judged ? '>= 0.50x direct' : '(unloaded, info)',
          verdict: judge(rpsPass),
        });
        rows.push({
          benchmark: `1 KB GET p50 latency, ${connections} conn`,
          direct: `${r.direct.latencyMs.p50} ms`,
          proxy: `${r.proxy.latencyMs.p50} ms`,
          ratio: `+${added} ms`,
          target: judged ? 'added <= 1 ms' : '(unloaded, info)',
          verdict: judge(latencyPass),
        });
        rows.push({
          benchmark: `1 KB GET p99 latency, ${connections} conn`,
          direct: `${r.direct.latencyMs.p99} ms`,
          proxy: `${r.proxy.latencyMs.p99} ms`,
          ratio: ratio(r.proxy.latencyMs.p99, r.direct.latencyMs.p99),
          target: '(info)',
          verdict: '',
        });
      }
      results.small = small;
    }

    if (phases.has('ttfb')) {
      const ttfb: Record<string, { direct: TtfbResult; proxy: TtfbResult; addedMs: number }> = {};
      for (const name of ['medium', 'huge'] as const) {
        say(`time to first byte: ${objects[name].key}`);
        const direct = await measureTtfb(bucket.direct[name], {}, 15);
        const viaProxy = await measureTtfb(`${proxy.url}/${objects[name].key}`, cookie, 15);
        const addedMs = Math.round((viaProxy.firstByteMs.p50 - direct.firstByteMs.p50) * 100) / 100;
        ttfb[name] = { direct, proxy: viaProxy, addedMs };
        const small = ttfb.medium!.addedMs;
        rows.push({
          benchmark: `TTFB p50, ${name === 'huge' ? '1 GB' : '1 MB'} object`,
          direct: `${direct.firstByteMs.p50} ms`,
          proxy: `${viaProxy.firstByteMs.p50} ms`,
          ratio: `+${addedMs} ms`,
          target: name === 'huge' ? 'added ~ 1 MB added' : '(info)',
          // The proxy streams: what it adds must not grow with the object (S3's own TTFB may).
          verdict: name === 'huge' ? verdict(addedMs <= Math.max(2 * small, small + 5)) : '',
        });
      }
      results.ttfb = ttfb;
    }
    logs.throughput = proxy.log;
    await proxy.stop();
  }

  // --- memory: a fresh proxy, so its high-water mark belongs to this phase --------
  if (phases.has('memory')) {
    // The test S3 server starts a thousand downloads slowly; the proxy waits
    // for it instead of answering 504, so that all of them end up streaming.
    const proxy = await startProxy(session, [], { AWS_S3_RESPONSE_TIMEOUT: '120' });
    await sleep(1000);
    const before = sampleProcess(proxy.pid);
    say(`memory: ${slowClients} clients reading ${objects.large.key} at ~100 KB/s for ${slowSeconds} s`);
    const sampler = startSampler(proxy.pid, 250);
    const { result: slow, note } = await withSmallRgwReadAhead(say, () =>
      runSlowClients({
        url: `${proxy.url}/${objects.large.key}`,
        headers: cookie,
        clients: slowClients,
        bytesPerSecond: 100_000,
        durationS: slowSeconds,
        headersWithinS: 110,
      }),
    );
    notes.push(`memory: ${note}`);
    const during = sampler.stop();
    await sleep(5000);
    const after = sampleProcess(proxy.pid);
    const peakRss = Math.max(...during.map((s) => s.rssBytes));
    results.memory = {
      before,
      after,
      peakRssBytes: peakRss,
      hwmBytes: after.hwmBytes,
      peakFds: Math.max(...during.map((s) => s.fds)),
      clients: slow,
      samples: during,
    };
    rows.push(
      {
        benchmark: 'slow clients answered 200 and streaming',
        proxy: `${slow.streaming}/${slow.clients}`,
        target: 'all',
        verdict: verdict(slow.streaming === slow.clients),
      },
      {
        benchmark: `proxy peak RSS, ${slow.clients} slow clients`,
        proxy: `${mb(peakRss)} MB`,
        target: '<= 150 MB',
        verdict: verdict(peakRss <= 150 * 1024 * 1024),
      },
      { benchmark: 'proxy VmHWM after the slow clients', proxy: `${mb(after.hwmBytes)} MB`, target: '(info)', verdict: '' },
      { benchmark: 'proxy RSS before / 5 s after', proxy: `${mb(before.rssBytes)} / ${mb(after.rssBytes)} MB`, target: '(info)', verdict: '' },
      {
        benchmark: 'slow clients: mean read rate',
        proxy: `${Math.round(slow.meanRateBytesPerS / 1000)} KB/s`,
        target: '(info, ~100 KB/s)',
        verdict: '',
      },
    );
    if (Object.keys(slow.errors).length) notes.push(`slow clients' errors: ${JSON.stringify(slow.errors)}`);
    notes.push(
      slow.allHeadersWithinMs === null
        ? `memory: ${slow.waitingForHeaders} clients still had no answer after 110 s; the others were held ${Math.round(slow.heldForMs / 1000)} s more`
        : `memory: all ${slow.clients} clients had their answer within ${(slow.allHeadersWithinMs / 1000).toFixed(1)} s, then were held ${Math.round(slow.heldForMs / 1000)} s`,
    );
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
      rounds: 3,
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
    for (const what of ['small', 'large'] as const) {
      if (!forced && !(what === 'small' ? smallMissed : largeMissed)) continue;
      const profile = await profileUnder(session, what);
      profiles[what] = { file: profile.file, ...profile.summary };
      profileText.push(
        '',
        `CPU profile of the proxy under ${what === 'small' ? '1 KB GETs at 64 connections' : '100 MB GETs, one at a time'} (${profile.file}):`,
        formatSummary(profile.summary),
      );
    }
    results.profile = profiles;
  }

  finish(rows, results, { profileText: profileText.join('\n'), notes, logs });
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
  { profileText = '', notes = [], logs = {} }: { profileText?: string; notes?: string[]; logs?: Record<string, LogStats> },
): void {
  const endMachine = machine();
  const out: string[] = [
    '',
    `s3proxy benchmark ${stamp}: node ${startMachine.node}, ${startMachine.cpus} CPUs, ${startMachine.wrk}, commit ${startMachine.commit}`,
    `load average at start ${startMachine.loadAverage.join(' ')}, at end ${endMachine.loadAverage.join(' ')}: other work on this machine skews every figure`,
    '',
    formatTable(rows),
  ];
  for (const note of notes) out.push(`note: ${note}`);
  for (const [name, log] of Object.entries(logs)) {
    if (Object.keys(log.problems).length) out.push(`note: the ${name} proxy logged warnings/errors: ${JSON.stringify(log.problems)}`);
  }
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
