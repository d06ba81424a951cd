import test from 'ava';
import { classifyS3Response, errorCodeFromBody } from '../../src/s3/s3-errors.ts';
import { pickRequestHeaders, pickResponseHeaders } from '../../src/s3/forwarded-headers.ts';

test('successful and conditional answers pass through', (t) => {
  for (const status of [200, 206, 304, 412, 416]) t.deepEqual(classifyS3Response(status, undefined), { kind: 'pass' });
});

test('a missing key is 404 and access denied is 403', (t) => {
  t.like(classifyS3Response(404, 'NoSuchKey'), { kind: 'error', status: 404 });
  t.like(classifyS3Response(403, 'AccessDenied'), { kind: 'error', status: 403 });
});

test("S3 refusing the proxy's own credentials is a 500 logged as an error naming the code", (t) => {
  for (const code of ['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken']) {
    const outcome = classifyS3Response(code === 'ExpiredToken' ? 400 : 403, code);
    t.like(outcome, { kind: 'error', status: 500, logAs: 'error' });
    t.true(outcome.kind === 'error' && outcome.reason.includes(code));
  }
});

test('S3 failing is a bad gateway', (t) => {
  t.like(classifyS3Response(500, 'InternalError'), { kind: 'error', status: 502 });
  t.like(classifyS3Response(503, 'SlowDown'), { kind: 'error', status: 502 });
});

test('the error code is read from an S3 error document', (t) => {
  t.is(errorCodeFromBody('<?xml version="1.0"?><Error><Code>NoSuchKey</Code><Message>x</Message></Error>'), 'NoSuchKey');
  t.is(errorCodeFromBody('not xml'), undefined);
});

test('only range and conditional headers go to S3', (t) => {
  t.deepEqual(
    pickRequestHeaders({ range: 'bytes=0-1', 'if-none-match': '"x"', cookie: 'secret', authorization: 'Bearer x', host: 'h' }),
    { range: 'bytes=0-1', 'if-none-match': '"x"' },
  );
});

test('x-amz headers never come back from S3', (t) => {
  const picked = pickResponseHeaders({
    'content-type': 'video/webm',
    'content-length': '10',
    etag: '"e"',
    'x-amz-request-id': 'r',
    'x-amz-meta-owner': 'o',
    server: 'AmazonS3',
  });
  t.deepEqual(picked, { 'content-type': 'video/webm', 'content-length': '10', etag: '"e"' });
});
