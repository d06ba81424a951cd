// RFC 9110 §13.1.5 If-Range, evaluated by the proxy. Some S3 servers (Ceph
// RGW among them) ignore If-Range and answer 206 for a stale validator, which
// would splice bytes of a changed object into a client's copy. Pure.

/** Whether a 206 answer may stand for this If-Range value, given the response's validators. */
export function ifRangeHolds(ifRange: string, etag: string | undefined, lastModified: string | undefined): boolean {
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) {
    // Only a strong comparison counts: a weak tag never matches.
    return !value.startsWith('W/') && etag !== undefined && !etag.startsWith('W/') && etag === value;
  }
  if (lastModified === undefined) return false;
  const asked = Date.parse(value);
  const actual = Date.parse(lastModified);
  return Number.isFinite(asked) && Number.isFinite(actual) && asked === actual;
}
