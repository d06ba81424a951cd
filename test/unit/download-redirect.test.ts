import test from 'ava';
import { objectSize, redirectHeaders, type RedirectFacts } from '../../src/http/download-redirect.ts';

const facts = (patch: Partial<RedirectFacts> & { type?: string | undefined; cacheControl?: string }): RedirectFacts => {
  const { type: given, cacheControl, ...rest } = patch;
  const type = 'type' in patch ? given : 'video/mp4';
  return {
    key: 'media/film.mp4',
    querystring: '',
    status: 200,
    minBytes: 1000,
    ...rest,
    headers: {
      'content-length': '5000',
      ...(type === undefined ? {} : { 'content-type': type }),
      ...(cacheControl === undefined ? {} : { 'cache-control': cacheControl }),
      ...rest.headers,
    },
  };
};

test('video, audio and raster images at least minBytes large are redirected inline, their Cache-Control made private', (t) => {
  t.deepEqual(redirectHeaders(facts({})), { contentType: 'video/mp4', cacheControl: 'private' });
  t.deepEqual(redirectHeaders(facts({ type: 'audio/ogg; codecs=opus', cacheControl: 'public, max-age=60' })), {
    contentType: 'audio/ogg; codecs=opus',
    cacheControl: 'private, max-age=60',
  });
  t.deepEqual(redirectHeaders(facts({ type: 'IMAGE/PNG' })), { contentType: 'IMAGE/PNG', cacheControl: 'private' });
});

test('objects smaller than minBytes, or of unknown size, are streamed', (t) => {
  t.is(redirectHeaders(facts({ headers: { 'content-length': '999' } })), undefined);
  t.not(redirectHeaders(facts({ headers: { 'content-length': '1000' } })), undefined);
  t.is(redirectHeaders(facts({ headers: { 'content-length': undefined } })), undefined);
});

test('a range of a large object is redirected, judged on the whole size in Content-Range', (t) => {
  t.not(redirectHeaders(facts({ status: 206, headers: { 'content-length': '10', 'content-range': 'bytes 0-9/5000' } })), undefined);
  t.is(redirectHeaders(facts({ status: 206, headers: { 'content-length': '10', 'content-range': 'bytes 0-9/500' } })), undefined);
  t.is(redirectHeaders(facts({ status: 206, headers: { 'content-length': '10', 'content-range': 'bytes 0-9/*' } })), undefined);
});

test('types that render as documents stay on the proxy, sandboxed', (t) => {
  for (const type of ['text/html', 'text/plain', 'image/svg+xml', 'application/xhtml+xml', 'text/xsl', 'application/pdf', 'application/json', 'application/javascript', 'image/x-xml-thing', 'nonsense', '']) {
    t.is(redirectHeaders(facts({ type })), undefined, type);
  }
  t.is(redirectHeaders(facts({ type: undefined })), undefined, 'no type at all');
});

test('binaries and archives are redirected as attachments, as browsers would save them anyway', (t) => {
  for (const type of ['application/octet-stream', 'binary/octet-stream', 'application/zip', 'application/gzip']) {
    t.deepEqual(redirectHeaders(facts({ key: 'a/b.zip', type })), { contentType: type, contentDisposition: 'attachment; filename=b.zip', cacheControl: 'private' }, type);
  }
});

test('?download redirects any type as an attachment, HTML included', (t) => {
  t.deepEqual(redirectHeaders(facts({ key: 'site/index.html', type: 'text/html', querystring: 'download' })), {
    contentType: 'text/html',
    contentDisposition: 'attachment; filename=index.html',
    cacheControl: 'private',
  });
});

test('objectSize reads a 200 Content-Length and a 206 total, nothing else', (t) => {
  t.is(objectSize(200, { 'content-length': '42' }), 42);
  t.is(objectSize(206, { 'content-range': 'bytes 5-9/42' }), 42);
  t.is(objectSize(304, { 'content-length': '42' }), undefined);
  t.is(objectSize(200, { 'content-length': '4e2' }), undefined);
  t.is(objectSize(200, { 'content-length': ['1', '2'] }), undefined);
});
