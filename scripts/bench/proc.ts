// What /proc says about a process: resident memory (now and peak) and open
// file descriptors, read directly so sampling costs the proxy nothing.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

export interface MemorySample {
  /** milliseconds since the sampler started */
  atMs: number;
  rssBytes: number;
  /** the kernel's high-water mark of RSS since the process started */
  hwmBytes: number;
  fds: number;
}

function statusField(status: string, name: string): number {
  const match = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
  return match ? Number(match[1]) * 1024 : Number.NaN;
}

export function sampleProcess(pid: number, startedAt = performance.now()): MemorySample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  let fds = Number.NaN;
  try {
    fds = readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    // another user's process, or gone: memory alone is still worth reporting
  }
  return {
    atMs: Math.round(performance.now() - startedAt),
    rssBytes: statusField(status, 'VmRSS'),
    hwmBytes: statusField(status, 'VmHWM'),
    fds,
  };
}

export interface Sampler {
  samples: MemorySample[];
  stop(): MemorySample[];
}

/** Samples every `intervalMs` until stopped; a process that exits ends the sampling quietly. */
export function startSampler(pid: number, intervalMs: number): Sampler {
  const startedAt = performance.now();
  const samples: MemorySample[] = [sampleProcess(pid, startedAt)];
  const timer = setInterval(() => {
    try {
      samples.push(sampleProcess(pid, startedAt));
    } catch {
      clearInterval(timer);
    }
  }, intervalMs);
  return {
    samples,
    stop() {
      clearInterval(timer);
      try {
        samples.push(sampleProcess(pid, startedAt));
      } catch {
        // already gone
      }
      return samples;
    },
  };
}

export const mb = (bytes: number): number => Math.round((bytes / (1024 * 1024)) * 10) / 10;

let ticksPerSecond: number | undefined;

/** CPU time (user + system) the process has used so far, in seconds. */
export function cpuSeconds(pid: number): number {
  ticksPerSecond ??= (() => {
    try {
      return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      return 100;
    }
  })();
  // The command name, in parentheses, may hold spaces: count fields after it.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}
