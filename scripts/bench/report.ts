// The results as a table (each with its target and PASS/MISS) and as JSON.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type Verdict = 'PASS' | 'MISS' | 'INVALID' | '';

export interface Row {
  benchmark: string;
  direct?: string;
  proxy: string;
  ratio?: string;
  target?: string;
  verdict: Verdict;
}

export function ratio(proxy: number, direct: number): string {
  return direct > 0 ? `${(proxy / direct).toFixed(2)}x` : '-';
}

export function verdict(pass: boolean): Verdict {
  return pass ? 'PASS' : 'MISS';
}

export function formatTable(rows: Row[]): string {
  const header = ['benchmark', 'direct', 'proxy', 'proxy/direct', 'target', 'result'];
  const cells = rows.map((r) => [r.benchmark, r.direct ?? '', r.proxy, r.ratio ?? '', r.target ?? '', r.verdict]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => (i === 0 || i === 4 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

export function saveJson(dir: string, stamp: string, data: unknown): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `results-${stamp}.json`);
  writeFileSync(path, JSON.stringify(data, null, 2) + '\n');
  return path;
}
