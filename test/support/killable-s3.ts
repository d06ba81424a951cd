// An S3 endpoint of the test's own that can be killed, restarted and frozen,
// whichever S3 server the stack started:
// - with the Ceph stack, a second radosgw process of the same cluster
//   (scripts/rgw-gateway.sh): SIGKILL and SIGSTOP of a real server process;
// - with any other server (MinIO, an external S3), a TCP relay in front of
//   the stack's S3: kill closes the listener and cuts every connection (what
//   a proxy sees of a crashed server), freeze holds every byte (what it sees
//   of a stopped one). The server behind it stays real.
// `how` says which, for the test output.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { S3Stack } from './s3-fixtures.ts';
import { startTcpRelay } from './tcp-relay.ts';

export interface KillableS3 {
  /** the endpoint's origin, e.g. http://127.0.0.1:PORT */
  url: string;
  /** what kill() and freeze() do to which server */
  how: string;
  /** S3 crashes: open connections die, new ones are refused */
  kill(): Promise<void>;
  /** S3 comes back on the same port */
  restart(): Promise<void>;
  /** S3 stops answering (connections stay open, nothing moves) */
  freeze(): void;
  thaw(): void;
  close(): Promise<void>;
}

const gatewayScript = fileURLToPath(new URL('../../scripts/rgw-gateway.sh', import.meta.url));
const run = promisify(execFile);

async function cephGateway(): Promise<KillableS3> {
  const stateDir = mkdtempSync(join(tmpdir(), 's3proxy-gateway-'));
  let port: number | undefined;
  let pid = 0;
  const start = async () => {
    const { stdout } = await run('bash', [gatewayScript, 'start', stateDir, ...(port === undefined ? [] : [String(port)])], { timeout: 60_000 });
    const [p, id] = stdout.trim().split(' ').map(Number);
    port = p!;
    pid = id!;
  };
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  };
  await start();
  return {
    url: `http://127.0.0.1:${port!}`,
    how: 'a second radosgw process of the Ceph test cluster, SIGKILLed and SIGSTOPped',
    // the script also releases the dead gateway's watches, so that the shared
    // gateway other test files use is not held up by them
    kill: async () => void (await run('bash', [gatewayScript, 'kill', stateDir], { timeout: 30_000 })),
    restart: start,
    freeze: () => signal('SIGSTOP'),
    thaw: () => signal('SIGCONT'),
    async close() {
      signal('SIGCONT');
      await run('bash', [gatewayScript, 'stop', stateDir], { timeout: 30_000 }).catch(() => undefined);
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

async function relayed(stack: S3Stack, why: string): Promise<KillableS3> {
  const relay = await startTcpRelay({ host: stack.endpoint.hostname, port: Number(stack.endpoint.port) });
  return {
    url: relay.url,
    how: `a TCP relay in front of the stack's S3 (${process.env.S3_TEST_KIND ?? 'unknown kind'}), killed and frozen at the relay: ${why}`,
    kill: () => relay.kill(),
    restart: () => relay.revive(),
    freeze: () => relay.freeze(),
    thaw: () => relay.thaw(),
    close: () => relay.close(),
  };
}

export function startKillableS3(stack: S3Stack): Promise<KillableS3> {
  // Only the Ceph stack can start a second server of the same data
  // (S3_TEST_CEPH_CONF comes from scripts/rgw-start.sh).
  if (process.env.S3_TEST_CEPH_CONF) return cephGateway();
  return relayed(stack, 'only the Ceph stack can start a second server process here');
}
