// The leak finder must find what it claims to, or the "reveals nothing" tests prove nothing.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { whereFound } from './reveals.ts';

const secret = 'alice-sub@example.org';

test('the leak finder finds a secret in every encoding it names, inside longer values', (t) => {
  const around = (inner: Buffer) => Buffer.concat([randomBytes(7), Buffer.from('{"x":"'), inner, Buffer.from('"}'), randomBytes(5)]);
  for (const shift of [0, 1, 2, 3, 4]) {
    const wrapped = Buffer.concat([randomBytes(shift), Buffer.from(secret), randomBytes(9)]);
    t.truthy(whereFound(wrapped.toString('base64'), secret), `base64 at shift ${shift}`);
    t.truthy(whereFound(wrapped.toString('base64url'), secret), `base64url at shift ${shift}`);
    t.truthy(whereFound(wrapped.toString('hex').toUpperCase(), secret), `hex at shift ${shift}`);
    t.truthy(whereFound(Buffer.from(wrapped.toString('base64')).toString('base64url'), secret), `base64 of base64 at shift ${shift}`);
  }
  t.truthy(whereFound(around(Buffer.from(secret)), secret), 'raw bytes');
  t.truthy(whereFound(around(Buffer.from(secret, 'utf16le')), secret), 'utf16le');
  t.truthy(whereFound(`a=${encodeURIComponent(secret)}&b=1`, secret), 'URL-encoded');
  const raw = randomBytes(32);
  t.truthy(whereFound(Buffer.concat([randomBytes(3), raw]).toString('base64url'), raw), 'raw bytes secret in base64url');
});

test('the leak finder finds nothing in unrelated random data', (t) => {
  for (let round = 0; round < 20; round++) {
    const data = `${randomBytes(300).toString('base64url')}.${randomBytes(64).toString('hex')}`;
    t.is(whereFound(data, secret), undefined);
    t.is(whereFound(data, randomBytes(32)), undefined);
  }
});
