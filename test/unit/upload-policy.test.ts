import test from 'ava';
import type { AllowedUsers } from '../../src/config/upload-settings.ts';
import type { Identity } from '../../src/shared/identity.ts';
import {
  checkDeclaredSize,
  checkPartsTotal,
  checkRoomLeft,
  checkServableKey,
  checkVolume,
  completedSizeOk,
  keyVerdict,
  mayUpload,
  postPolicyBounds,
  sizeLimit,
  typeAllowed,
} from '../../src/uploads/upload-policy.ts';
import { UploadProblem } from '../../src/uploads/upload-problem.ts';

const GiB = 1024 ** 3;
const person = (email: string, groups?: string[]): Identity => ({ id: email, email, name: email, ...(groups ? { groups } : {}) });
const allowed: AllowedUsers = { emails: ['ada@example.org'], domains: ['example.com'], groups: ['Uploaders'] };

test('without UPLOAD_ALLOWED_USERS every signed-in user may upload', (t) => {
  t.true(mayUpload(person('anyone@anywhere.test'), undefined));
});

test('allowed users: addresses (any case), @domain and group:NAME', (t) => {
  const cases: Array<[Identity, boolean, string]> = [
    [person('ada@example.org'), true, 'listed address'],
    [person('Ada@Example.ORG'), true, 'listed address in another case'],
    [person('bob@example.org'), false, 'same domain as a listed address'],
    [person('bob@example.com'), true, 'listed domain'],
    [person('bob@EXAMPLE.com'), true, 'listed domain in another case'],
    [person('bob@sub.example.com'), false, 'a subdomain of a listed domain'],
    [person('bob@notexample.com'), false, 'a domain ending like a listed one'],
    [person('example.com@evil.test'), false, 'the domain as local part'],
    [person('x@evil.test', ['Uploaders']), true, 'listed group'],
    [person('x@evil.test', ['uploaders']), false, 'group names are exact'],
    [person('x@evil.test', ['Others']), false, 'other groups'],
    [person('x@evil.test'), false, 'no groups'],
    [person(''), false, 'no address'],
  ];
  for (const [identity, expected, what] of cases) t.is(mayUpload(identity, allowed), expected, what);
});

test('allowed types: exact types and type/* ranges; no list allows any', (t) => {
  const list = ['image/*', 'application/pdf'];
  t.true(typeAllowed('image/png', list));
  t.true(typeAllowed('image/svg+xml', list));
  t.true(typeAllowed('application/pdf', list));
  t.false(typeAllowed('application/pdf+zip', list));
  t.false(typeAllowed('text/html', list));
  t.false(typeAllowed('imagex/png', list));
  t.true(typeAllowed('text/html', undefined));
});

test('sizes: one request is capped at 5 GiB whatever the limit, multipart at the limit', (t) => {
  t.is(sizeLimit('put', { maxBytes: 10 * GiB }), 5 * GiB);
  t.is(sizeLimit('post', { maxBytes: 10 * GiB }), 5 * GiB);
  t.is(sizeLimit('multipart', { maxBytes: 10 * GiB }), 10 * GiB);
  t.is(sizeLimit('put', { maxBytes: 100 }), 100);
  t.notThrows(() => checkDeclaredSize('put', 100, { maxBytes: 100 }));
  t.notThrows(() => checkDeclaredSize('put', undefined, { maxBytes: 100 }));
  const over = t.throws(() => checkDeclaredSize('put', 101, { maxBytes: 100 }), { instanceOf: UploadProblem });
  t.is(over?.status, 413);
  t.is(over?.code, 'too_large');
  const needsMultipart = t.throws(() => checkDeclaredSize('put', 6 * GiB, { maxBytes: 10 * GiB }), { instanceOf: UploadProblem });
  t.is(needsMultipart?.status, 413);
  t.regex(needsMultipart?.message ?? '', /multipart/);
  t.notThrows(() => checkDeclaredSize('multipart', 6 * GiB, { maxBytes: 10 * GiB }));
});

test('overwrite modes: which candidate keys may be used', (t) => {
  const cases: Array<[Parameters<typeof keyVerdict>, ReturnType<typeof keyVerdict>]> = [
    [['allow', true, 'other'], 'use'],
    [['allow', false, 'nobody'], 'use'],
    [['never', false, 'nobody'], 'use'],
    [['never', true, 'nobody'], 'conflict'],
    [['never', false, 'other'], 'conflict'],
    [['never', false, 'self'], 'use'],
    [['never', true, 'self'], 'conflict'],
    [['rename', false, 'nobody'], 'use'],
    [['rename', true, 'nobody'], 'next'],
    [['rename', false, 'self'], 'next'],
    [['rename', false, 'other'], 'next'],
  ];
  for (const [args, verdict] of cases) t.is(keyVerdict(...args), verdict, args.join(' '));
});

test('POST policy bounds: exactly the declared size, else up to the limit capped by what is left of the day', (t) => {
  t.deepEqual(postPolicyBounds(10, 100, undefined), { min: 10, max: 10, charge: 10 });
  t.deepEqual(postPolicyBounds(10, 100, 50), { min: 10, max: 10, charge: 10 });
  t.deepEqual(postPolicyBounds(undefined, 100, undefined), { min: 0, max: 100, charge: 0 });
  t.deepEqual(postPolicyBounds(undefined, 100, 30), { min: 0, max: 30, charge: 30 });
  t.deepEqual(postPolicyBounds(undefined, 100, 300), { min: 0, max: 100, charge: 100 });
});

test('the daily volume: a charge must fit in what is left', (t) => {
  t.notThrows(() => checkVolume(0, 100, undefined));
  t.notThrows(() => checkVolume(0, 100, 100));
  t.notThrows(() => checkVolume(50, 50, 100));
  t.notThrows(() => checkVolume(100, 0, 100), 'nothing costs nothing');
  for (const [used, charge] of [[51, 50], [0, 101], [100, 1]] as const) {
    const error = t.throws(() => checkVolume(used, charge, 100), { instanceOf: UploadProblem });
    t.is(error?.status, 413);
    t.is(error?.code, 'over_daily_volume');
  }
});

test('the daily volume: an upload of undeclared size needs some of it left', (t) => {
  t.notThrows(() => checkRoomLeft(99, 100));
  t.notThrows(() => checkRoomLeft(10 ** 12, undefined));
  const error = t.throws(() => checkRoomLeft(100, 100), { instanceOf: UploadProblem });
  t.is(error?.status, 413);
  t.is(error?.code, 'over_daily_volume');
});

test('multipart parts must add up to the declared size and stay within the limit', (t) => {
  t.notThrows(() => checkPartsTotal(100, 100, 100));
  t.notThrows(() => checkPartsTotal(50, undefined, 100));
  for (const [total, declared] of [[101, undefined], [99, 100], [101, 101]] as const) {
    const error = t.throws(() => checkPartsTotal(total, declared, 100), { instanceOf: UploadProblem });
    t.is(error?.status, 422);
    t.is(error?.code, 'size_mismatch');
  }
});

test('a completed object must be the size its parts promised', (t) => {
  t.true(completedSizeOk(100, 100, 100));
  t.false(completedSizeOk(101, 100, 200));
  t.false(completedSizeOk(undefined, 100, 200));
  t.false(completedSizeOk(150, 150, 100));
});

test("uploads never land on the proxy's own paths or the unauthenticated healthcheck key", (t) => {
  t.notThrows(() => checkServableKey('uploads/a/x.txt', 'health.txt'));
  t.is(t.throws(() => checkServableKey('__s3proxy/x', undefined), { instanceOf: UploadProblem })?.status, 400);
  t.is(t.throws(() => checkServableKey('health.txt', 'health.txt'), { instanceOf: UploadProblem })?.status, 403);
});
