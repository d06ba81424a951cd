import test from 'ava';
import { encodeKeyForS3, keyFromRequestPath } from '../../src/s3/object-key.ts';
import { bucketPath, objectTarget } from '../../src/s3/s3-target.ts';
import type { BucketLocation } from '../../src/config/config.ts';

const pathStyle: BucketLocation = { origin: 'http://127.0.0.1:9000', bucket: 'assets', style: 'path', keyPrefix: 'public/' };
const hostStyle: BucketLocation = { origin: 'https://assets.s3.eu-west-2.amazonaws.com', bucket: 'assets', style: 'virtual-host', keyPrefix: '' };

function key(path: string): string {
  const result = keyFromRequestPath(path);
  if (!result.ok) throw new Error(`expected ${path} to map to a key: ${result.reason}`);
  return result.key;
}

test('the request path is percent-decoded exactly once', (t) => {
  t.is(key('/reports/q3%20final.pdf'), 'reports/q3 final.pdf');
  t.is(key('/100%2525.txt'), '100%25.txt');
});

test('a literal plus stays a plus', (t) => {
  t.is(key('/a+b.txt'), 'a+b.txt');
  t.is(key('/a%2Bb.txt'), 'a+b.txt');
});

test('unicode, punctuation and double slashes survive the mapping', (t) => {
  t.is(key('/%E6%97%A5%E6%9C%AC/caf%C3%A9.txt'), '日本/café.txt');
  t.is(key("/a=b&c(d)'e!f*g~h.txt"), "a=b&c(d)'e!f*g~h.txt");
  t.is(key('/a//b/'), 'a//b/');
});

test('without a key prefix, dot segments are kept as part of the key, never resolved', (t) => {
  t.is(key('/../x'), '../x');
  t.is(key('/%2e%2e/x'), '../x');
  t.is(key('/a/%2E%2E/%2E%2E/x'), 'a/../../x');
  t.is(key('/x/./y.txt'), 'x/./y.txt');
});

/** Paths with a `.` or `..` segment once decoded, however they are spelt. */
const dotSegmentPaths = [
  '/../x',
  '/..',
  '/./x',
  '/.',
  '/a/..',
  '/a/../../x',
  '/%2e%2e/x',
  '/%2E%2E/x',
  '/.%2e/x',
  '/%2e./x',
  '/%2e/x',
  '/a%2F..%2F..%2Fx',
  '/a/%2E%2E/%2E%2E/x',
  '/..%5Cx',
  '/a%5C..%5C..%5Cx',
  '//../x',
];

test('with a key prefix, a path with a dot segment is refused, however it is spelt', (t) => {
  for (const path of dotSegmentPaths) {
    const result = keyFromRequestPath(path, 'public/');
    t.false(result.ok, path);
    t.like(result, { reason: 'dot segment in path under a key prefix' }, path);
  }
});

test('with a key prefix, dots that are not whole segments are part of the key', (t) => {
  for (const [path, expected] of [
    ['/a..b/x', 'a..b/x'],
    ['/.hidden', '.hidden'],
    ['/x/.../y', 'x/.../y'],
    ['/report.v2..pdf', 'report.v2..pdf'],
    ['/a//b/', 'a//b/'],
  ] as const) {
    const result = keyFromRequestPath(path, 'public/');
    t.deepEqual(result, { ok: true, key: expected }, path);
  }
});

/**
 * What an S3-compatible server that normalises request paths (as a WHATWG URL
 * parser does: `..`, `.`, `%2e`, and `\` in special schemes) would read.
 */
const normalisedBy = (path: string): string => new URL(path, 'http://s3.example').pathname;

test('no accepted path under a prefix leads a path-normalising S3 server outside it', (t) => {
  const paths = [...dotSegmentPaths, '/a..b/x', '/.hidden', '/x/.../y', '/ok.txt', '/a/b/c.txt', '/%2e%2ex', '/a%2Fb'];
  let accepted = 0;
  for (const path of paths) {
    const result = keyFromRequestPath(path, 'public/');
    if (!result.ok) continue;
    accepted += 1;
    const target = objectTarget(pathStyle, result.key);
    t.true(normalisedBy(target.path).startsWith('/assets/public/'), `${path} -> ${target.path} -> ${normalisedBy(target.path)}`);
  }
  t.is(accepted, 7, 'the keys without dot segments are accepted');
});

test('malformed percent-encoding is refused', (t) => {
  for (const path of ['/%', '/%zz', '/a%2', '/%C0%AF', '/%ED%A0%80', '/%FF']) {
    const result = keyFromRequestPath(path);
    t.false(result.ok, path);
  }
});

test('control characters never reach S3', (t) => {
  for (const path of ['/a%00b', '/a%0D%0Ab', '/%7F']) t.false(keyFromRequestPath(path).ok, path);
});

test('a path that does not start with a slash is refused', (t) => {
  t.false(keyFromRequestPath('http://evil/x').ok);
});

test('keys are encoded the SigV4 way, slashes kept', (t) => {
  t.is(encodeKeyForS3("a b/c+d/e%f/(g)!'*~.txt"), 'a%20b/c%2Bd/e%25f/%28g%29%21%27%2A~.txt');
  t.is(encodeKeyForS3('日本'), '%E6%97%A5%E6%9C%AC');
  t.is(encodeKeyForS3('a//b/../c'), 'a//b/../c');
});

test('path-style targets name the bucket in the path, virtual-host ones do not', (t) => {
  t.is(objectTarget(pathStyle, 'a b.txt').path, '/assets/public/a%20b.txt');
  t.is(objectTarget(hostStyle, 'a b.txt').path, '/a%20b.txt');
  t.is(bucketPath(pathStyle), '/assets');
  t.is(bucketPath(hostStyle), '/');
});
