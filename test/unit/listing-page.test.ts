import test from 'ava';
import {
  breadcrumb,
  defaultSort,
  humanSize,
  linkable,
  listingHtml,
  listingJson,
  nextSort,
  pageTokenFrom,
  pathForKey,
  signedInAs,
  sortFrom,
  sortListing,
  sortQuery,
  type ListingView,
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

const firstPage: ListingView = { sort: defaultSort };

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
  const html = listingHtml(pageOf(hostileKeys), firstPage);
  t.true(html.includes('&lt;img'));
  t.false(html.includes('<img'));
  t.false(html.includes(`quote"and`));
  t.false(html.includes(`and'apos`));
  const hrefs = [...html.matchAll(/href="([^"]*)"/g)].map((m) => decodeEntities(m[1]!));
  for (const key of hostileKeys) t.true(hrefs.some((href) => keyReachedBy(href) === key), key);
});

test('the page has a viewport, folders before files, sizes and dates, and no script', (t) => {
  const html = listingHtml(pageOf(['docs/a.txt'], 'docs/', ['docs/sub/']), firstPage);
  t.true(html.includes('name="viewport"'));
  t.false(/<script/i.test(html));
  t.true(html.indexOf('sub/') < html.indexOf('a.txt'));
  t.true(html.includes('1.2 MB'));
  t.true(html.includes('2024-05-01 09:30 UTC'));
  t.true(html.includes('href="/"'));
});

test('the next page link carries the token percent-encoded, and HTML-escaped', (t) => {
  const page = { ...pageOf(['a.txt']), nextPageToken: 'a"b<c>&d+e/f=' };
  const html = listingHtml(page, firstPage);
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
  const html = listingHtml(pageOf(['../escape.txt']), firstPage);
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

const ada = { id: 'ada-sub', email: 'ada@example.org', name: 'Ada Lovelace' };

/** A page of objects with these sizes and dates (undefined: no date), in key order. */
function pageWith(objects: Array<[string, number, string | undefined]>, folders: string[] = []): ListingPage {
  return {
    prefix: '',
    folders: folders.map((key) => ({ key, name: key.slice(0, -1) })),
    objects: objects.map(([key, size, date]) => ({ key, name: key, size, lastModified: date === undefined ? undefined : new Date(date), etag: undefined })),
    nextPageToken: undefined,
    nothingThere: false,
  };
}

const names = (page: ListingPage) => [...page.folders.map((f) => f.key), ...page.objects.map((o) => o.key)];

test('the page shows who is signed in and a sign-out button that posts to the sign-out path', (t) => {
  const html = listingHtml(pageOf(['a.txt']), { ...firstPage, user: ada });
  t.true(html.includes('Signed in as Ada Lovelace (ada@example.org)'));
  const form = /<form ([^>]*)>([\s\S]*?)<\/form>/.exec(html);
  t.truthy(form, 'a sign-out form');
  t.regex(form![1]!, /method="post"/);
  t.regex(form![1]!, /action="\/__s3proxy\/logout"/);
  t.regex(form![2]!, /<button type="submit">Sign out<\/button>/);
  t.false(listingHtml(pageOf(['a.txt']), firstPage).includes('<form'), 'no identity, no form');
});

test('a display name is text, never markup; an email alone is shown once', (t) => {
  const html = listingHtml(pageOf([]), { ...firstPage, user: { id: 'x', email: 'x@example.org', name: '<script>alert(1)</script>' } });
  t.false(html.includes('<script>alert'));
  t.true(html.includes('&lt;script&gt;alert(1)&lt;/script&gt; (x@example.org)'));
  t.is(signedInAs({ id: 'b', email: 'b@example.org', name: 'b@example.org' }), 'b@example.org');
  t.is(signedInAs({ id: 'b', email: 'b@example.org', name: '  ' }), 'b@example.org');
});

test('sorting by size puts the largest first, then the smallest on a second click; folders stay first by name', (t) => {
  const page = pageWith(
    [
      ['a.txt', 5, '2024-01-02T00:00:00Z'],
      ['b.txt', 500, '2024-01-01T00:00:00Z'],
      ['c.txt', 50, '2024-01-03T00:00:00Z'],
      ['d.txt', 50, '2024-01-04T00:00:00Z'],
    ],
    ['f1/', 'f2/'],
  );
  const bySize = sortFrom('sort=size');
  t.deepEqual(bySize, { ok: true, sort: { key: 'size', order: 'desc' } });
  t.deepEqual(names(sortListing(page, { key: 'size', order: 'desc' })), ['f1/', 'f2/', 'b.txt', 'c.txt', 'd.txt', 'a.txt']);
  t.deepEqual(names(sortListing(page, { key: 'size', order: 'asc' })), ['f1/', 'f2/', 'a.txt', 'c.txt', 'd.txt', 'b.txt'], 'ties keep key order');
  t.deepEqual(names(sortListing(page, { key: 'name', order: 'desc' })), ['f2/', 'f1/', 'd.txt', 'c.txt', 'b.txt', 'a.txt']);
  t.deepEqual(names(sortListing(page, defaultSort)), names(page), "the default is S3's own order");
});

test('sorting by date puts the newest first; objects without a date go last either way', (t) => {
  const page = pageWith([
    ['old.txt', 1, '2020-01-01T00:00:00Z'],
    ['undated.txt', 1, undefined],
    ['new.txt', 1, '2025-01-01T00:00:00Z'],
  ]);
  t.deepEqual(names(sortListing(page, { key: 'date', order: 'desc' })), ['new.txt', 'old.txt', 'undated.txt']);
  t.deepEqual(names(sortListing(page, { key: 'date', order: 'asc' })), ['old.txt', 'new.txt', 'undated.txt']);
});

test('the sorted page lists its rows in the sorted order', (t) => {
  const page = sortListing(pageWith([['small.txt', 1, undefined], ['large.txt', 9000, undefined]]), { key: 'size', order: 'desc' });
  const html = listingHtml(page, { sort: { key: 'size', order: 'desc' } });
  t.true(html.indexOf('large.txt') < html.indexOf('small.txt'));
});

test('sort and order that are unknown, repeated or malformed are refused; none is S3 order', (t) => {
  t.deepEqual(sortFrom(''), { ok: true, sort: defaultSort });
  t.deepEqual(sortFrom('page=abc'), { ok: true, sort: defaultSort });
  t.deepEqual(sortFrom('sort=date&order=asc'), { ok: true, sort: { key: 'date', order: 'asc' } });
  t.deepEqual(sortFrom('sort=name'), { ok: true, sort: { key: 'name', order: 'asc' } });
  for (const query of ['sort=colour', 'sort=', 'sort=size&sort=name', 'order=up', 'sort=size&order=asc&order=desc', 'sort=SIZE']) {
    t.false(sortFrom(query).ok, query);
  }
});

test("column headings lead to the other order of the current column, or another column's natural order, on the same page", (t) => {
  const view: ListingView = { sort: { key: 'size', order: 'desc' }, pageToken: 'tok/+=' };
  const html = listingHtml({ ...pageOf(['d/a.txt'], 'd/'), nextPageToken: 'next' }, view);
  const headings = [...html.matchAll(/<th class="(\w+)"( aria-sort="\w+")?><a href="([^"]*)">([^<]*)<\/a><\/th>/g)].map((m) => ({
    column: m[1],
    ariaSort: m[2]?.trim(),
    href: decodeEntities(m[3]!),
    text: m[4],
  }));
  t.deepEqual(headings, [
    { column: 'name', ariaSort: undefined, href: '/d/?page=tok%2F%2B%3D', text: 'Name' },
    { column: 'size', ariaSort: 'aria-sort="descending"', href: '/d/?page=tok%2F%2B%3D&sort=size&order=asc', text: 'Size ▼' },
    { column: 'date', ariaSort: undefined, href: '/d/?page=tok%2F%2B%3D&sort=date', text: 'Last modified' },
  ]);
  for (const { href } of headings) {
    const query = new URL(href, 'http://proxy.test/').search.slice(1);
    t.deepEqual(pageTokenFrom(query), { ok: true, token: 'tok/+=' }, href);
    t.true(sortFrom(query).ok, href);
  }
  t.deepEqual(nextSort({ key: 'name', order: 'asc' }, 'name'), { key: 'name', order: 'desc' });
  t.deepEqual(nextSort({ key: 'name', order: 'asc' }, 'date'), { key: 'date', order: 'desc' });
});

test('the next and first page links, and the JSON next page, keep the sort', (t) => {
  const sort = { key: 'date', order: 'asc' } as const;
  const page = { ...pageOf(['d/a.txt'], 'd/'), nextPageToken: 'n' };
  const html = listingHtml(page, { sort, pageToken: 'p' });
  t.regex(html, /<a href="\?page=n&amp;sort=date&amp;order=asc" rel="next">Next page<\/a>/);
  t.regex(html, /<a href="\/d\/\?sort=date&amp;order=asc">First page<\/a>/);
  t.is(listingJson(page, sort).nextPage, '/d/?page=n&sort=date&order=asc');
  t.is(sortQuery(defaultSort), '');
  t.is(listingJson(page).nextPage, '/d/?page=n', 'no sort, no sort parameter');
});
