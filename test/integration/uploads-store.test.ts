// The upload stores against the real Redis: the rolling 24-hour volume,
// claims on names, and the records of multipart uploads. Time is passed in,
// so that a day can go by without waiting for it.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { s3Stack } from '../support/s3-fixtures.ts';
import { DailyVolume, VOLUME_WINDOW_MS } from '../../src/uploads/daily-volume.ts';
import { UploadRecords, type UploadRecord } from '../../src/uploads/upload-records.ts';
import { UploadProblem } from '../../src/uploads/upload-problem.ts';

const stack = s3Stack();
let redis: Redis;
const prefix = () => `test-${randomBytes(4).toString('hex')}:`;

test.before(() => {
  redis = new Redis(stack.redisUrl);
});

test.after.always(() => {
  redis?.disconnect();
});

test('the daily volume is a rolling 24 hours: bytes charged leave the window a day after they were charged', async (t) => {
  const volume = new DailyVolume(redis, prefix(), 1000);
  const t0 = Date.UTC(2030, 0, 1, 23, 0, 0);
  await volume.charge('ada@example.org', 600, t0);
  await volume.charge('ada@example.org', 400, t0 + 60 * 60 * 1000);
  // past UTC midnight the day's bytes still count
  await t.throwsAsync(volume.charge('ada@example.org', 1, t0 + 2 * 60 * 60 * 1000), { instanceOf: UploadProblem });
  t.is(await volume.used('ada@example.org', t0 + VOLUME_WINDOW_MS - 1), 1000);
  t.is(await volume.used('ada@example.org', t0 + VOLUME_WINDOW_MS + 1), 400, 'the first charge has left the window');
  await volume.charge('ada@example.org', 600, t0 + VOLUME_WINDOW_MS + 1);
  t.is(await volume.used('ada@example.org', t0 + VOLUME_WINDOW_MS + 2), 1000);
});

test('concurrent charges never hand out more than the volume', async (t) => {
  const volume = new DailyVolume(redis, prefix(), 1000);
  const now = Date.now();
  const results = await Promise.allSettled(Array.from({ length: 30 }, () => volume.charge('bob@example.org', 100, now)));
  t.is(results.filter((r) => r.status === 'fulfilled').length, 10);
  t.is(await volume.used('bob@example.org', now), 1000);
});

test('a refund gives a charge back; users are counted apart', async (t) => {
  const volume = new DailyVolume(redis, prefix(), 1000);
  const now = Date.now();
  const receipt = await volume.charge('cy@example.org', 700, now);
  await volume.charge('dee@example.org', 1000, now);
  await volume.refund(receipt);
  t.is(await volume.used('cy@example.org', now), 0);
  t.is(await volume.used('dee@example.org', now), 1000);
  await t.throwsAsync(volume.checkRoom('dee@example.org', now), { instanceOf: UploadProblem });
  await t.notThrowsAsync(volume.checkRoom('cy@example.org', now));
});

test('a claim on a name: the first owner takes it, asks again as self, others see it taken until it lapses or is released', async (t) => {
  const records = new UploadRecords(redis, prefix());
  t.is(await records.claim('public/a.txt', 'ada@example.org', 60_000), 'nobody');
  t.is(await records.claim('public/a.txt', 'ada@example.org', 60_000), 'self');
  t.is(await records.claim('public/a.txt', 'bob@example.org', 60_000), 'other');
  await records.release('public/a.txt', 'bob@example.org');
  t.is(await records.claim('public/a.txt', 'bob@example.org', 60_000), 'other', "one cannot release somebody else's claim");
  await records.release('public/a.txt', 'ada@example.org');
  t.is(await records.claim('public/a.txt', 'bob@example.org', 60_000), 'nobody');
  t.is(await records.claim('public/short.txt', 'ada@example.org', 50), 'nobody');
  await new Promise((resolve) => setTimeout(resolve, 120));
  t.is(await records.claim('public/short.txt', 'bob@example.org', 50), 'nobody', 'lapsed');
});

test('upload records are kept with a lifetime, listed under their owner only, and forgotten on removal', async (t) => {
  const keyPrefix = prefix();
  const records = new UploadRecords(redis, keyPrefix);
  const now = Date.now();
  const record = (uploadId: string, owner: string, expiresIn: number): UploadRecord => ({
    uploadId,
    owner,
    key: `uploads/${owner}/${uploadId}.bin`,
    name: `${uploadId}.bin`,
    type: 'application/octet-stream',
    size: 10,
    createdAt: now,
    expiresAt: now + expiresIn,
  });
  await records.save(record('u1', 'ada@example.org', 60_000));
  await records.save(record('u2', 'ada@example.org', 60_000));
  await records.save(record('u3', 'bob@example.org', 60_000));
  await records.save(record('u4', 'ada@example.org', 50));
  t.deepEqual(await records.load('u1'), record('u1', 'ada@example.org', 60_000));
  t.is(await records.load('nope'), undefined);
  await new Promise((resolve) => setTimeout(resolve, 120));
  t.deepEqual((await records.listOwnedBy('ada@example.org')).map((r) => r.uploadId).sort(), ['u1', 'u2']);
  t.deepEqual((await records.listOwnedBy('bob@example.org')).map((r) => r.uploadId), ['u3']);
  await records.remove(record('u1', 'ada@example.org', 0));
  t.is(await records.load('u1'), undefined);
  t.deepEqual((await records.listOwnedBy('ada@example.org')).map((r) => r.uploadId), ['u2']);
  // every key has a lifetime: nothing is left behind for ever
  const keys = await redis.keys(`${keyPrefix}*`);
  for (const key of keys) t.true((await redis.pttl(key)) > 0, key);
});
