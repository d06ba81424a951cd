// The response-header policy for objects served from the bucket, in one
// place: what a browser may do with them (CSP, sniffing), where they may be
// cached, and whether they are shown or saved. Pure.
import { create as contentDisposition } from 'content-disposition';

/**
 * On every object, whatever its type: a type list can never be complete
 * (`+xml` types and `text/xsl` render as documents that run XHTML-namespaced
 * scripts), and S3 keeps whatever type the uploader chose. No script, form,
 * popup or plugin runs; `allow-same-origin` keeps the document on this
 * origin, so that its own images and video are requested as same-site and
 * carry the (SameSite=Lax) session cookie.
 */
export const objectContentSecurityPolicy = 'sandbox allow-same-origin';

export interface ObjectFacts {
  /** the key relative to the operator's prefix */
  key: string;
  /** the request's query string, without '?' */
  querystring: string;
  /** S3's Cache-Control, as it came */
  cacheControl: string | undefined;
  /** a 304: it updates the headers of the browser's stored copy */
  notModified: boolean;
  /** a signed-in response (every object but the healthcheck key) */
  signedIn: boolean;
}

/** Headers to set on a 200, 206 or 304 for the object, over S3's own. */
export function objectHeaders(facts: ObjectFacts): Record<string, string> {
  const headers: Record<string, string> = {
    'x-content-type-options': 'nosniff',
    'content-security-policy': objectContentSecurityPolicy,
  };
  if (wantsDownload(facts.querystring)) headers['content-disposition'] = attachment(facts.key);
  // A 304 without Cache-Control leaves the stored copy's own (already made
  // private on its 200); a bare `private` would wipe its max-age. Some S3
  // servers (Ceph RGW) never send Cache-Control on a 304.
  const keepStored = facts.notModified && facts.cacheControl === undefined;
  if (facts.signedIn && !keepStored) headers['cache-control'] = privateCacheControl(facts.cacheControl);
  return headers;
}

/** Directives that only speak to shared caches, or let them store the response. */
const sharedOnly = new Set(['public', 'private', 's-maxage', 'proxy-revalidate']);

/**
 * A signed-in response may be kept by the user's own browser for as long as
 * the object says, never by a shared cache (a CDN or corporate proxy would
 * hand it to people who never signed in). `private` replaces `public` (and a
 * `private="field"` that would leave the rest shareable); `s-maxage` and
 * `proxy-revalidate` are dropped, since they address shared caches only.
 * Everything else (max-age, no-cache, no-store, must-revalidate, immutable,
 * stale-*, extensions) is kept as the object has it.
 */
export function privateCacheControl(objectCacheControl: string | undefined): string {
  const kept = directives(objectCacheControl ?? '').filter((directive) => !sharedOnly.has(directiveName(directive)));
  return ['private', ...kept].join(', ');
}

/** Cache-Control directives, split on commas outside quoted strings (`no-cache="a, b"`). */
function directives(value: string): string[] {
  const found: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i += 1) {
    const c = value[i]!;
    if (quoted && c === '\\' && i + 1 < value.length) {
      current += c + value[i + 1]!;
      i += 1;
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ',' && !quoted) {
      found.push(current.trim());
      current = '';
      continue;
    }
    current += c;
  }
  found.push(current.trim());
  return found.filter((directive) => directive !== '');
}

function directiveName(directive: string): string {
  return directive.split('=', 1)[0]!.trim().toLowerCase();
}

/** `?download` (any value) asks for a file save rather than display. */
export function wantsDownload(querystring: string): boolean {
  return new URLSearchParams(querystring).has('download');
}

/** RFC 6266, with `filename*` for names that are not plain ASCII. */
export function attachment(key: string): string {
  const name = key.split('/').filter(Boolean).pop() ?? 'download';
  return contentDisposition(name, { type: 'attachment' });
}
