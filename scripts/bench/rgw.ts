// Housekeeping on the test stack's Ceph RADOS Gateway, found through
// S3_TEST_CEPH_CONF (written by scripts/rgw-start.sh). Against any other S3
// server these do nothing.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

function cephEnv(conf: string) {
  return { ...process.env, CEPH_CONF: conf };
}

/**
 * RGW frees a deleted object's data only at garbage collection, hours later
 * by default, and the test stack's memstore holds 2 GiB: without this, the
 * second run on one stack fills it and every write hangs.
 */
export async function collectRgwGarbage(say: (line: string) => void): Promise<void> {
  const conf = process.env.S3_TEST_CEPH_CONF;
  if (!conf) return;
  try {
    await run('radosgw-admin', ['gc', 'process', '--include-all'], { env: cephEnv(conf), timeout: 60_000 });
  } catch (error) {
    say(`radosgw-admin gc process failed (${(error as Error).message.split('\n')[0]}); deleted objects stay in RGW's memory`);
  }
}

function adminSocket(conf: string): string | undefined {
  const line = /^\s*admin_socket\s*=\s*(.+)$/m.exec(readFileSync(conf, 'utf8'));
  return line?.[1]?.trim().replace('$name', 'client.rgw');
}

async function setOption(socket: string, conf: string, name: string, value: string): Promise<string> {
  const { stdout } = await run('ceph', ['--admin-daemon', socket, 'config', 'set', name, value], { env: cephEnv(conf), timeout: 10_000 });
  return stdout;
}

async function getOption(socket: string, conf: string, name: string): Promise<string> {
  const { stdout } = await run('ceph', ['--admin-daemon', socket, 'config', 'get', name], { env: cephEnv(conf), timeout: 10_000 });
  return String((JSON.parse(stdout) as Record<string, string>)[name]);
}

/**
 * RGW reads 16 MiB ahead of every GET by default and holds it until the
 * client takes it: a thousand slow readers would cost RGW some 16 GB and
 * start at a few dozen a second. For as long as `body` runs, RGW reads 1 MiB
 * ahead instead; the proxy's side of the test is unchanged.
 * Returns what was done, for the report.
 */
export async function withSmallRgwReadAhead<T>(say: (line: string) => void, body: () => Promise<T>): Promise<{ result: T; note: string }> {
  const conf = process.env.S3_TEST_CEPH_CONF;
  const socket = conf ? adminSocket(conf) : undefined;
  if (!conf || !socket) return { result: await body(), note: 'S3 read-ahead left as it is (not the test stack RGW)' };
  const options = { rgw_get_obj_window_size: String(1 << 20), rgw_get_obj_max_req_size: String(1 << 20) };
  const saved: Record<string, string> = {};
  try {
    for (const [name, value] of Object.entries(options)) {
      saved[name] = await getOption(socket, conf, name);
      await setOption(socket, conf, name, value);
    }
  } catch (error) {
    say(`could not lower RGW's read-ahead (${(error as Error).message.split('\n')[0]}); RGW may need ~16 MB per slow client`);
    return { result: await body(), note: 'S3 read-ahead left as it is (admin socket unusable)' };
  }
  try {
    return { result: await body(), note: 'RGW read-ahead lowered to 1 MiB per GET for this phase (rgw_get_obj_window_size)' };
  } finally {
    for (const [name, value] of Object.entries(saved)) await setOption(socket, conf, name, value).catch(() => undefined);
  }
}
