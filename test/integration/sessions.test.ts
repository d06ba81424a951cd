// Sessions against the real Redis: what a cookie opens, what this instance
// keeps in memory and when it lets go, the provider-session indexes that
// back-channel logout uses, and what Redis holds (nothing readable).
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { Sessions, type ProviderSession } from '../../src/auth/sessions.ts';
import { newSessionId, sessionLookupId } from '../../src/auth/session-crypto.ts';
import { s3Stack } from '../support/s3-fixtures.ts';
import { whereFound } from '../support/reveals.ts';

const stack = s3Stack();
let redis: Redis;

test.before(() => {
  redis = new Redis(stack.redisUrl);
});
test.after.always(() => redis?.disconnect());

const maxAge = 600;
const freshPrefix = () => `test-sessions-${randomBytes(4).toString('hex')}:`;
const identity = (who: string) => ({ id: `${who}-sub-${randomBytes(4).toString('hex')}`, email: `${who}.person@example.org`, name: `${who} Person` });
const token = () => `access-${randomBytes(24).toString('base64url')}`;

/** Every key under the prefix with everything stored in it, as text. */
async function everythingUnder(prefix: string): Promise<string[]> {
  const found: string[] = [];
  for (const key of await redis.keys(`${prefix}*`)) {
    found.push(key);
    const type = await redis.type(key);
    if (type === 'string') found.push((await redis.get(key)) ?? '');
    else if (type === 'hash') found.push(...Object.entries(await redis.hgetall(key)).flat());
    else if (type === 'zset') found.push(...(await redis.zrange(key, '0', '-1', 'WITHSCORES')));
    else if (type === 'set') found.push(...(await redis.smembers(key)));
    else if (type === 'list') found.push(...(await redis.lrange(key, 0, -1)));
    else found.push(`unexpected type ${type}`);
  }
  return found;
}

test('a session opens with its cookie and no other, from this instance memory or from Redis alone', async (t) => {
  const prefix = freshPrefix();
  const cached = new Sessions(redis, prefix, maxAge);
  const uncached = new Sessions(redis, prefix, maxAge, { openedCacheSize: 0 });
  const who = identity('alice');
  const session = await cached.create(who, token(), { sub: who.id, sid: 'sid-one' });

  t.deepEqual((await cached.load(session.id))?.identity, who);
  t.is(cached.openedInMemory, 1, 'the opened session is now held in memory');
  t.deepEqual((await cached.load(session.id))?.identity, who, 'and answers again from there');
  t.deepEqual((await uncached.load(session.id))?.identity, who);
  t.is(uncached.openedInMemory, 0);

  // Someone who can write Redis copies the record under a cookie of their own.
  const intruder = newSessionId();
  const record = await redis.hgetall(`${prefix}session:${sessionLookupId(session.id)}`);
  await redis.hset(`${prefix}session:${sessionLookupId(intruder)}`, record);
  t.is(await cached.load(intruder), undefined, 'refused although the very record is held in memory');
  t.is(await uncached.load(intruder), undefined, 'refused by decryption with the intruder cookie');
  t.is(await new Sessions(redis, prefix, maxAge).load(intruder), undefined, 'refused by a fresh instance');
  t.is(cached.openedInMemory, 1, 'nothing held for the intruder');
});

test('memory answers only while Redis holds the very record that was opened', async (t) => {
  const prefix = freshPrefix();
  const sessions = new Sessions(redis, prefix, maxAge);
  const session = await sessions.create(identity('alice'), token());
  const key = `${prefix}session:${sessionLookupId(session.id)}`;
  t.truthy(await sessions.load(session.id));

  const sealed = (await redis.hget(key, 'sealed'))!;
  await redis.hset(key, 'sealed', sealed.slice(0, -4) + (sealed.endsWith('AAAA') ? 'BBBB' : 'AAAA'));
  t.is(await sessions.load(session.id), undefined, 'a tampered record is decrypted, and fails, though memory holds the original');
  t.is(sessions.openedInMemory, 0);

  await redis.hset(key, 'sealed', sealed);
  t.truthy(await sessions.load(session.id));
  await redis.del(key); // signed out through another instance
  t.is(await sessions.load(session.id), undefined);
  t.is(sessions.openedInMemory, 0);
});

test('destroy ends the session in Redis, in its provider indexes and in this instance memory', async (t) => {
  const prefix = freshPrefix();
  const sessions = new Sessions(redis, prefix, maxAge);
  const who = identity('alice');
  const session = await sessions.create(who, token(), { sub: who.id, sid: 'sid-destroyed' });
  await sessions.load(session.id);
  t.is(sessions.openedInMemory, 1);
  const indexes = (await redis.keys(`${prefix}session-*`)).sort();
  t.is(indexes.length, 2, 'one index for the sid, one for the sub');
  for (const index of indexes) t.deepEqual(await redis.zrange(index, '0', '-1'), [sessionLookupId(session.id)]);

  await sessions.destroy(session.id);
  t.is(sessions.openedInMemory, 0);
  t.is(await sessions.load(session.id), undefined);
  t.deepEqual(await redis.keys(`${prefix}*`), [], 'nothing is left behind');
});

test('ending a provider session ends every session of that sid and no other; without a sid, every session of that sub', async (t) => {
  const prefix = freshPrefix();
  const sessions = new Sessions(redis, prefix, maxAge);
  const other = new Sessions(redis, prefix, maxAge); // another instance, same Redis
  const alice = identity('alice');
  const bob = identity('bob');
  const make = (who: typeof alice, provider: ProviderSession) => sessions.create(who, token(), provider);
  const aliceA1 = await make(alice, { sub: alice.id, sid: 'sid-a' });
  const aliceA2 = await make(alice, { sub: alice.id, sid: 'sid-a' });
  const aliceB = await make(alice, { sub: alice.id, sid: 'sid-b' });
  const bobC = await make(bob, { sub: bob.id, sid: 'sid-c' });
  const alive = async () => {
    const result: string[] = [];
    for (const [name, session] of Object.entries({ aliceA1, aliceA2, aliceB, bobC })) if (await other.load(session.id)) result.push(name);
    return result;
  };
  t.deepEqual(await alive(), ['aliceA1', 'aliceA2', 'aliceB', 'bobC']);
  t.is(other.openedInMemory, 4);

  t.is(await sessions.endProviderSessions({ sid: 'sid-a', sub: alice.id }), 2);
  t.deepEqual(await alive(), ['aliceB', 'bobC']);
  t.is(await sessions.endProviderSessions({ sub: alice.id }), 1);
  t.deepEqual(await alive(), ['bobC']);
  t.is(other.openedInMemory, 1, 'the other instance let go of what Redis no longer holds');
  t.is(await sessions.endProviderSessions({ sid: 'sid-unknown' }), 0);
  t.is(await sessions.endProviderSessions({ sub: 'nobody' }), 0);
  t.deepEqual(await alive(), ['bobC']);
});

test('provider indexes expire with their sessions and shed expired entries', async (t) => {
  const prefix = freshPrefix();
  const sessions = new Sessions(redis, prefix, maxAge);
  const who = identity('alice');
  const long = Date.now();
  await sessions.create(who, token(), { sub: who.id, sid: 'sid-x' }, long - 2 * maxAge * 1000); // listed as expired already
  const current = await sessions.create(who, token(), { sub: who.id }, long);
  const [subIndex] = await redis.keys(`${prefix}session-sub:*`);
  t.deepEqual(await redis.zrange(subIndex!, '0', '-1'), [sessionLookupId(current.id)], 'the expired entry was dropped');
  const ttl = await redis.pttl(subIndex!);
  t.true(ttl > (maxAge - 5) * 1000 && ttl <= maxAge * 1000, `index lives as long as its last session (${ttl} ms)`);
  const sessionTtl = await redis.ttl(`${prefix}session:${sessionLookupId(current.id)}`);
  t.true(sessionTtl > maxAge - 5 && sessionTtl <= maxAge);
});

test('a logout token id is honoured once', async (t) => {
  const sessions = new Sessions(redis, freshPrefix(), maxAge);
  const jti = `jti-${randomBytes(8).toString('hex')}`;
  t.true(await sessions.claimLogoutToken(jti, 60));
  t.false(await sessions.claimLogoutToken(jti, 60));
  t.true(await sessions.claimLogoutToken(`${jti}-other`, 60));
  await sessions.releaseLogoutToken(jti);
  t.true(await sessions.claimLogoutToken(jti, 60));
});

test('Redis holds no identity, token, provider id or cookie, in any encoding', async (t) => {
  const prefix = freshPrefix();
  const sessions = new Sessions(redis, prefix, maxAge);
  const secrets: Array<string | Buffer> = [];
  for (const name of ['alice', 'bob']) {
    const who = identity(name);
    const accessToken = token();
    const provider = { sub: `${name}-provider-sub-${randomBytes(4).toString('hex')}`, sid: `${name}-sid-${randomBytes(8).toString('hex')}` };
    const session = await sessions.create(who, accessToken, provider);
    await sessions.markChecked(session.id);
    await sessions.claimLogoutToken(`${name}-jti-${randomBytes(8).toString('hex')}`, 60);
    secrets.push(who.id, who.email, who.name, accessToken, provider.sub, provider.sid, session.id, Buffer.from(session.id, 'base64url'));
  }
  const stored = await everythingUnder(prefix);
  t.true(stored.length >= 8, 'two sessions, four indexes and two logout tokens were written');
  const found = [];
  for (const value of stored) for (const secret of secrets) {
    const where = whereFound(value, secret);
    if (where) found.push(`${String(secret)} as ${where} in ${value.slice(0, 60)}`);
  }
  t.deepEqual(found, []);
});
