import test from 'ava';
import { createHash } from 'node:crypto';
import {
  completedParts,
  fileName,
  keyParameter,
  md5,
  mediaType,
  metadata,
  metadataFromQuery,
  partNumber,
  partNumbers,
  size,
  uploadId,
} from '../../src/uploads/upload-input.ts';
import { UploadProblem } from '../../src/uploads/upload-problem.ts';

/** asserts a 400 whose message starts with the field's name */
function refuses(t: import('ava').ExecutionContext, field: string, run: () => unknown, what = ''): void {
  const error = t.throws(run, { instanceOf: UploadProblem }, what);
  t.is(error?.status, 400, what);
  t.true(error?.message.startsWith(`${field}: `), `${what}: ${error?.message}`);
}

test('filename: hostile names are cleaned, names that clean to nothing are a named 400', (t) => {
  t.is(fileName('../../x'), 'x');
  t.is(fileName('a/b'), 'b');
  refuses(t, 'filename', () => fileName('../'));
  refuses(t, 'filename', () => fileName(''));
  refuses(t, 'filename', () => fileName(undefined));
  refuses(t, 'filename', () => fileName(['a']));
});

test('type: media types with parameters are kept as declared and compared by essence', (t) => {
  t.deepEqual(mediaType('image/PNG'), { value: 'image/PNG', essence: 'image/png' });
  t.deepEqual(mediaType('text/plain; charset=utf-8'), { value: 'text/plain; charset=utf-8', essence: 'text/plain' });
  t.deepEqual(mediaType('text/plain;format="a b"'), { value: 'text/plain;format="a b"', essence: 'text/plain' });
  t.deepEqual(mediaType('application/vnd.openxmlformats-officedocument.wordprocessingml.document').essence, 'application/vnd.openxmlformats-officedocument.wordprocessingml.document');
});

test('type: anything that is not a media type is a named 400', (t) => {
  for (const raw of [undefined, '', 'image', 'image/', '/png', 'image/png\r\nx-amz-acl: public-read', 'image/png\u0000', 'a b/c', 'text/plain; charset', 'x/' + 'y'.repeat(300), 7]) {
    refuses(t, 'type', () => mediaType(raw), JSON.stringify(raw));
  }
});

test('size: a whole number of bytes from JSON or a query string', (t) => {
  t.is(size(0), 0);
  t.is(size(5), 5);
  t.is(size('5'), 5);
  t.is(size(undefined), undefined);
  t.is(size(''), undefined);
  t.is(size(null), undefined);
  for (const raw of [-1, 1.5, '1.5', '-1', '1e3', '0x10', '01', ' 5', 2 ** 53, '99999999999999999', true, {}]) {
    refuses(t, 'size', () => size(raw), JSON.stringify(raw));
  }
});

test('md5: base64 as S3 wants it, or hex converted to base64', (t) => {
  const digest = createHash('md5').update('hello').digest();
  t.is(md5(digest.toString('base64')), digest.toString('base64'));
  t.is(md5(digest.toString('hex')), digest.toString('base64'));
  t.is(md5(digest.toString('hex').toUpperCase()), digest.toString('base64'));
  t.is(md5(undefined), undefined);
  for (const raw of ['abc', digest.toString('base64').slice(0, -2), 'A'.repeat(24), digest.toString('hex') + '0', 'Zm9v\r\nYmFy', 123]) {
    refuses(t, 'md5', () => md5(raw), JSON.stringify(raw));
  }
});

test('metadata: names are lower-cased, null values skipped, non-ASCII values RFC 2047-encoded', (t) => {
  t.deepEqual(metadata({ Name: 'report.pdf', relativePath: null, size: 12, public: false }), {
    name: 'report.pdf',
    size: '12',
    public: 'false',
  });
  t.deepEqual(metadata({ title: 'Zoë' }), { title: `=?UTF-8?B?${Buffer.from('Zoë').toString('base64')}?=` });
  // a line break could forge a header: it is encoded like any other control
  t.deepEqual(metadata({ note: 'a\r\nx-amz-acl: public-read' }), {
    note: `=?UTF-8?B?${Buffer.from('a\r\nx-amz-acl: public-read').toString('base64')}?=`,
  });
  t.deepEqual(metadata(undefined), {});
});

test('metadata: bad names, nested values and more than 2 KB are a named 400', (t) => {
  const cases: unknown[] = [
    'name=x',
    ['x'],
    { 'a b': 'x' },
    { 'x-amz-acl\r\n': 'x' },
    { '': 'x' },
    { _x: 'x' },
    { ['a'.repeat(65)]: 'x' },
    { nested: { a: 1 } },
    { list: [1] },
    { big: 'x'.repeat(2100) },
  ];
  for (const raw of cases) refuses(t, 'metadata', () => metadata(raw), JSON.stringify(raw));
});

test("metadata from a query: Companion's metadata[name]=value", (t) => {
  const query = new URLSearchParams('filename=a&metadata[name]=a.txt&metadata[relativePath]=null&type=text/plain');
  t.deepEqual(metadataFromQuery(query), { name: 'a.txt', relativePath: 'null' });
  t.is(metadataFromQuery(new URLSearchParams('filename=a')), undefined);
});

test('part numbers are 1 to 10,000', (t) => {
  t.is(partNumber('1'), 1);
  t.is(partNumber('10000'), 10000);
  t.is(partNumber(7), 7);
  for (const raw of ['0', '10001', '-1', '1.0', '01', 'one', '', undefined, 0, 1.5]) {
    refuses(t, 'partNumber', () => partNumber(raw), JSON.stringify(raw));
  }
});

test('batches of part numbers are distinct and bounded', (t) => {
  t.deepEqual(partNumbers('1,2,3'), [1, 2, 3]);
  t.deepEqual(partNumbers('5'), [5]);
  for (const raw of ['', undefined, '1,,2', '1,1', '1,x', '0,1', Array.from({ length: 1001 }, (_, i) => i + 1).join(',')]) {
    refuses(t, 'partNumbers', () => partNumbers(raw), String(raw).slice(0, 20));
  }
});

test('upload ids and keys must be present; upload ids printable ASCII', (t) => {
  t.is(uploadId('2~abc-DEF_123.x'), '2~abc-DEF_123.x');
  for (const raw of ['', 'a b', 'a\nb', 'x'.repeat(1025), undefined, 'é']) refuses(t, 'uploadId', () => uploadId(raw), JSON.stringify(raw));
  t.is(keyParameter('a/b.txt'), 'a/b.txt');
  refuses(t, 'key', () => keyParameter(undefined));
  refuses(t, 'key', () => keyParameter(''));
});

test('completed parts: ascending, each once, with ETags', (t) => {
  t.deepEqual(completedParts({ parts: [{ PartNumber: 1, ETag: '"a"' }, { PartNumber: 3, ETag: '"b"' }] }), [
    { PartNumber: 1, ETag: '"a"' },
    { PartNumber: 3, ETag: '"b"' },
  ]);
  const cases: unknown[] = [
    undefined,
    {},
    { parts: [] },
    { parts: 'x' },
    { parts: [null] },
    { parts: [{ PartNumber: 1 }] },
    { parts: [{ PartNumber: 0, ETag: 'a' }] },
    { parts: [{ PartNumber: 2, ETag: 'a' }, { PartNumber: 1, ETag: 'b' }] },
    { parts: [{ PartNumber: 1, ETag: 'a' }, { PartNumber: 1, ETag: 'a' }] },
    { parts: [{ PartNumber: 1, ETag: 'a\r\nb' }] },
    { parts: [{ PartNumber: '1', ETag: 'a' }].concat(Array.from({ length: 10_000 }, (_, i) => ({ PartNumber: String(i + 2), ETag: 'a' }))) },
  ];
  for (const raw of cases) refuses(t, 'parts', () => completedParts(raw), JSON.stringify(raw)?.slice(0, 60));
});
