import test from 'ava';
import { isWellFormedSessionId, newSessionId, openSession, sealSession, sessionLookupId } from '../../src/auth/session-crypto.ts';

test('a session id carries 256 random bits', (t) => {
  const id = newSessionId();
  t.is(Buffer.from(id, 'base64url').length, 32);
  t.true(isWellFormedSessionId(id));
  t.not(newSessionId(), id);
});

test('the Redis lookup id reveals nothing of the cookie value', (t) => {
  const id = newSessionId();
  t.false(sessionLookupId(id).includes(id));
  t.is(sessionLookupId(id), sessionLookupId(id));
});

test('a sealed session opens only with the cookie it was sealed for', async (t) => {
  const id = newSessionId();
  const sealed = await sealSession(id, { accessToken: 'tok-123', identity: { email: 'a@example.org' } });
  t.false(sealed.includes('tok-123'));
  t.false(sealed.includes('a@example.org'));
  t.deepEqual(await openSession(id, sealed), { accessToken: 'tok-123', identity: { email: 'a@example.org' } });
  t.is(await openSession(newSessionId(), sealed), undefined);
  t.is(await openSession(id, sealed.slice(0, -4) + 'AAAA'), undefined);
});

test('malformed cookie values are not session ids', (t) => {
  for (const value of [undefined, '', 'short', 'x'.repeat(44), 'a'.repeat(42) + '!']) t.false(isWellFormedSessionId(value));
});
