// A redis-server of a test's own, keeping nothing on disk, so that a test
// can take Redis away without taking it from everybody else.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { freePort } from './free-port.ts';

export interface OwnRedis {
  url: string;
  port: number;
  /** SIGKILL: connections drop at once, as in a crash */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: memory and connections stay, nothing answers (a hung server) */
  freeze(): void;
  thaw(): void;
}

/** On `port` (to come back where a proxy expects it), or a free one. */
export async function startOwnRedis(port?: number): Promise<OwnRedis> {
  port ??= await freePort();
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${out}`));
    });
  });
  child.stdout!.resume();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    freeze() {
      if (child.exitCode === null) child.kill('SIGSTOP');
    },
    thaw() {
      if (child.exitCode === null) child.kill('SIGCONT');
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}
