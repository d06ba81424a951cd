import test from 'ava';
import { randomBytes } from 'node:crypto';
import {
  isWellFormedSessionId,
  newSessionId,
  openSession,
  providerDigest,
  sealSession,
  sessionLookupId,
} from '../../src/auth/session-crypto.ts';
import { whereFound } from '../support/reveals.ts';

const record = () => ({
  identity: { id: `alice-sub-${randomBytes(6).toString('hex')}`, email: 'alice.example@example.org', name: 'Alice Example' },
  accessToken: `tok-${randomBytes(24).toString('base64url')}`,
  providerSession: { sub: `alice-sub-${randomBytes(6).toString('hex')}`, sid: `sid-${randomBytes(12).toString('hex')}` },
});

/** Every string a sealed record must not reveal. */
function secretsOf(data: ReturnType<typeof record>): string[] {
  return [data.identity.id, data.identity.email, data.identity.name, data.accessToken, data.providerSession.sub, data.providerSession.sid];
}

test('a session id carries 256 random bits', (t) => {
  const id = newSessionId();
  t.is(Buffer.from(id, 'base64url').length, 32);
  t.true(isWellFormedSessionId(id));
  t.not(newSessionId(), id);
});

test('the Redis lookup id reveals nothing of the cookie value, in any encoding', (t) => {
  const id = newSessionId();
  const lookup = sessionLookupId(id);
  t.is(lookup, sessionLookupId(id));
  t.is(whereFound(lookup, id), undefined);
  t.is(whereFound(lookup, Buffer.from(id, 'base64url')), undefined);
  // and it is not the cookie's plain digest either: domain-separated from everything else derived from it
  t.not(lookup, providerDigest('sub', id));
});

test('a sealed session holds no byte of what it seals, in any encoding', async (t) => {
  const id = newSessionId();
  const data = record();
  const sealed = await sealSession(id, data);
  const [header, key, iv, ciphertext, tag, ...rest] = sealed.split('.');
  t.is(rest.length, 0);
  t.deepEqual(JSON.parse(Buffer.from(header!, 'base64url').toString('utf8')), { alg: 'dir', enc: 'A256GCM' });
  t.is(key, '', 'no wrapped key: the key comes from the cookie alone');
  t.is(Buffer.from(iv!, 'base64url').length, 12);
  t.is(Buffer.from(tag!, 'base64url').length, 16);
  const plaintext = Buffer.from(JSON.stringify(data));
  const encrypted = Buffer.concat([iv, ciphertext, tag].map((part) => Buffer.from(part!, 'base64url')));
  t.is(Buffer.from(ciphertext!, 'base64url').length, plaintext.length);
  // Not one six-byte run of the plaintext survives (random data would repeat one with odds of about 2^-34).
  const survivors = [];
  for (let at = 0; at + 6 <= plaintext.length; at++) if (encrypted.includes(plaintext.subarray(at, at + 6))) survivors.push(at);
  t.deepEqual(survivors, []);
  for (const secret of [...secretsOf(data), id]) t.is(whereFound(sealed, secret), undefined, secret);
  t.is(whereFound(sealed, Buffer.from(id, 'base64url')), undefined);
});

test('a sealed session opens with the cookie it was sealed for, and decryption with any other cookie fails', async (t) => {
  const id = newSessionId();
  const data = record();
  const sealed = await sealSession(id, data);
  t.deepEqual(await openSession(id, sealed), data);
  // No cache here: each of these is a real decryption with the wrong key.
  for (let other = 0; other < 5; other++) t.is(await openSession(newSessionId(), sealed), undefined);
  // A cookie one bit away from the right one
  const near = Buffer.from(id, 'base64url');
  near[0]! ^= 1;
  t.is(await openSession(near.toString('base64url'), sealed), undefined);
});

test('a sealed session that was tampered with does not open, whichever part was touched', async (t) => {
  const id = newSessionId();
  const sealed = await sealSession(id, record());
  const parts = sealed.split('.');
  for (const index of [0, 2, 3, 4]) {
    const tampered = [...parts];
    const bytes = Buffer.from(tampered[index]!, 'base64url');
    bytes[bytes.length - 1]! ^= 0x80;
    tampered[index] = bytes.toString('base64url');
    t.is(await openSession(id, tampered.join('.')), undefined, `part ${index}`);
  }
  t.is(await openSession(id, 'not a JWE'), undefined);
});

test('provider digests are stable, separated by kind, and reveal nothing', (t) => {
  t.is(providerDigest('sid', 'abc-session'), providerDigest('sid', 'abc-session'));
  t.not(providerDigest('sid', 'abc-session'), providerDigest('sub', 'abc-session'));
  t.is(whereFound(providerDigest('sub', 'alice-sub@example.org'), 'alice-sub@example.org'), undefined);
});

test('malformed cookie values are not session ids', (t) => {
  for (const value of [undefined, '', 'short', 'x'.repeat(44), 'a'.repeat(42) + '!']) t.false(isWellFormedSessionId(value));
});
