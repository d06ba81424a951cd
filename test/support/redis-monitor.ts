// Counting what Redis is asked, at Redis: MONITOR on each server, for tests
// that prove an instance answered from memory.
import type { ExecutionContext } from 'ava';
import net from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

/**
 * Every HGETALL of a session record under `prefix`, as these Redis servers (a Cluster's nodes) saw them
 * (MONITOR on a plain socket: ioredis 6 mixes its own handshake into it).
 */
export async function countSessionReads(t: ExecutionContext, redisUrls: string[], prefix: string): Promise<() => number> {
  let reads = 0;
  for (const redisUrl of redisUrls) await monitor(t, redisUrl, prefix, () => (reads += 1));
  return () => reads;
}

async function monitor(t: ExecutionContext, redisUrl: string, prefix: string, onRead: () => void): Promise<void> {
  const url = new URL(redisUrl);
  const socket = net.connect(Number(url.port), url.hostname);
  t.teardown(() => socket.destroy());
  const probe = `${prefix}monitor-probe`;
  let seenProbe = false;
  let partial = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\r\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      // 1700000000.123456 [0 127.0.0.1:5000] "hgetall" "prefix:session:..."
      const command = / "([^"]*)" "([^"]*)"/.exec(line);
      if (!command) continue;
      if (command[1]!.toLowerCase() === 'hgetall' && command[2]!.startsWith(`${prefix}session:`)) onRead();
      if (command[2] === probe) seenProbe = true;
    }
  });
  await once(socket, 'connect');
  socket.write('MONITOR\r\n');
  // in force once it has seen a command sent after it
  const client = new Redis(redisUrl, { lazyConnect: true });
  client.on('error', () => undefined);
  await client.connect();
  t.teardown(() => client.disconnect());
  for (let i = 0; i < 50 && !seenProbe; i += 1) {
    // ECHO names no key, so that a Cluster node too runs it (and MONITOR shows it)
    await client.echo(probe);
    await sleep(20);
  }
  if (!seenProbe) throw new Error('MONITOR saw nothing');
}

