import test from 'ava';
import { bucketLocationFromParts, isDnsCompatibleBucket, parseS3Endpoint } from '../../src/config/s3-endpoint.ts';

// --- parseS3Endpoint: path style -------------------------------------------

test('a regional AWS path-style endpoint gives origin, bucket, prefix and region hint', (t) => {
  t.deepEqual(parseS3Endpoint('https://s3.eu-west-2.amazonaws.com/my-bucket/prefix/'), {
    ok: true,
    location: { origin: 'https://s3.eu-west-2.amazonaws.com', bucket: 'my-bucket', style: 'path', keyPrefix: 'prefix/' },
    regionHint: 'eu-west-2',
  });
});

test('the legacy s3-<region> hostname gives a region hint', (t) => {
  const r = parseS3Endpoint('https://s3-eu-west-1.amazonaws.com/my-bucket/');
  t.true(r.ok);
  if (!r.ok) return;
  t.is(r.regionHint, 'eu-west-1');
  t.is(r.location.style, 'path');
  t.is(r.location.bucket, 'my-bucket');
  t.is(r.location.keyPrefix, '');
});

test('the global s3.amazonaws.com hostname gives no region hint', (t) => {
  const r = parseS3Endpoint('https://s3.amazonaws.com/my-bucket/');
  t.true(r.ok);
  if (!r.ok) return;
  t.is(r.regionHint, undefined);
  t.false('regionHint' in r);
  t.is(r.location.origin, 'https://s3.amazonaws.com');
});

test('a local server is path style with its port kept in the origin', (t) => {
  t.deepEqual(parseS3Endpoint('http://127.0.0.1:9000/my-bucket/'), {
    ok: true,
    location: { origin: 'http://127.0.0.1:9000', bucket: 'my-bucket', style: 'path', keyPrefix: '' },
  });
});

test('a local server named by hostname with an IPv6 or default port is path style', (t) => {
  const a = parseS3Endpoint('http://minio:9000/bucket/x/');
  t.deepEqual(a.ok && a.location, { origin: 'http://minio:9000', bucket: 'bucket', style: 'path', keyPrefix: 'x/' });
  const b = parseS3Endpoint('http://[::1]:9000/bucket');
  t.deepEqual(b.ok && b.location, { origin: 'http://[::1]:9000', bucket: 'bucket', style: 'path', keyPrefix: '' });
  const c = parseS3Endpoint('https://ceph.example.com:443/bucket/');
  t.deepEqual(c.ok && c.location.origin, 'https://ceph.example.com');
});

test('a bucket with no trailing slash has an empty prefix', (t) => {
  const r = parseS3Endpoint('https://s3.eu-west-2.amazonaws.com/my-bucket');
  t.deepEqual(r.ok && r.location.keyPrefix, '');
});

test('a prefix without a trailing slash is kept literally, as the old proxy appended keys to it', (t) => {
  const r = parseS3Endpoint('https://host.example/bucket/prefix');
  t.deepEqual(r.ok && r.location.keyPrefix, 'prefix');
});

test('a multi-level prefix is kept whole', (t) => {
  const r = parseS3Endpoint('https://host.example/bucket/a/b/c/');
  t.deepEqual(r.ok && r.location.keyPrefix, 'a/b/c/');
});

test('the key prefix is percent-decoded once', (t) => {
  const a = parseS3Endpoint('https://host.example/bucket/a%20b/');
  t.deepEqual(a.ok && a.location.keyPrefix, 'a b/');
  const b = parseS3Endpoint('https://host.example/bucket/a%2520b/');
  t.deepEqual(b.ok && b.location.keyPrefix, 'a%20b/');
});

test('path-style bucket names may use uppercase and underscores for MinIO and Ceph', (t) => {
  const r = parseS3Endpoint('http://ceph.internal/My_Bucket.v2/');
  t.deepEqual(r.ok && r.location.bucket, 'My_Bucket.v2');
});

test('a path-style bucket name longer than 255 characters is rejected', (t) => {
  t.false(parseS3Endpoint(`http://minio/${'a'.repeat(256)}/`).ok);
  t.true(parseS3Endpoint(`http://minio/${'a'.repeat(255)}/`).ok);
});

test('a path-style bucket name with other characters is rejected', (t) => {
  for (const url of ['http://minio/bu%20cket/', 'http://minio/bu$cket/', 'http://minio/bu%ZZ/']) {
    const r = parseS3Endpoint(url);
    t.false(r.ok, url);
    if (!r.ok) t.regex(r.error, /bucket/);
  }
});

// --- parseS3Endpoint: virtual-host style ------------------------------------

test('a regional virtual-host endpoint gives origin, bucket, prefix and region hint', (t) => {
  t.deepEqual(parseS3Endpoint('https://my-bucket.s3.eu-west-2.amazonaws.com/prefix/'), {
    ok: true,
    location: {
      origin: 'https://my-bucket.s3.eu-west-2.amazonaws.com',
      bucket: 'my-bucket',
      style: 'virtual-host',
      keyPrefix: 'prefix/',
    },
    regionHint: 'eu-west-2',
  });
});

test('a global virtual-host endpoint has no region hint', (t) => {
  const r = parseS3Endpoint('https://my-bucket.s3.amazonaws.com/');
  t.true(r.ok);
  if (!r.ok) return;
  t.is(r.location.style, 'virtual-host');
  t.is(r.location.bucket, 'my-bucket');
  t.is(r.location.keyPrefix, '');
  t.false('regionHint' in r);
});

test('a legacy s3-<region> virtual-host endpoint gives the region hint', (t) => {
  const r = parseS3Endpoint('https://my-bucket.s3-eu-west-1.amazonaws.com');
  t.true(r.ok);
  if (!r.ok) return;
  t.is(r.location.style, 'virtual-host');
  t.is(r.location.bucket, 'my-bucket');
  t.is(r.regionHint, 'eu-west-1');
});

test('a dualstack virtual-host endpoint gives the region hint', (t) => {
  const r = parseS3Endpoint('https://my-bucket.s3.dualstack.eu-west-2.amazonaws.com/p/');
  t.true(r.ok);
  if (!r.ok) return;
  t.is(r.location.style, 'virtual-host');
  t.is(r.location.bucket, 'my-bucket');
  t.is(r.location.keyPrefix, 'p/');
  t.is(r.regionHint, 'eu-west-2');
});

test('a China-region virtual-host endpoint is recognised', (t) => {
  const r = parseS3Endpoint('https://my-bucket.s3.cn-north-1.amazonaws.com.cn/');
  t.true(r.ok);
  if (!r.ok) return;
  t.is(r.location.style, 'virtual-host');
  t.is(r.regionHint, 'cn-north-1');
});

test('a GovCloud path-style endpoint gives the region hint', (t) => {
  const r = parseS3Endpoint('https://s3.us-gov-west-1.amazonaws.com/b-1/');
  t.deepEqual(r.ok && r.regionHint, 'us-gov-west-1');
});

test('virtual-host bucket names may contain dots', (t) => {
  const r = parseS3Endpoint('https://my.dotted.bucket.s3.eu-west-2.amazonaws.com/');
  t.deepEqual(r.ok && r.location.bucket, 'my.dotted.bucket');
  t.deepEqual(r.ok && r.location.origin, 'https://my.dotted.bucket.s3.eu-west-2.amazonaws.com');
});

test('a hostname is lowercased, so a virtual-host bucket is lowercase', (t) => {
  const r = parseS3Endpoint('https://My-Bucket.S3.eu-west-2.amazonaws.com/');
  t.deepEqual(r.ok && r.location.bucket, 'my-bucket');
});

test('virtual-host bucket names follow the strict DNS rules', (t) => {
  for (const host of ['ab', 'a_b', '-ab', 'ab-', 'a..b', 'a.-b', '192.168.1.1', 'a'.repeat(64)]) {
    const r = parseS3Endpoint(`https://${host}.s3.eu-west-2.amazonaws.com/`);
    t.false(r.ok, host);
    if (!r.ok) t.regex(r.error, /invalid bucket/);
  }
});

test('a non-AWS host that merely looks similar is path style', (t) => {
  const r = parseS3Endpoint('https://bucket.s3.example.com/real-bucket/');
  t.deepEqual(r.ok && r.location, {
    origin: 'https://bucket.s3.example.com',
    bucket: 'real-bucket',
    style: 'path',
    keyPrefix: '',
  });
  t.false(r.ok && 'regionHint' in r);
});

// --- parseS3Endpoint: rejections --------------------------------------------

test('a non-http scheme is rejected', (t) => {
  for (const url of ['ftp://host/bucket/', 's3://bucket/prefix/', 'file:///bucket/']) {
    const r = parseS3Endpoint(url);
    t.false(r.ok, url);
    if (!r.ok) t.regex(r.error, /http or https/);
  }
});

test('a relative or malformed URL is rejected', (t) => {
  for (const url of ['my-bucket', '/my-bucket/', 'https://', '']) {
    t.false(parseS3Endpoint(url).ok, url);
  }
});

test('a query string or fragment is rejected, even an empty one', (t) => {
  for (const url of ['https://h/bucket/?x=1', 'https://h/bucket/#f', 'https://h/bucket/?', 'https://h/bucket/#']) {
    const r = parseS3Endpoint(url);
    t.false(r.ok, url);
    if (!r.ok) t.regex(r.error, /query string or fragment/);
  }
});

test('credentials in the URL are rejected without being repeated', (t) => {
  const r = parseS3Endpoint('https://AKIDEXAMPLE:s3cr3t-pw@s3.eu-west-2.amazonaws.com/bucket/');
  t.false(r.ok);
  if (r.ok) return;
  t.regex(r.error, /credentials/);
  t.false(r.error.includes('s3cr3t-pw'));
  t.false(r.error.includes('AKIDEXAMPLE'));
});

test('a URL without a bucket is rejected', (t) => {
  for (const url of ['https://s3.eu-west-2.amazonaws.com', 'https://s3.eu-west-2.amazonaws.com/', 'http://minio:9000//bucket/']) {
    const r = parseS3Endpoint(url);
    t.false(r.ok, url);
    if (!r.ok) t.regex(r.error, /no bucket/);
  }
});

test('whitespace in the URL is rejected rather than silently dropped', (t) => {
  for (const url of [' https://h/bucket/', 'https://h/bucket/\n', 'https://h/buck\tet/', 'https://h/bucket/a b/']) {
    t.false(parseS3Endpoint(url).ok, JSON.stringify(url));
  }
});

test('invalid percent-encoding in the prefix is rejected', (t) => {
  const r = parseS3Endpoint('https://h/bucket/%E0%A4%A/');
  t.false(r.ok);
  if (!r.ok) t.regex(r.error, /percent-encoding/);
});

// --- isDnsCompatibleBucket -------------------------------------------------

test('DNS-compatible bucket names are 3-63 lowercase letters, digits, dots and hyphens', (t) => {
  for (const good of ['abc', 'my-bucket', 'my.bucket', 'a1b', '1ab', 'a'.repeat(63)]) t.true(isDnsCompatibleBucket(good), good);
  for (const badName of ['ab', 'ABC', 'a_b', '.ab', 'ab.', 'a..b', 'a-.b', 'a.-b', '10.0.0.1', 'a'.repeat(64), ''])
    t.false(isDnsCompatibleBucket(badName), badName);
});

// --- bucketLocationFromParts -----------------------------------------------

test('a plain bucket on AWS is virtual-host style at the regional endpoint', (t) => {
  t.deepEqual(bucketLocationFromParts({ bucket: 'my-bucket', useLocal: false, region: 'eu-west-2' }), {
    ok: true,
    location: {
      origin: 'https://my-bucket.s3.eu-west-2.amazonaws.com',
      bucket: 'my-bucket',
      style: 'virtual-host',
      keyPrefix: '',
    },
  });
});

test('a dotted bucket on AWS is path style, keeping TLS certificates valid', (t) => {
  t.deepEqual(bucketLocationFromParts({ bucket: 'my.bucket', useLocal: false, region: 'eu-west-2' }), {
    ok: true,
    location: { origin: 'https://s3.eu-west-2.amazonaws.com', bucket: 'my.bucket', style: 'path', keyPrefix: '' },
  });
});

test('a non-DNS bucket name on AWS is path style', (t) => {
  const r = bucketLocationFromParts({ bucket: 'My_Bucket', useLocal: false, region: 'us-east-1' });
  t.deepEqual(r.ok && r.location, { origin: 'https://s3.us-east-1.amazonaws.com', bucket: 'My_Bucket', style: 'path', keyPrefix: '' });
});

test('a China region uses the amazonaws.com.cn domain', (t) => {
  const r = bucketLocationFromParts({ bucket: 'b-1', useLocal: false, region: 'cn-north-1' });
  t.deepEqual(r.ok && r.location.origin, 'https://b-1.s3.cn-north-1.amazonaws.com.cn');
});

test('KEY_PREFIX gets a trailing slash, as uktrade appended one', (t) => {
  const r = bucketLocationFromParts({ bucket: 'b-1', keyPrefix: 'reports', useLocal: false, region: 'eu-west-2' });
  t.deepEqual(r.ok && r.location.keyPrefix, 'reports/');
});

test('KEY_PREFIX that already ends with a slash does not get a second one', (t) => {
  const r = bucketLocationFromParts({ bucket: 'b-1', keyPrefix: 'reports/', useLocal: false, region: 'eu-west-2' });
  t.deepEqual(r.ok && r.location.keyPrefix, 'reports/');
});

test('a path in AWS_S3_BUCKET becomes the key prefix', (t) => {
  const a = bucketLocationFromParts({ bucket: 'b-1/prefix', useLocal: false, region: 'eu-west-2' });
  t.deepEqual(a.ok && a.location, {
    origin: 'https://b-1.s3.eu-west-2.amazonaws.com',
    bucket: 'b-1',
    style: 'virtual-host',
    keyPrefix: 'prefix/',
  });
  const b = bucketLocationFromParts({ bucket: 'b-1/prefix/', useLocal: false, region: 'eu-west-2' });
  t.deepEqual(b.ok && b.location.keyPrefix, 'prefix/');
  const c = bucketLocationFromParts({ bucket: 'b-1/', useLocal: false, region: 'eu-west-2' });
  t.deepEqual(c.ok && c.location.keyPrefix, '');
});

test('a path in AWS_S3_BUCKET and KEY_PREFIX are joined', (t) => {
  const r = bucketLocationFromParts({ bucket: 'bucket/a', keyPrefix: 'b', useLocal: false, region: 'eu-west-2' });
  t.deepEqual(r.ok && r.location.keyPrefix, 'a/b/');
  const deep = bucketLocationFromParts({ bucket: 'bucket/a/b/', keyPrefix: 'c/d', useLocal: false, region: 'eu-west-2' });
  t.deepEqual(deep.ok && deep.location.keyPrefix, 'a/b/c/d/');
});

test('a local server is path style at S3_ENDPOINT_URL without its trailing slash', (t) => {
  t.deepEqual(
    bucketLocationFromParts({ bucket: 'my-bucket', keyPrefix: 'k', useLocal: true, endpointUrl: 'http://minio:9000/', region: 'us-east-1' }),
    { ok: true, location: { origin: 'http://minio:9000', bucket: 'my-bucket', style: 'path', keyPrefix: 'k/' } },
  );
  const noSlash = bucketLocationFromParts({ bucket: 'my-bucket', useLocal: true, endpointUrl: 'http://localhost:9000', region: 'x' });
  t.deepEqual(noSlash.ok && noSlash.location.origin, 'http://localhost:9000');
});

test('a local server needs S3_ENDPOINT_URL', (t) => {
  const r = bucketLocationFromParts({ bucket: 'my-bucket', useLocal: true, region: 'us-east-1' });
  t.deepEqual(r, { ok: false, errors: ['S3_ENDPOINT_URL: required when S3_USE_LOCAL is set'] });
});

test('a bad S3_ENDPOINT_URL is rejected with its variable named and its credentials not repeated', (t) => {
  for (const url of ['minio:9000', 'ftp://minio/', 'http://minio:9000/bucket', 'http://u:hunter2@minio/', 'http://minio/?x', 'not a url']) {
    const r = bucketLocationFromParts({ bucket: 'my-bucket', useLocal: true, endpointUrl: url, region: 'us-east-1' });
    t.false(r.ok, url);
    if (r.ok) continue;
    t.is(r.errors.length, 1);
    t.regex(r.errors[0] ?? '', /^S3_ENDPOINT_URL: /);
    t.false(r.errors.join().includes('hunter2'));
  }
});

test('a bad bucket name in AWS_S3_BUCKET is rejected with the variable named', (t) => {
  for (const bucket of ['/prefix', 'bu cket', 'bu$cket/p']) {
    const r = bucketLocationFromParts({ bucket, useLocal: false, region: 'eu-west-2' });
    t.false(r.ok, bucket);
    if (!r.ok) t.regex(r.errors[0] ?? '', /^AWS_S3_BUCKET: /);
  }
});

test('a bad bucket name and a missing S3_ENDPOINT_URL are both reported', (t) => {
  const r = bucketLocationFromParts({ bucket: 'bu cket', useLocal: true, region: 'us-east-1' });
  t.false(r.ok);
  if (!r.ok) t.is(r.errors.length, 2);
});
