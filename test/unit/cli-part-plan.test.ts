// The command-line client's arithmetic: sizes as typed, parts of a file, and
// which part size an interrupted upload used.
import test from 'ava';
import { partSizeFor, partSizeOfListed, planParts, type ListedPart } from '../../src/cli/part-plan.ts';
import { parseSize } from '../../src/cli/sizes.ts';

const MiB = 1024 ** 2;

test('sizes: bytes, and binary units whichever way they are written', (t) => {
  t.is(parseSize('5242880'), 5 * MiB);
  t.is(parseSize('5MiB'), 5 * MiB);
  t.is(parseSize('5MB'), 5 * MiB, 'MB means MiB, so that 5MB meets S3\'s 5 MiB part minimum');
  t.is(parseSize('5m'), 5 * MiB);
  t.is(parseSize('1.5GiB'), 1.5 * 1024 ** 3);
  for (const bad of ['', 'MiB', '-5MiB', '5 parsecs', '1e9', '5MiBs']) t.is(parseSize(bad), undefined, bad);
});

test('a file is cut into full parts and a shorter last one', (t) => {
  t.deepEqual(planParts(12 * MiB + 1, 5 * MiB), [
    { partNumber: 1, start: 0, end: 5 * MiB },
    { partNumber: 2, start: 5 * MiB, end: 10 * MiB },
    { partNumber: 3, start: 10 * MiB, end: 12 * MiB + 1 },
  ]);
  t.is(planParts(10 * MiB, 5 * MiB).length, 2, 'no empty last part');
});

test('the part size grows to keep a huge file within 10,000 parts', (t) => {
  t.is(partSizeFor(100 * MiB, 16 * MiB), 16 * MiB);
  const grown = partSizeFor(1024 ** 4, 16 * MiB);
  t.true(grown > 16 * MiB);
  t.true(planParts(1024 ** 4, grown).length <= 10_000);
  t.is(grown % MiB, 0);
});

const listed = (...parts: Array<[number, number]>): ListedPart[] => parts.map(([PartNumber, Size]) => ({ PartNumber, Size, ETag: '"x"' }));

test('an interrupted upload\'s part size is read from the parts S3 has', (t) => {
  const size = 40 * MiB;
  t.is(partSizeOfListed(size, listed([1, 8 * MiB], [3, 8 * MiB]), 5 * MiB), 8 * MiB, 'an earlier run with other settings');
  t.is(partSizeOfListed(size, listed([8, 5 * MiB]), 5 * MiB), 5 * MiB);
  t.is(partSizeOfListed(size, listed(), 5 * MiB), 5 * MiB, 'nothing at S3 yet: the wanted size');
  t.is(partSizeOfListed(12 * MiB, listed([3, 2 * MiB]), 5 * MiB), 5 * MiB, 'only a short last part: the wanted size, which fits it');
  t.is(partSizeOfListed(size, listed([1, 8 * MiB], [2, 6 * MiB]), 5 * MiB), undefined, 'parts that fit no one size: start over');
  t.is(partSizeOfListed(size, listed([9, 5 * MiB]), 5 * MiB), undefined, 'a part beyond the end of this file');
});
