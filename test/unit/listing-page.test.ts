import test from 'ava';
import {
  breadcrumb,
  humanSize,
  linkable,
  listingHtml,
  listingJson,
  pageTokenFrom,
  pathForKey,
} from '../../src/http/listing-page.ts';
import { classifyListError, pageFromListOutput, type ListingPage } from '../../src/s3/list-objects.ts';
import { keyFromRequestPath } from '../../src/s3/object-key.ts';

const hostileKeys = [
  '<img src=x onerror=alert(1)>.txt',
  `quote"and'apostrophe.txt`,
  'what?#hash.txt',
  '100% sure & more.txt',
  'with space/日本語 ファイル.txt',
  '/leading-slash.txt',
  '//evil.example/x.txt',
  'back\\slash.txt',
  'a+b=c.txt',
];

/** What a browser asks for when it follows `href` from a listing page. */
function keyReachedBy(href: string, from = 'http://proxy.test/some/folder/'): string {
  const parsed = keyFromRequestPath(new URL(href, from).pathname);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.key;
}

function decodeEntities(text: string): string {
  return text.replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');
}

function pageOf(keys: string[], prefix = '', folders: string[] = []): ListingPage {
  return {
    prefix,
    folders: folders.map((key) => ({ key, name: key.slice(prefix.length, -1) })),
    objects: keys.map((key) => ({ key, name: key.slice(prefix.length), size: 1234567, lastModified: new Date('2024-05-01T09:30:00Z'), etag: '"abc"' })),
    nextPageToken: undefined,
    nothingThere: false,
  };
}

test('a link to a key leads a browser back to exactly that key, on this host', (t) => {
  for (const key of hostileKeys) {
    const href = pathForKey(key);
    t.is(keyReachedBy(href), key, key);
    t.is(new URL(href, 'http://proxy.test/x/').host, 'proxy.test', key);
  }
});

test('a folder link for a key with ?, #, %, spaces and unicode leads to that folder', (t) => {
  for (const key of ['q?x/', 'h#x/', 'p%20x/', 's p/', 'ü/日本/', 'a//b/']) t.is(keyReachedBy(pathForKey(key)), key, key);
});

test('a hostile key name is text in the HTML, never markup', (t) => {
  const html = listingHtml(pageOf(hostileKeys), false);
  t.true(html.includes('&lt;img'));
  t.false(html.includes('<img'));
  t.false(html.includes(`quote"and`));
  t.false(html.includes(`and'apos`));
  const hrefs = [...html.matchAll(/href="([^"]*)"/g)].map((m) => decodeEntities(m[1]!));
  for (const key of hostileKeys) t.true(hrefs.some((href) => keyReachedBy(href) === key), key);
});

test('the page has a viewport, folders before files, sizes and dates, and no script', (t) => {
  const html = listingHtml(pageOf(['docs/a.txt'], 'docs/', ['docs/sub/']), false);
  t.true(html.includes('name="viewport"'));
  t.false(/<script/i.test(html));
  t.true(html.indexOf('sub/') < html.indexOf('a.txt'));
  t.true(html.includes('1.2 MB'));
  t.true(html.includes('2024-05-01 09:30 UTC'));
  t.true(html.includes('href="/"'));
});

test('the next page link carries the token percent-encoded, and HTML-escaped', (t) => {
  const page = { ...pageOf(['a.txt']), nextPageToken: 'a"b<c>&d+e/f=' };
  const html = listingHtml(page, false);
  const href = decodeEntities(/href="([^"]*)" rel="next"/.exec(html)![1]!);
  t.deepEqual(pageTokenFrom(new URL(href, 'http://proxy.test/').search.slice(1)), { ok: true, token: page.nextPageToken });
  t.false(html.includes('<c>'));
  t.is(listingJson(page).nextPage, '/?page=' + encodeURIComponent(page.nextPageToken));
});

test('page tokens that are empty, repeated, too long or hold control characters are refused', (t) => {
  t.deepEqual(pageTokenFrom(''), { ok: true, token: undefined });
  t.deepEqual(pageTokenFrom('download'), { ok: true, token: undefined });
  t.deepEqual(pageTokenFrom('page=abc%2B%2F%3D'), { ok: true, token: 'abc+/=' });
  for (const query of ['page=', 'page=a&page=b', `page=${'x'.repeat(5000)}`, 'page=a%00b', 'page=a%0Ab', 'page=%FF']) {
    t.false(pageTokenFrom(query).ok, query);
  }
});

test('sizes are human-readable in decimal units', (t) => {
  t.is(humanSize(0), '0 B');
  t.is(humanSize(999), '999 B');
  t.is(humanSize(1000), '1 kB');
  t.is(humanSize(1234567), '1.2 MB');
  t.is(humanSize(123_456_789), '123 MB');
  t.is(humanSize(999_999), '1 MB');
  t.is(humanSize(5 * 1000 ** 4), '5 TB');
});

test('the breadcrumb goes from the top to the folder, each crumb a link to its level', (t) => {
  t.deepEqual(breadcrumb(''), [{ name: 'Home', path: '/' }]);
  t.deepEqual(breadcrumb('a b/c?/'), [
    { name: 'Home', path: '/' },
    { name: 'a b', path: '/a%20b/' },
    { name: 'c?', path: '/a%20b/c%3F/' },
  ]);
});

test('keys a browser cannot reach (dot segments, control characters) are listed without a link', (t) => {
  t.false(linkable('a/../b.txt'));
  t.false(linkable('./b.txt'));
  t.false(linkable('a\u0001b'));
  t.true(linkable('a..b/.hidden'));
  const html = listingHtml(pageOf(['../escape.txt']), false);
  t.true(html.includes('../escape.txt'));
  t.false(html.includes('escape.txt</a>'));
});

test("S3's answer is mapped relative to the operator's prefix, folder markers left out", (t) => {
  const page = pageFromListOutput(
    {
      CommonPrefixes: [{ Prefix: 'op/docs/sub/' }, { Prefix: 'op/docs//' }],
      Contents: [
        { Key: 'op/docs/', Size: 0 },
        { Key: 'op/docs/a.txt', Size: 5, LastModified: new Date(0), ETag: '"e"' },
      ],
      IsTruncated: true,
      NextContinuationToken: 'tok',
      KeyCount: 4,
    },
    'op/',
    'docs/',
  );
  t.deepEqual(page.folders, [
    { name: 'sub', key: 'docs/sub/' },
    { name: '', key: 'docs//' },
  ]);
  t.deepEqual(page.objects, [{ name: 'a.txt', key: 'docs/a.txt', size: 5, lastModified: new Date(0), etag: '"e"' }]);
  t.is(page.nextPageToken, 'tok');
  t.false(page.nothingThere);
  t.true(pageFromListOutput({ KeyCount: 0, IsTruncated: false }, 'op/', 'none/').nothingThere);
});

test('the JSON form names folders and objects with paths that lead back to them', (t) => {
  const json = listingJson(pageOf(['d/x.txt'], 'd/', ['d/e/']));
  t.deepEqual(json, {
    prefix: 'd/',
    folders: [{ name: 'e', path: '/d/e/' }],
    objects: [{ name: 'x.txt', path: '/d/x.txt', size: 1234567, lastModified: '2024-05-01T09:30:00.000Z', etag: '"abc"' }],
    nextPage: null,
  });
});

test('listing errors map like object errors: denied 403, no bucket 404, credentials 500, S3 down 502, timeout 504', (t) => {
  const s3Error = (status: number, name: string) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
  t.like(classifyListError(s3Error(403, 'AccessDenied')), { status: 403, logAs: 'info' });
  t.like(classifyListError(s3Error(404, 'NoSuchBucket')), { status: 404 });
  t.like(classifyListError(s3Error(403, 'SignatureDoesNotMatch')), { status: 500, logAs: 'error', code: 'SignatureDoesNotMatch' });
  t.like(classifyListError(s3Error(503, 'SlowDown')), { status: 502, logAs: 'error' });
  t.like(classifyListError(Object.assign(new Error('no creds'), { name: 'CredentialsProviderError', $metadata: {} })), { status: 500, code: 'CredentialsProviderError' });
  t.like(classifyListError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED', $metadata: { attempts: 1 } })), { status: 502 });
  t.like(classifyListError(Object.assign(new Error('slow'), { name: 'TimeoutError' })), { status: 504 });
  t.like(classifyListError(Object.assign(new Error('gone'), { name: 'AbortError' })), { status: 499 });
});
