// The built proxy (dist/main.js) as a child process, as it runs in production:
// tests talk HTTP to it and read its JSON log lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';

const mainJs = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

// A test file that dies of an uncaught exception never runs its after.always
// hooks; its proxies would outlive the run. The worker's 'exit' still fires.
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});
function track(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export interface ProxyProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** everything written to stdout so far */
  stdout(): string;
  stderr(): string;
  logs(): LogLine[];
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

/** Starts the proxy with exactly this environment (plus PATH), resolving once it listens. */
export async function startProxy(env: Record<string, string | undefined>, { timeoutMs = 15_000 } = {}): Promise<ProxyProcess> {
  const child = track(
    spawn(process.execPath, [mainJs], {
      env: { PATH: process.env.PATH, PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    for (const listener of listeners) listener();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exit = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));

  const logs = (): LogLine[] =>
    out
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine);

  const waitForLog = (predicate: (line: LogLine) => boolean, waitMs = 10_000): Promise<LogLine> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = logs().find(predicate);
        if (found) {
          cleanup();
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no matching log line within ${waitMs} ms; stderr: ${err.slice(0, 2000)}\nstdout tail: ${out.slice(-2000)}`));
      }, waitMs);
      const onExit = () => {
        cleanup();
        reject(new Error(`proxy exited; stderr: ${err.slice(0, 2000)}\nstdout tail: ${out.slice(-2000)}`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        listeners.delete(check);
        child.off('exit', onExit);
      };
      listeners.add(check);
      child.once('exit', onExit);
      check();
    });

  let listening: LogLine;
  try {
    listening = await waitForLog((line) => line.msg === 'listening', timeoutMs);
  } catch (error) {
    // A proxy that never listened would otherwise outlive the test run.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    throw error;
  }
  const port = listening.port as number;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    stdout: () => out,
    stderr: () => err,
    logs,
    waitForLog,
    exit,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exit;
      }
    },
  };
}

/** Runs the proxy expecting it to refuse to start; returns its exit code and stderr. */
export async function runProxyExpectingExit(env: Record<string, string | undefined>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const child = track(spawn(process.execPath, [mainJs], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  let stderr = '';
  let stdout = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const [code] = await once(child, 'exit');
  clearTimeout(timer);
  return { code: code as number | null, stderr, stdout };
}
