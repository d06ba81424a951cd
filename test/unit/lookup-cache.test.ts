// The short-lived memory of looked-up sessions, and how invalidation
// messages read: pure, on a clock the test turns.
import test from 'ava';
import { LookupCache } from '../../src/auth/lookup-cache.ts';
import { parseInvalidation } from '../../src/store/invalidation-channel.ts';

test('an entry answers until its time to live has passed, and not after', (t) => {
  const cache = new LookupCache<string>(1_000, 10);
  cache.set('a', 'one', 5_000);
  t.is(cache.get('a', 5_000), 'one');
  t.is(cache.get('a', 5_999), 'one');
  t.is(cache.get('a', 6_000), undefined);
  t.is(cache.size, 0, 'dropped once expired');
});

test('a clock that goes back never makes an entry answer', (t) => {
  const cache = new LookupCache<string>(1_000, 10);
  cache.set('a', 'one', 5_000);
  t.is(cache.get('a', 4_999), undefined);
});

test('at most capacity entries, the oldest out first; storing again makes an entry the newest', (t) => {
  const cache = new LookupCache<number>(1_000, 2);
  cache.set('a', 1, 0);
  cache.set('b', 2, 0);
  cache.set('a', 11, 1);
  cache.set('c', 3, 2);
  t.is(cache.get('b', 3), undefined);
  t.is(cache.get('a', 3), 11);
  t.is(cache.get('c', 3), 3);
  t.is(cache.size, 2);
});

test('a time to live or capacity of 0 keeps nothing; delete and clear forget', (t) => {
  const none = new LookupCache<number>(0, 10);
  none.set('a', 1, 0);
  t.is(none.get('a', 0), undefined);
  const empty = new LookupCache<number>(1_000, 0);
  empty.set('a', 1, 0);
  t.is(empty.size, 0);
  const cache = new LookupCache<number>(1_000, 10);
  cache.set('a', 1, 0);
  cache.set('b', 2, 0);
  cache.delete('a');
  t.is(cache.get('a', 1), undefined);
  t.is(cache.get('b', 1), 2);
  cache.clear();
  t.is(cache.size, 0);
});

test('an invalidation message names lookup ids; "*" or anything malformed means everything', (t) => {
  const id = 'a'.repeat(43);
  const other = 'B-_'.repeat(14) + 'x';
  t.deepEqual(parseInvalidation(`${id} ${other}`), { kind: 'ids', ids: [id, other] });
  t.deepEqual(parseInvalidation('*'), { kind: 'all' });
  t.deepEqual(parseInvalidation(''), { kind: 'all' });
  t.deepEqual(parseInvalidation(`${id}  ${other}`), { kind: 'all' }, 'an empty id');
  t.deepEqual(parseInvalidation(`${id} key:with:colons`), { kind: 'all' });
});
