import test from 'ava';
import { gunzipSync } from 'node:zlib';
import { assetsPath, catalogOf, hashedFileName, withoutSourceMapComment } from '../../src/http/assets.ts';

test('an asset is named by a hash of its content: other bytes, another name', (t) => {
  const a = hashedFileName('uppy.js', Buffer.from('one'));
  t.regex(a, /^uppy-[0-9a-f]{16}\.js$/);
  t.is(hashedFileName('uppy.js', Buffer.from('one')), a);
  t.not(hashedFileName('uppy.js', Buffer.from('two')), a);
  t.regex(hashedFileName('listing.css', Buffer.from('x')), /^listing-[0-9a-f]{16}\.css$/);
});

test("a bundle's trailing source-map comment is dropped, and nothing else", (t) => {
  t.is(withoutSourceMapComment(Buffer.from('code();\n//# sourceMappingURL=uppy.min.js.map\n')).toString(), 'code();\n');
  t.is(withoutSourceMapComment(Buffer.from('a{b:c}\n/*# sourceMappingURL=uppy.min.css.map */')).toString(), 'a{b:c}\n');
  const untouched = Buffer.from('const s = "//# sourceMappingURL=x";\nrun();\n');
  t.is(withoutSourceMapComment(untouched), untouched);
});

test('the catalog links each name to its hashed path and finds it back, compressed and not', (t) => {
  const body = Buffer.from('body{color:red}');
  const catalog = catalogOf([{ name: 'listing.css', content: body }]);
  const url = catalog.url('listing.css');
  t.true(url.startsWith(assetsPath));
  const asset = catalog.byFileName(url.slice(assetsPath.length));
  t.truthy(asset);
  t.is(asset!.type, 'text/css; charset=utf-8');
  t.deepEqual(asset!.body, body);
  t.deepEqual(gunzipSync(asset!.gzipped), body);
  t.is(catalog.byFileName('listing.css'), undefined, 'the unhashed name is not served');
  t.is(catalog.byFileName('listing-0000000000000000.css'), undefined, 'nor a stale hash');
  t.throws(() => catalog.url('uppy.js'));
});
