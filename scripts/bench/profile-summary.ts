// Where a V8 CPU profile (.cpuprofile, from `node --cpu-prof`) spends its
// time: the top functions by self time, and self and inclusive time by
// package (pino, ioredis, @smithy/*, koa, undici, node's own modules, the
// proxy's own modules), which is what points at a fix. The proxy runs from a
// bundle (scripts/build.ts), so a frame in dist/ is first traced back through
// the bundle's source map to the file it came from.
//   node scripts/bench/profile-summary.ts FILE.cpuprofile [--top N]
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  /** 0-based, as V8 writes them */
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface Row {
  name: string;
  ms: number;
  /** of the time the process was busy (idle excluded) */
  percent: number;
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  busyMs: number;
  topSelf: Row[];
  selfByPackage: Row[];
  inclusiveByPackage: Row[];
}

/** The package (or node module, or project file) a frame belongs to. */
export function packageOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) {
    const parts = url.slice(5).split('/');
    return 'node:' + (parts[0] === 'internal' ? parts.slice(0, Math.min(parts.length, 2)).join('/').replace(/\.js$/, '') : parts[0]);
  }
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  for (const dir of ['/src/', '/dist/']) {
    const at = url.lastIndexOf(dir);
    if (at >= 0) return 'proxy:' + url.slice(at + dir.length).replace(/\.(js|ts)$/, '');
  }
  return url.replace(/^file:\/\//, '');
}

const maps = new Map<string, SourceMap | undefined>();

/** A frame in a bundle file, traced back to the source file and line it was built from. */
export function originalFrame(frame: CallFrame): CallFrame {
  if (!frame.url.startsWith('file:') || !frame.url.includes('/dist/')) return frame;
  if (!maps.has(frame.url)) {
    const file = fileURLToPath(frame.url) + '.map';
    maps.set(frame.url, existsSync(file) ? new SourceMap(JSON.parse(readFileSync(file, 'utf8'))) : undefined);
  }
  const entry = maps.get(frame.url)?.findEntry(frame.lineNumber, frame.columnNumber);
  if (!entry || !('originalSource' in entry)) return frame;
  return {
    functionName: frame.functionName,
    url: new URL(entry.originalSource, frame.url).href,
    lineNumber: entry.originalLine,
    columnNumber: entry.originalColumn,
  };
}

function frameName(frame: CallFrame): string {
  const fn = frame.functionName || '(anonymous)';
  if (!frame.url) return fn;
  const short = frame.url.replace(/^file:\/\/.*\/node_modules\//, '').replace(/^file:\/\/.*\/(src|dist)\//, '$1/');
  return `${fn}  ${short}:${frame.lineNumber + 1}`;
}

const special = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

export function summarise(profile: CpuProfile, top = 25): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const self = new Map<string, number>();
  const selfPackage = new Map<string, number>();
  const inclusivePackage = new Map<string, number>();
  let total = 0;
  let idle = 0;
  const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us);
  const frames = new Map<number, CallFrame>();
  const frameOf = (node: ProfileNode): CallFrame => {
    let frame = frames.get(node.id);
    if (!frame) frames.set(node.id, (frame = originalFrame(node.callFrame)));
    return frame;
  };

  for (let i = 0; i < profile.samples.length; i += 1) {
    // A sample's time is the gap to the next one.
    const us = profile.timeDeltas[i + 1] ?? 0;
    if (us <= 0) continue;
    total += us;
    const node = byId.get(profile.samples[i]!);
    if (!node) continue;
    const frame = frameOf(node);
    if (frame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    add(self, frameName(frame), us);
    add(selfPackage, packageOf(frame), us);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const f = frameOf(byId.get(id)!);
      if (special.has(f.functionName) && !f.url) continue;
      const p = packageOf(f);
      if (!seen.has(p)) {
        seen.add(p);
        add(inclusivePackage, p, us);
      }
    }
  }
  const busy = total - idle;
  const rows = (map: Map<string, number>, n: number): Row[] =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: Math.round(us / 100) / 10, percent: Math.round((us / busy) * 1000) / 10 }));
  return {
    totalMs: Math.round(total / 1000),
    idleMs: Math.round(idle / 1000),
    busyMs: Math.round(busy / 1000),
    topSelf: rows(self, top),
    selfByPackage: rows(selfPackage, 15),
    inclusiveByPackage: rows(inclusivePackage, 20),
  };
}

export function summariseFile(path: string, top = 25): ProfileSummary {
  return summarise(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile, top);
}

export function formatSummary(summary: ProfileSummary): string {
  const lines: string[] = [];
  const table = (title: string, rows: Row[]) => {
    lines.push('', title);
    for (const row of rows) lines.push(`  ${row.percent.toFixed(1).padStart(5)} %  ${row.ms.toFixed(0).padStart(7)} ms  ${row.name}`);
  };
  lines.push(
    `profiled ${summary.totalMs} ms: busy ${summary.busyMs} ms, idle ${summary.idleMs} ms (${((summary.idleMs / summary.totalMs) * 100).toFixed(1)} %); percentages are of busy time`,
  );
  table('top functions by self time', summary.topSelf);
  table('self time by package', summary.selfByPackage);
  table('inclusive time by package (time with the package anywhere on the stack)', summary.inclusiveByPackage);
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node scripts/bench/profile-summary.ts FILE.cpuprofile [--top N]\n');
    process.exit(2);
  }
  const topIndex = process.argv.indexOf('--top');
  const top = topIndex > 0 ? Number(process.argv[topIndex + 1]) : 25;
  process.stdout.write(formatSummary(summariseFile(file, top)) + '\n');
}
