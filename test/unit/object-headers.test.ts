import test from 'ava';
import { objectHeaders, privateCacheControl, type ObjectFacts } from '../../src/http/object-headers.ts';

const facts = (overrides: Partial<ObjectFacts> = {}): ObjectFacts => ({
  key: 'reports/q3.pdf',
  querystring: '',
  cacheControl: undefined,
  notModified: false,
  signedIn: true,
  ...overrides,
});

test('every object is sandboxed, whatever its type, and never sniffed', (t) => {
  for (const signedIn of [true, false]) {
    const headers = objectHeaders(facts({ signedIn }));
    t.is(headers['content-security-policy'], 'sandbox allow-same-origin');
    t.is(headers['x-content-type-options'], 'nosniff');
  }
});

test('the sandbox lets no script run', (t) => {
  const policy = objectHeaders(facts())['content-security-policy']!;
  const [sandbox, ...flags] = policy.split(';')[0]!.trim().split(/\s+/);
  t.is(sandbox, 'sandbox');
  t.deepEqual(flags, ['allow-same-origin']);
});

test('a signed-in object without Cache-Control is private', (t) => {
  t.is(objectHeaders(facts())['cache-control'], 'private');
});

test("a signed-in object's public max-age becomes a private one", (t) => {
  t.is(objectHeaders(facts({ cacheControl: 'public, max-age=3600' }))['cache-control'], 'private, max-age=3600');
  t.is(privateCacheControl('max-age=60, PUBLIC'), 'private, max-age=60');
});

test('directives for shared caches only are dropped from signed-in objects', (t) => {
  t.is(privateCacheControl('public, max-age=600, s-maxage=86400, proxy-revalidate'), 'private, max-age=600');
  t.is(privateCacheControl('S-MaxAge=5'), 'private');
  // private="field" would leave the rest of the response shareable
  t.is(privateCacheControl('private="set-cookie", max-age=10'), 'private, max-age=10');
  t.is(privateCacheControl('private'), 'private');
});

test('what the object says to the browser cache is kept', (t) => {
  t.is(privateCacheControl('no-cache'), 'private, no-cache');
  t.is(privateCacheControl('no-store'), 'private, no-store');
  t.is(privateCacheControl('max-age=31536000, immutable'), 'private, max-age=31536000, immutable');
  t.is(privateCacheControl('max-age=0, must-revalidate, stale-if-error=60'), 'private, max-age=0, must-revalidate, stale-if-error=60');
  t.is(privateCacheControl('no-cache="x-a, x-b", public'), 'private, no-cache="x-a, x-b"');
  t.is(privateCacheControl(' , max-age=5,,'), 'private, max-age=5');
});

test("a signed-in 304 makes S3's Cache-Control private, and without one leaves the browser's stored copy as it is", (t) => {
  t.is(objectHeaders(facts({ notModified: true, cacheControl: 'public, max-age=600' }))['cache-control'], 'private, max-age=600');
  t.false('cache-control' in objectHeaders(facts({ notModified: true })));
  t.is(objectHeaders(facts({ notModified: true }))['content-security-policy'], 'sandbox allow-same-origin');
});

test('the healthcheck key keeps its own Cache-Control', (t) => {
  t.false('cache-control' in objectHeaders(facts({ signedIn: false, cacheControl: 'public, max-age=30' })));
  t.false('cache-control' in objectHeaders(facts({ signedIn: false })));
});

test('?download saves the object under its own name', (t) => {
  t.is(objectHeaders(facts({ querystring: 'download' }))['content-disposition'], 'attachment; filename=q3.pdf');
  t.is(objectHeaders(facts({ querystring: 'a=1&download=0' }))['content-disposition'], 'attachment; filename=q3.pdf');
  t.false('content-disposition' in objectHeaders(facts({ querystring: 'downloads' })));
});
