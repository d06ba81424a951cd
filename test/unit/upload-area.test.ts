import test from 'ava';
import type { UploadSettings } from '../../src/config/upload-settings.ts';
import { listingContentSecurityPolicy } from '../../src/http/listing-page.ts';
import { multipartFromBytes, restrictionsNote, uploadArea, uploadAreaHtml, uploadEndpointPath } from '../../src/http/upload-area.ts';

const settings: UploadSettings = { prefixTemplate: 'uploads/{user}/', maxBytes: 64 * 1024 ** 2, urlTtlSeconds: 900, overwrite: 'never', dataPath: 'direct' };
const ada = { id: 'ada', email: 'Ada@Example.org', name: 'Ada' };

function dataAttributes(html: string): Record<string, string> {
  const section = /<section [^>]*>/.exec(html)![0];
  const decode = (v: string) => v.replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');
  return Object.fromEntries([...section.matchAll(/ data-([a-z-]+)="([^"]*)"/g)].map((m) => [m[1]!, decode(m[2]!)]));
}

test("the files go to the user's own folder, and that folder's listing is the one that updates itself", (t) => {
  t.like(uploadArea(settings, ada, 'uploads/ada@example.org/'), { destination: 'uploads/ada@example.org/', folder: 'uploads/ada@example.org/', here: true });
  t.like(uploadArea(settings, ada, ''), { here: false });
  t.like(uploadArea(settings, ada, 'uploads/'), { here: false });
  t.like(uploadArea(settings, ada, 'uploads/ada@example.org/sub/'), { here: false }, 'uploads land in the folder itself, not below it');
});

test('a prefix that ends inside a name lists its files in the folder before it, and says how their names start', (t) => {
  const area = uploadArea({ ...settings, prefixTemplate: 'inbox/{user_hash}-' }, ada, 'inbox/');
  t.true(area.here);
  t.is(area.folder, 'inbox/');
  t.regex(area.destination, /^inbox\/[0-9a-f]{20}-$/);
  t.true(uploadAreaHtml(area).includes(`with names starting ${area.destination.slice('inbox/'.length)}`));
});

test('elsewhere the area says where the files go, with a link that leads to that folder', (t) => {
  const html = uploadAreaHtml(uploadArea({ ...settings, prefixTemplate: 'up loads/{user}/' }, ada, ''));
  t.regex(html, /Files you upload go to <a href="\/up%20loads\/ada%40example.org\/" class="destination">\/up loads\/ada@example.org\/<\/a>\./);
  t.is(dataAttributes(html).refresh, 'none');
  const inside = uploadAreaHtml(uploadArea(settings, ada, 'uploads/ada@example.org/'));
  t.true(inside.includes('Files you upload go into this folder'));
  t.is(dataAttributes(inside).refresh, 'listing');
});

test("the operator's limits reach the page as data attributes, escaped, with no inline script", (t) => {
  const html = uploadAreaHtml(uploadArea({ ...settings, allowedTypes: ['image/*', 'application/pdf'] }, ada, ''));
  t.false(/<script/i.test(html));
  t.deepEqual(dataAttributes(html), {
    endpoint: uploadEndpointPath,
    'max-bytes': String(64 * 1024 ** 2),
    'multipart-from': String(multipartFromBytes),
    note: 'Files up to 67.1 MB each, of type image/*, application/pdf',
    refresh: 'none',
    store: dataAttributes(html).store,
    'allowed-types': 'image/*,application/pdf',
  });
  t.false('allowed-types' in dataAttributes(uploadAreaHtml(uploadArea(settings, ada, ''))), 'no list: any type');
});

test("a hostile e-mail address is text in the area's link and attributes, never markup", (t) => {
  const evil = { id: 'e', email: '"><script>alert(1)</script>@example.org', name: 'e' };
  const html = uploadAreaHtml(uploadArea({ ...settings, prefixTemplate: 'u/{user}/' }, evil, ''));
  t.false(html.includes('<script'));
  t.is(html.match(/<a /g)?.length, 1);
  t.is(html.match(/<[a-z]/g)?.length, 6, 'section, p, a, div, noscript, p: no element from the address');
});

test("each user's unfinished uploads are kept in the browser under a name of their own", (t) => {
  const a = uploadArea(settings, ada, '').store;
  t.regex(a, /^s3proxy-uploads-[0-9a-f]{20}$/);
  t.is(uploadArea(settings, { ...ada, email: 'ada@example.org' }, '').store, a, 'the same address in another case is the same user');
  t.not(uploadArea(settings, { ...ada, email: 'bob@example.org' }, '').store, a);
});

test('the note names the size limit and the types', (t) => {
  t.is(restrictionsNote({ destination: '', folder: '', here: false, store: '', maxBytes: 5 * 1024 ** 3 }), 'Files up to 5.4 GB each');
});

test('the listing CSP allows scripts and connections only to this origin, plus S3 for direct uploads', (t) => {
  t.is(listingContentSecurityPolicy(), "default-src 'none'; style-src 'self'; base-uri 'none'; frame-ancestors 'none'");
  const csp = listingContentSecurityPolicy({ connect: ['https://bucket.s3.eu-west-2.amazonaws.com'] });
  t.is(
    csp,
    "default-src 'none'; style-src 'self'; base-uri 'none'; frame-ancestors 'none'; script-src 'self'; connect-src 'self' https://bucket.s3.eu-west-2.amazonaws.com; img-src 'self' data: blob:",
  );
  t.false(csp.includes('unsafe'));
});
