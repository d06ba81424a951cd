// The provider-session indexes and logout-token memory on a real three-master
// Redis Cluster (scripts/redis-cluster-start.sh): every command touches one
// key, so no CROSSSLOT refusal, whichever masters the keys land on.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import { Sessions } from '../../src/auth/sessions.ts';

const run = promisify(execFile);
const scripts = fileURLToPath(new URL('../../scripts/', import.meta.url));

let stateDir: string;
let cluster: Cluster;

test.before(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 's3proxy-sessions-cluster-'));
  const { stdout } = await run('bash', [join(scripts, 'redis-cluster-start.sh'), stateDir], { timeout: 60_000 });
  const [seed] = stdout.trim().split(',');
  const url = new URL(seed!);
  cluster = new Cluster([{ host: url.hostname, port: Number(url.port) }]);
});

test.after.always(async () => {
  cluster?.disconnect();
  if (stateDir) {
    await run('bash', [join(scripts, 'redis-cluster-stop.sh'), stateDir], { timeout: 30_000 }).catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('on a Redis Cluster, sessions are listed, ended by sid and by sub, destroyed, and logout tokens remembered', async (t) => {
  const sessions = new Sessions(cluster, `test-${randomBytes(4).toString('hex')}:`, 600);
  const alice = { id: 'alice-sub', email: 'alice@example.org', name: 'Alice' };
  const bob = { id: 'bob-sub', email: 'bob@example.org', name: 'Bob' };
  const created = [];
  for (let round = 0; round < 6; round++) {
    created.push(await sessions.create(alice, `token-a-${round}`, { sub: alice.id, sid: `sid-${round % 3}` }));
  }
  const bobSession = await sessions.create(bob, 'token-b', { sub: bob.id, sid: 'sid-bob' });
  for (const session of created) t.truthy(await sessions.load(session.id));

  t.is(await sessions.endProviderSessions({ sid: 'sid-0' }), 2);
  await sessions.destroy(created[1]!.id);
  t.is(await sessions.endProviderSessions({ sub: alice.id }), 3);
  for (const session of created) t.is(await sessions.load(session.id), undefined);
  t.truthy(await sessions.load(bobSession.id));
  t.true(await sessions.claimLogoutToken('jti-1', 60));
  t.false(await sessions.claimLogoutToken('jti-1', 60));
});
