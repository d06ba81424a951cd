import test from 'ava';
import { Readable } from 'node:stream';
import { findFilePart, formBoundary, formFileLength, formTrailer, lengthToSend } from '../../src/uploads/body-rules.ts';
import type { Capability } from '../../src/uploads/capability.ts';
import { BodyRefused, ExactLength } from '../../src/uploads/exact-length.ts';
import { UploadProblem } from '../../src/uploads/upload-problem.ts';

const put: Capability = { kind: 'put', owner: 'a@x', key: 'k', size: 10, type: 'text/plain' };
const part: Capability = { kind: 'part', owner: 'a@x', key: 'k', uploadId: 'u', partNumber: 1, maxBytes: 100 };
const sizedPart: Capability = { ...part, size: 50, maxBytes: 50 };
const post: Capability = { kind: 'post', owner: 'a@x', key: 'k', minBytes: 2, maxBytes: 5, type: 'text/plain' };

function problem(run: () => unknown): { status: number; message: string } {
  try {
    run();
  } catch (error) {
    if (error instanceof UploadProblem) return { status: error.status, message: error.message };
    throw error;
  }
  throw new Error('no problem');
}

test('a PUT is exactly its declared size: a Content-Length above is 413, below is 400, none (chunked) is sent as declared', (t) => {
  t.is(lengthToSend(put, { contentLength: 10 }), 10);
  t.is(lengthToSend(put, {}), 10);
  t.is(problem(() => lengthToSend(put, { contentLength: 11 })).status, 413);
  t.is(problem(() => lengthToSend(put, { contentLength: 9 })).status, 400);
});

test('a part is its declared size when it has one, else needs a Content-Length within its limit', (t) => {
  t.is(lengthToSend(sizedPart, { contentLength: 50 }), 50);
  t.is(lengthToSend(sizedPart, {}), 50);
  t.is(problem(() => lengthToSend(sizedPart, { contentLength: 51 })).status, 413);
  t.is(lengthToSend(part, { contentLength: 100 }), 100);
  t.is(lengthToSend(part, { contentLength: 0 }), 0);
  t.is(problem(() => lengthToSend(part, { contentLength: 101 })).status, 413);
  t.is(problem(() => lengthToSend(part, {})).status, 411);
});

test('the boundary comes from a multipart/form-data Content-Type, quoted or not; anything else is 400', (t) => {
  t.is(formBoundary('multipart/form-data; boundary=----WebKitFormBoundaryX3'), '----WebKitFormBoundaryX3');
  t.is(formBoundary('Multipart/Form-Data;charset=utf-8; boundary="a b:c"'), 'a b:c');
  for (const bad of [undefined, 'text/plain', 'multipart/form-data', 'multipart/mixed; boundary=x', `multipart/form-data; boundary=${'x'.repeat(71)}`]) {
    t.is(problem(() => formBoundary(bad)).status, 400, String(bad));
  }
});

const form = (boundary: string, fields: Array<[string, string]>, file: string, after = '') =>
  Buffer.from(
    fields.map(([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`).join('') +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="f.txt"\r\nContent-Type: text/plain\r\n\r\n${file}${after}\r\n--${boundary}--\r\n`,
    'latin1',
  );

test('the file part is found after the fields, at any split of the bytes, and the file length follows from the Content-Length', (t) => {
  const body = form('XyZ', [['key', 'uploads/a/f.txt'], ['Content-Type', 'text/plain']], 'hello');
  const dataStart = body.indexOf('hello');
  for (let cut = 0; cut < dataStart; cut++) t.deepEqual(findFilePart(body.subarray(0, cut), 'XyZ'), { found: false }, `cut at ${cut}`);
  t.deepEqual(findFilePart(body.subarray(0, dataStart), 'XyZ'), { found: true, dataStart });
  t.deepEqual(findFilePart(body, 'XyZ'), { found: true, dataStart });
  t.is(formFileLength(post, body.length, dataStart, formTrailer('XyZ').length), 5);
  t.true(body.subarray(body.length - formTrailer('XyZ').length).equals(formTrailer('XyZ')));
});

test('a form without a file, of another boundary, or whose file falls outside the bounds is refused', (t) => {
  const noFile = Buffer.from('--B\r\nContent-Disposition: form-data; name="key"\r\n\r\nv\r\n--B--\r\n');
  t.is(problem(() => findFilePart(noFile, 'B')).status, 400);
  t.is(problem(() => findFilePart(Buffer.from('--B junk'), 'B')).status, 400);
  t.is(problem(() => findFilePart(Buffer.alloc(70_000, 'a'), 'B')).status, 400);
  const trailer = formTrailer('B').length;
  t.is(problem(() => formFileLength(post, 100 + 6 + trailer, 100, trailer)).status, 413);
  t.is(problem(() => formFileLength(post, 100 + 1 + trailer, 100, trailer)).status, 400);
  t.is(problem(() => formFileLength(post, 50, 100, trailer)).status, 400);
  t.is(problem(() => formFileLength(post, undefined, 100, trailer)).status, 411);
});

/** What ExactLength passes on, chunk by chunk, and how it ends. */
async function through(meter: ExactLength, chunks: Buffer[]): Promise<{ out: Buffer[]; error?: BodyRefused }> {
  const out: Buffer[] = [];
  const source = Readable.from(chunks);
  source.pipe(meter);
  try {
    for await (const chunk of meter) out.push(chunk as Buffer);
    return { out };
  } catch (error) {
    return { out, error: error as BodyRefused };
  }
}

test('exactly the length passes, its last byte only once the body has ended', async (t) => {
  const meter = new ExactLength(6);
  const seen: number[] = [];
  meter.on('data', (chunk: Buffer) => seen.push(chunk.length));
  meter.write(Buffer.from('abc'));
  meter.write(Buffer.from('def'));
  await new Promise((resolve) => setImmediate(resolve));
  t.deepEqual(seen, [3, 2], 'the sixth byte waits for the end');
  meter.end();
  await new Promise((resolve) => meter.once('end', resolve));
  t.deepEqual(seen, [3, 2, 1]);
});

/** Writes the chunks one by one (a turn of the event loop apart), recording what comes out as it comes. */
async function stepwise(meter: ExactLength, chunks: Buffer[]): Promise<{ passed: number; error?: BodyRefused }> {
  let passed = 0;
  let error: BodyRefused | undefined;
  meter.on('data', (chunk: Buffer) => (passed += chunk.length));
  meter.on('error', (e: BodyRefused) => (error = e));
  for (const chunk of chunks) {
    if (error) break;
    meter.write(chunk);
    await new Promise((resolve) => setImmediate(resolve));
  }
  if (!error) meter.end();
  await new Promise((resolve) => setImmediate(resolve));
  return { passed, ...(error ? { error } : {}) };
}

test('a body longer than its length errors before its last byte is passed, whatever the chunks', async (t) => {
  for (const chunks of [[Buffer.from('abcdefg')], [Buffer.from('abcdef'), Buffer.from('g')], [Buffer.from('ab'), Buffer.from('cdef'), Buffer.from('gh')]]) {
    const { passed, error } = await stepwise(new ExactLength(6), chunks);
    t.is(error?.fault, 'too_long');
    t.true(passed < 6, `passed ${passed} bytes`);
  }
});

test('a body that ends short errors instead of ending', async (t) => {
  const { error } = await through(new ExactLength(6), [Buffer.from('abc')]);
  t.is(error?.fault, 'too_short');
});

test("a form's file is passed without the closing delimiter, which must follow it exactly, and may not contain the delimiter", async (t) => {
  const trailer = formTrailer('B');
  const ok = await through(new ExactLength(5, trailer, Buffer.from('\r\n--B')), [Buffer.from('hel'), Buffer.from('lo\r\n--'), Buffer.from('B--\r\n')]);
  t.is(ok.error, undefined);
  t.is(Buffer.concat(ok.out).toString(), 'hello');
  const wrongEnd = await through(new ExactLength(5, trailer), [Buffer.from('hello\r\n--C--\r\n')]);
  t.is(wrongEnd.error?.fault, 'bad_trailer');
  t.not(Buffer.concat(wrongEnd.out).toString(), 'hello', 'the last byte held back');
  // another field after the file: its delimiter turns up inside what the length took for the file
  const inside = await through(new ExactLength(14, trailer, Buffer.from('\r\n--B')), [Buffer.from('hi\r\n-'), Buffer.from('-B\r\nmore'), Buffer.from('..\r\n--B--\r\n')]);
  t.is(inside.error?.fault, 'bad_trailer');
});
