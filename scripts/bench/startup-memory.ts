// Memory at start-up: the proxy's resident set once it listens, before any
// request, and what each runtime dependency costs, in a fresh Node each
// time: loaded alone after Node's own modules, and loaded last, after every
// other dependency (what leaving it out of start-up would save). Run alone for the list:
//   node scripts/bench/startup-memory.ts [--repeat N]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBenchProxy } from './proxy.ts';
import { sampleProcess } from './proc.ts';
import { spread, type Spread } from './stats.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface StartupSample {
  rssBytes: number;
  anonBytes: number;
  fileBytes: number;
}

function statusBytes(pid: number, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : Number.NaN;
}

/** A fresh proxy, `settleMs` after it listens: what it holds before any request. */
export async function startupRss(env: Record<string, string>, nodeArgs: string[], settleMs = 2_000): Promise<StartupSample> {
  const proxy = await startBenchProxy(env, { nodeArgs });
  try {
    await sleep(settleMs);
    return {
      rssBytes: sampleProcess(proxy.pid).rssBytes,
      anonBytes: statusBytes(proxy.pid, 'RssAnon'),
      fileBytes: statusBytes(proxy.pid, 'RssFile'),
    };
  } finally {
    await proxy.stop();
  }
}

export interface DependencyCost {
  /** a package, or a group of packages that share most of their code */
  name: string;
  packages: string[];
  /** loaded right after Node's own modules */
  alone: { rssBytes: Spread; heapBytes: Spread };
  /** loaded after every other dependency: what leaving it out of start-up would save */
  last: { rssBytes: Spread; heapBytes: Spread };
}

/** The runtime dependencies, from package.json (uppy is a browser bundle the proxy only reads as a file). */
export function runtimeDependencies(): string[] {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };
  return Object.keys(pkg.dependencies).filter((name) => name !== 'uppy' && !name.startsWith('@smithy/types'));
}

/** Packages that load one another, measured together as well. */
export const dependencyGroups: Record<string, string[]> = {
  'AWS SDK S3 client + presigners (listings, uploads)': ['@aws-sdk/client-s3', '@aws-sdk/s3-request-presigner', '@aws-sdk/s3-presigned-post'],
  'SigV4 signing (@smithy/*)': ['@smithy/signature-v4', '@smithy/protocol-http'],
};

const probe = `
const [targets, others] = JSON.parse(process.argv[1]);
for (const core of ['node:http', 'node:https', 'node:crypto', 'node:zlib', 'node:net', 'node:tls', 'node:stream', 'node:events', 'node:fs/promises']) await import(core);
for (const other of others) await import(other);
const settle = async () => { for (let i = 0; i < 4; i += 1) { globalThis.gc(); await new Promise((r) => setTimeout(r, 25)); } return process.memoryUsage(); };
const before = await settle();
for (const target of targets) await import(target);
const after = await settle();
process.stdout.write(JSON.stringify({ rss: after.rss - before.rss, heap: after.heapUsed - before.heapUsed }));
`;

function costOnce(targets: string[], others: string[]): Promise<{ rss: number; heap: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', probe, JSON.stringify([targets, others])], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`measuring ${targets.join(', ')}: exit ${code}: ${err.slice(0, 500)}`));
      resolve(JSON.parse(out) as { rss: number; heap: number });
    });
  });
}

async function measure(targets: string[], others: string[], repeat: number) {
  const runs = [];
  for (let i = 0; i < repeat; i += 1) runs.push(await costOnce(targets, others));
  return { rssBytes: spread(runs.map((r) => r.rss)), heapBytes: spread(runs.map((r) => r.heap)) };
}

/** Each dependency (and group) alone and loaded last, `repeat` times in fresh processes: medians and spread. */
export async function dependencyCosts(repeat = 3, names = runtimeDependencies()): Promise<DependencyCost[]> {
  const items: Array<[string, string[]]> = [...names.map((n): [string, string[]] => [n, [n]]), ...Object.entries(dependencyGroups)];
  const costs: DependencyCost[] = [];
  for (const [name, packages] of items) {
    const others = names.filter((n) => !packages.includes(n));
    costs.push({ name, packages, alone: await measure(packages, [], repeat), last: await measure(packages, others, repeat) });
  }
  return costs.sort((a, b) => b.alone.heapBytes.median - a.alone.heapBytes.median);
}

export function formatCosts(costs: DependencyCost[]): string {
  const mb = (b: number) => (b / (1024 * 1024)).toFixed(1);
  const cell = (s: Spread) => `+${mb(s.median).padStart(5)}`;
  const width = Math.max(...costs.map((c) => c.name.length));
  return [
    `${'dependency'.padEnd(width)}   alone: RSS MB  heap MB   loaded last: RSS MB  heap MB`,
    ...costs.map((c) => `${c.name.padEnd(width)}          ${cell(c.alone.rssBytes)}   ${cell(c.alone.heapBytes)}                ${cell(c.last.rssBytes)}   ${cell(c.last.heapBytes)}`),
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { repeat: { type: 'string', default: '3' } }, strict: true });
  process.stdout.write(`${formatCosts(await dependencyCosts(Number(values.repeat)))}\n`);
}
