import test from 'ava';
import { ifRangeHolds } from '../../src/http/if-range.ts';

const lastModified = 'Sun, 22 Nov 2026 14:00:00 GMT';

test('a matching strong ETag lets the range stand', (t) => {
  t.true(ifRangeHolds('"abc"', '"abc"', lastModified));
});

test('a stale ETag asks for the whole object', (t) => {
  t.false(ifRangeHolds('"old"', '"abc"', lastModified));
});

test('weak ETags never match If-Range', (t) => {
  t.false(ifRangeHolds('W/"abc"', 'W/"abc"', lastModified));
  t.false(ifRangeHolds('"abc"', 'W/"abc"', lastModified));
});

test('a date matches only the exact Last-Modified', (t) => {
  t.true(ifRangeHolds(lastModified, '"abc"', lastModified));
  t.false(ifRangeHolds('Sun, 22 Nov 2026 13:59:59 GMT', '"abc"', lastModified));
  t.false(ifRangeHolds('not a date', '"abc"', lastModified));
  t.false(ifRangeHolds(lastModified, '"abc"', undefined));
});
