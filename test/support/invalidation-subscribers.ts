// How many proxy instances are subscribed to invalidations, as Redis itself
// lists them: an instance subscribes after it starts serving, so a test that
// counts what Redis is asked waits for this before it takes its baseline.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';

/** The proxies' subscriber connections that Redis lists as subscribed. */
export async function proxySubscribers(admin: Redis): Promise<number> {
  const clients = String(await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')).split('\n');
  return clients.filter((line) => line.includes('name=s3proxy-invalidations-') && !/ sub=0 /.test(line)).length;
}

/** Waits (up to `timeoutMs`) until `count` instances are subscribed; false if they never were. */
export async function untilSubscribed(admin: Redis, count: number, timeoutMs = 10_000): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(20)) {
    if ((await proxySubscribers(admin)) >= count) return true;
  }
  return false;
}
