import test from 'ava';
import type { CORSRule } from '@aws-sdk/client-s3';
import { browsersSendToS3, corsVerdict, corsWarning, originMatches, uploadCorsConfiguration, uploadCorsRule } from '../../src/s3/bucket-cors.ts';

const origin = 'https://assets.example.org';

test('the rule for browser uploads allows PUT and POST from the origin and exposes ETag', (t) => {
  t.deepEqual(uploadCorsConfiguration(origin), {
    CORSRules: [{ AllowedOrigins: [origin], AllowedMethods: ['PUT', 'POST'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag'], MaxAgeSeconds: 3000 }],
  });
  t.deepEqual(corsVerdict([uploadCorsRule(origin)], origin), { ok: true });
});

test('no configuration, another origin, a missing method or a hidden ETag is each named', (t) => {
  t.deepEqual(corsVerdict(undefined, origin), { ok: false, problem: 'the bucket has no CORS configuration' });
  t.deepEqual(corsVerdict([], origin), { ok: false, problem: 'the bucket has no CORS configuration' });
  t.deepEqual(corsVerdict([uploadCorsRule('https://other.example.org')], origin), { ok: false, problem: `no CORS rule allows PUT from ${origin}` });
  t.deepEqual(corsVerdict([{ ...uploadCorsRule(origin), AllowedMethods: ['PUT', 'GET'] }], origin), { ok: false, problem: `no CORS rule allows POST from ${origin}` });
  t.deepEqual(corsVerdict([{ ...uploadCorsRule(origin), ExposeHeaders: [] }], origin), {
    ok: false,
    problem: `the CORS rule for PUT from ${origin} does not expose the ETag header`,
  });
});

test('S3 judges each method by the first rule that matches it, and origins may hold one wildcard', (t) => {
  const hidesEtag: CORSRule = { AllowedOrigins: ['*'], AllowedMethods: ['PUT'], ExposeHeaders: [] };
  t.false(corsVerdict([hidesEtag, uploadCorsRule(origin)], origin).ok, 'the first PUT rule hides the ETag');
  t.true(corsVerdict([uploadCorsRule(origin), hidesEtag], origin).ok);
  t.true(corsVerdict([{ ...uploadCorsRule('https://*.example.org'), ExposeHeaders: ['etag'] }], origin).ok, 'header names are case-insensitive');
  t.true(corsVerdict([uploadCorsRule('*')], origin).ok);
  t.true(originMatches('https://*.example.org', 'https://a.b.example.org'));
  t.false(originMatches('https://*.example.org', 'https://example.org'));
  t.false(originMatches('https://assets.example.org', 'https://assets.example.org.evil'));
  t.true(corsVerdict([{ AllowedOrigins: [origin], AllowedMethods: ['put'], ExposeHeaders: ['ETag'] }, { AllowedOrigins: [origin], AllowedMethods: ['POST'] }], origin).ok);
});

test('the start-up warning names the problem, or says the origin could not be checked without PUBLIC_URL', (t) => {
  t.is(corsWarning([uploadCorsRule(origin)], origin), undefined);
  t.regex(corsWarning(undefined, origin)!, /^uploads from the browser will fail: the bucket has no CORS configuration; see "Uploads from the browser" in the README/);
  t.regex(corsWarning([uploadCorsRule('https://elsewhere.example.org')], origin)!, /no CORS rule allows PUT from https:\/\/assets\.example\.org/);
  t.regex(corsWarning([uploadCorsRule('https://elsewhere.example.org')], undefined)!, /^could not check that the bucket's CORS allows the proxy's origin, because PUBLIC_URL is not set/);
  t.regex(corsWarning(undefined, undefined)!, /^uploads from the browser will fail: the bucket has no CORS configuration/);
});

test("only direct uploads depend on the bucket's CORS", (t) => {
  t.false(browsersSendToS3(undefined));
  t.true(browsersSendToS3({ prefixTemplate: 'u/' }));
  t.true(browsersSendToS3({ dataPath: 'direct' }));
  t.false(browsersSendToS3({ dataPath: 'proxy' }));
});
