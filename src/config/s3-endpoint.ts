// Where the bucket is: turns the two uktrade ways of naming it into a
// BucketLocation. Pure functions, no I/O.
//
// 1. The old form, AWS_S3_ENDPOINT: one URL naming the bucket and an optional
//    key prefix, e.g. https://s3.eu-west-2.amazonaws.com/my-bucket/prefix/
//    or https://my-bucket.s3.eu-west-2.amazonaws.com/prefix/
// 2. The newer form: AWS_S3_BUCKET (`bucket` or `bucket/prefix`), KEY_PREFIX,
//    and S3_USE_LOCAL + S3_ENDPOINT_URL for a local S3-compatible server.
//
// Error messages never repeat the URL: it might carry credentials.

import type { BucketLocation } from './config.ts';

export type S3EndpointResult =
  | { ok: true; location: BucketLocation; regionHint?: string }
  | { ok: false; error: string };

export interface BucketParts {
  /** AWS_S3_BUCKET: `bucket` or `bucket/prefix` */
  bucket: string;
  /** KEY_PREFIX, if set */
  keyPrefix?: string;
  /** S3_USE_LOCAL, already interpreted as a boolean */
  useLocal: boolean;
  /** S3_ENDPOINT_URL; required (and only used) when useLocal */
  endpointUrl?: string;
  /** the SigV4 region; names AWS's endpoint when not useLocal */
  region: string;
}

/** errors name the variable they are about: `AWS_S3_BUCKET: ...` */
export type BucketPartsResult =
  | { ok: true; location: BucketLocation }
  | { ok: false; errors: string[] };

// <bucket>.s3.<...>.amazonaws.com, <bucket>.s3-<region>.amazonaws.com,
// <bucket>.s3.amazonaws.com, and the same under .amazonaws.com.cn. The bucket
// part is greedy so a bucket whose name contains `.s3.` still splits at the
// last possible place.
const VIRTUAL_HOST = /^(.+)\.(s3[.-](?:.*\.)?amazonaws\.com(?:\.cn)?)$/;
// s3.<region>.amazonaws.com, s3-<region>.amazonaws.com, s3.amazonaws.com, ...
const AWS_S3_HOST = /^s3[.-](?:.*\.)?amazonaws\.com(?:\.cn)?$/;
// eu-west-2, us-east-1, us-gov-west-1, cn-north-1, ap-southeast-3, ...
const AWS_REGION = /^[a-z]{2}(?:-[a-z]+)+-\d+$/;
// MinIO, Ceph and friends accept more than AWS does; path style does not put
// the name in a hostname, so be permissive there.
const PATH_STYLE_BUCKET = /^[A-Za-z0-9._-]{1,255}$/;

/**
 * AWS's rules for bucket names (the ones that make a name usable as a DNS
 * label sequence): 3-63 characters of lowercase letters, digits, dots and
 * hyphens, starting and ending with a letter or digit, no `..`, `.-` or `-.`,
 * and not shaped like an IPv4 address.
 */
export function isDnsCompatibleBucket(name: string): boolean {
  return (
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) &&
    !/\.\.|\.-|-\./.test(name) &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(name)
  );
}

/** the region named in an AWS S3 hostname (without the bucket), if any */
function regionFromAwsHost(host: string): string | undefined {
  // `s3-eu-west-1.amazonaws.com` → labels `eu-west-1`, `amazonaws`, `com`
  const labels = host.replace(/^s3[.-]/, '').split('.');
  return labels.find((label) => AWS_REGION.test(label));
}

/**
 * Parse AWS_S3_ENDPOINT: the bucket's URL, optionally followed by a key
 * prefix. A hostname `<bucket>.s3[.-]...amazonaws.com(.cn)` is virtual-host
 * style; anything else is path style with the first path segment as the
 * bucket. The rest of the path after the bucket is the key prefix, decoded
 * once and otherwise kept exactly.
 */
export function parseS3Endpoint(raw: string): S3EndpointResult {
  const fail = (error: string): S3EndpointResult => ({ ok: false, error });

  if (/[\s\u0000-\u001f\u007f]/.test(raw)) {
    // the URL parser would silently drop or encode these
    return fail('must not contain whitespace or control characters');
  }
  if (raw.includes('?') || raw.includes('#')) {
    return fail('must not contain a query string or fragment');
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail('is not a valid absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return fail(`must be an http or https URL, not ${url.protocol}`);
  }
  if (url.username !== '' || url.password !== '') {
    return fail('must not contain credentials (use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)');
  }
  if (url.hostname === '') {
    return fail('has no host');
  }

  // url.pathname always starts with '/'
  const path = url.pathname.slice(1);
  const virtualHost = VIRTUAL_HOST.exec(url.hostname);

  let bucket: string;
  let encodedPrefix: string;
  let style: BucketLocation['style'];
  let regionHint: string | undefined;

  if (virtualHost !== null) {
    bucket = virtualHost[1] ?? '';
    style = 'virtual-host';
    encodedPrefix = path;
    regionHint = regionFromAwsHost(virtualHost[2] ?? '');
    if (!isDnsCompatibleBucket(bucket)) {
      return fail(
        'names an invalid bucket in its hostname (3-63 lowercase letters, digits, dots or hyphens, ' +
          'starting and ending with a letter or digit)',
      );
    }
  } else {
    const slash = path.indexOf('/');
    const encodedBucket = slash === -1 ? path : path.slice(0, slash);
    encodedPrefix = slash === -1 ? '' : path.slice(slash + 1);
    style = 'path';
    if (AWS_S3_HOST.test(url.hostname)) regionHint = regionFromAwsHost(url.hostname);
    if (encodedBucket === '') {
      return fail('has no bucket: expected https://host/<bucket>/ or https://<bucket>.s3.<region>.amazonaws.com/');
    }
    const decoded = decodeOnce(encodedBucket);
    if (decoded === undefined || !PATH_STYLE_BUCKET.test(decoded)) {
      return fail('names an invalid bucket (1-255 letters, digits, dots, hyphens or underscores)');
    }
    bucket = decoded;
  }

  // The old proxy appended the key to the endpoint URL as it was, so
  // `https://host/bucket/prefix` (no trailing slash) means keys `prefixfoo`,
  // not `prefix/foo`. That literal behaviour is kept.
  const keyPrefix = decodeOnce(encodedPrefix);
  if (keyPrefix === undefined) {
    return fail('has a key prefix with invalid percent-encoding');
  }

  const location: BucketLocation = { origin: url.origin, bucket, style, keyPrefix };
  return regionHint === undefined ? { ok: true, location } : { ok: true, location, regionHint };
}

function decodeOnce(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/**
 * The newer uktrade form: AWS_S3_BUCKET (`bucket` or `bucket/prefix`),
 * KEY_PREFIX (uktrade appends '/'), and S3_USE_LOCAL + S3_ENDPOINT_URL.
 *
 * Key prefix: the path part of AWS_S3_BUCKET and KEY_PREFIX joined with '/',
 * ending with exactly one '/' (`bucket/a` + `b` → `a/b/`; `KEY_PREFIX=reports`
 * and `KEY_PREFIX=reports/` both → `reports/`). Neither → ''.
 *
 * Not local: AWS's own endpoint for `region`, virtual-host style when the
 * bucket name is DNS-compatible without dots (dots would break the TLS
 * wildcard certificate), path style otherwise.
 */
export function bucketLocationFromParts(parts: BucketParts): BucketPartsResult {
  const errors: string[] = [];

  const slash = parts.bucket.indexOf('/');
  const bucket = slash === -1 ? parts.bucket : parts.bucket.slice(0, slash);
  const bucketPath = slash === -1 ? '' : parts.bucket.slice(slash + 1);

  if (bucket === '') {
    errors.push('AWS_S3_BUCKET: has no bucket name before the "/"');
  } else if (!PATH_STYLE_BUCKET.test(bucket)) {
    errors.push('AWS_S3_BUCKET: the bucket name may only contain letters, digits, dots, hyphens and underscores (1-255 characters)');
  }

  const keyPrefix = joinPrefix([bucketPath, parts.keyPrefix ?? '']);

  let origin: string | undefined;
  let style: BucketLocation['style'] = 'path';
  if (parts.useLocal) {
    if (parts.endpointUrl === undefined || parts.endpointUrl === '') {
      errors.push('S3_ENDPOINT_URL: required when S3_USE_LOCAL is set');
    } else {
      const result = localOrigin(parts.endpointUrl);
      if (result.ok) origin = result.origin;
      else errors.push(`S3_ENDPOINT_URL: ${result.error}`);
    }
  } else {
    const suffix = parts.region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
    if (isDnsCompatibleBucket(bucket) && !bucket.includes('.')) {
      style = 'virtual-host';
      origin = `https://${bucket}.s3.${parts.region}.${suffix}`;
    } else {
      origin = `https://s3.${parts.region}.${suffix}`;
    }
  }

  if (errors.length > 0 || origin === undefined) return { ok: false, errors };
  return { ok: true, location: { origin, bucket, style, keyPrefix } };
}

/** join non-empty prefix parts with single slashes, ending with '/' */
function joinPrefix(pieces: string[]): string {
  const kept = pieces.map((p) => p.replace(/\/+$/, '')).filter((p) => p !== '');
  return kept.length === 0 ? '' : `${kept.join('/')}/`;
}

function localOrigin(raw: string): { ok: true; origin: string } | { ok: false; error: string } {
  if (/[\s\u0000-\u001f\u007f]/.test(raw)) {
    return { ok: false, error: 'must not contain whitespace or control characters' };
  }
  if (raw.includes('?') || raw.includes('#')) {
    return { ok: false, error: 'must not contain a query string or fragment' };
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, error: 'is not a valid absolute URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, error: `must be an http or https URL, not ${url.protocol}` };
  }
  if (url.username !== '' || url.password !== '') {
    return { ok: false, error: 'must not contain credentials' };
  }
  if (url.hostname === '') {
    return { ok: false, error: 'has no host' };
  }
  if (url.pathname !== '/') {
    return { ok: false, error: 'must be just scheme://host[:port] (the bucket comes from AWS_S3_BUCKET)' };
  }
  return { ok: true, origin: url.origin };
}
