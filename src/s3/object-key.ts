// The mapping from a request path to an S3 object key, and from a key to the
// path of the S3 request. Pure: no I/O, unit-tested on its own.

export type KeyFromPath =
  | { ok: true; key: string }
  | { ok: false; reason: string };

/**
 * The request path (as sent, still percent-encoded, without the query) names
 * the key relative to the operator's prefix. It is decoded exactly once, so
 * `%25` is a literal `%` and `+` stays `+` (paths are not form-encoded).
 * Dot segments are never resolved: S3 keys are opaque strings, and resolving
 * them here is what would let `/../x` climb out of the prefix. With a prefix,
 * a key with a `.` or `..` segment is refused outright: the key would reach
 * S3 as `prefix/../x`, and an S3-compatible server (or a gateway before it)
 * that normalises paths would read `x`, outside the prefix. Backslashes count
 * as separators for this, as some servers treat them as `/`. Without a prefix
 * the whole bucket is readable anyway, and such keys are served as they are.
 */
export function keyFromRequestPath(rawPath: string, keyPrefix = ''): KeyFromPath {
  if (!rawPath.startsWith('/')) return { ok: false, reason: 'path must start with /' };
  let key: string;
  try {
    key = decodeURIComponent(rawPath.slice(1));
  } catch {
    return { ok: false, reason: 'malformed percent-encoding' };
  }
  // S3 rejects or mangles control characters in keys; NUL also truncates
  // strings in many tools downstream, so it never names an object here.
  if (/[\u0000-\u001f\u007f]/.test(key)) return { ok: false, reason: 'control character in path' };
  if (keyPrefix !== '' && hasDotSegment(key)) return { ok: false, reason: 'dot segment in path under a key prefix' };
  return { ok: true, key };
}

function hasDotSegment(key: string): boolean {
  return key.split(/[/\\]/).some((segment) => segment === '.' || segment === '..');
}

const notUnreserved = /[!'()*]/g;

/**
 * SigV4's URI encoding of an object key: every byte but the unreserved
 * characters and `/` percent-encoded. The result is sent as the request path
 * verbatim and signed verbatim (the signer must not escape or normalise it
 * again), so `..` and `//` reach S3 as part of the key instead of being
 * resolved by a URL parser on the way.
 */
export function encodeKeyForS3(key: string): string {
  return encodeURIComponent(key)
    .replace(notUnreserved, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
    .replace(/%2F/g, '/');
}
