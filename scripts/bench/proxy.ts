// The built proxy as a child process, as in production (`node dist/main.js`),
// optionally with extra node flags (--cpu-prof). Its log goes through a pipe
// that is drained as a log shipper would, counted but not kept: a soak
// writes millions of lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const mainJs = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

export interface LogStats {
  lines: number;
  bytes: number;
  /** warn and above, by message */
  problems: Record<string, number>;
}

export interface BenchProxy {
  url: string;
  port: number;
  pid: number;
  child: ChildProcess;
  log: LogStats;
  stderr(): string;
  /** SIGTERM (the proxy drains and exits, writing any --cpu-prof), SIGKILL after `graceMs` */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startBenchProxy(
  env: Record<string, string>,
  {
    nodeArgs = [],
    cwd,
    timeoutMs = 15_000,
    main = mainJs,
  }: { nodeArgs?: string[]; cwd?: string; timeoutMs?: number; /** another build, to compare */ main?: string } = {},
): Promise<BenchProxy> {
  const child = spawn(process.execPath, [...nodeArgs, main], {
    env: { PATH: process.env.PATH, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(cwd ? { cwd } : {}),
  });
  let spawnError: Error | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => {
      spawnError = error;
      resolve({ code: null, signal: null });
    });
  });
  const log: LogStats = { lines: 0, bytes: 0, problems: {} };
  let stderr = '';
  let partial = '';
  let onListening: ((port: number) => void) | undefined;

  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    if (stderr.length < 64 * 1024) stderr += c;
  });
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    log.bytes += Buffer.byteLength(chunk);
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      log.lines += 1;
      // Request lines (level 30) are the bulk: counted without parsing.
      if (line.startsWith('{"level":30') && !onListening) continue;
      try {
        const entry = JSON.parse(line) as { level?: number; msg?: string; detail?: string; port?: number };
        if (entry.msg === 'listening' && typeof entry.port === 'number') onListening?.(entry.port);
        if ((entry.level ?? 0) >= 40) {
          const key = `${entry.level}: ${entry.msg}${entry.detail ? `: ${String(entry.detail).slice(0, 80)}` : ''}`;
          log.problems[key] = (log.problems[key] ?? 0) + 1;
        }
      } catch {
        log.problems['unparsed output'] = (log.problems['unparsed output'] ?? 0) + 1;
      }
    }
  });

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the proxy did not listen within ${timeoutMs} ms: ${stderr.slice(0, 2000)}`)), timeoutMs);
    onListening = (p) => {
      clearTimeout(timer);
      onListening = undefined;
      resolve(p);
    };
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`the proxy exited (${spawnError?.message ?? code}) before listening: ${stderr.slice(0, 2000)}`));
    });
  });

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    child,
    log,
    stderr: () => stderr,
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}
