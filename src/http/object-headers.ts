// The response-header policy for objects served from the bucket, in one
// place: what a browser may do with them (CSP, sniffing), where they may be
// cached, and whether they are shown or saved. Pure.
import { create as contentDisposition } from 'content-disposition';

/** Types a browser would run as a document: sandboxed so they cannot script this origin. */
const executableType = /^\s*(text\/html|application\/xhtml\+xml|image\/svg\+xml|text\/xml|application\/xml)\b/i;

export interface ObjectFacts {
  /** the key relative to the operator's prefix */
  key: string;
  /** the request's query string, without '?' */
  querystring: string;
  /** S3's Content-Type and Cache-Control, as they came */
  contentType: string | undefined;
  cacheControl: string | undefined;
  /** a signed-in response (every object but the healthcheck key) */
  signedIn: boolean;
}

/** Headers to set on a 200, 206 or 304 for the object, over S3's own. */
export function objectHeaders(facts: ObjectFacts): Record<string, string> {
  const headers: Record<string, string> = { 'x-content-type-options': 'nosniff' };
  if (wantsDownload(facts.querystring)) headers['content-disposition'] = attachment(facts.key);
  // No script, form or plugin runs; same-origin is kept so that the page's own
  // images and video (SameSite=Lax cookies) still load from the bucket.
  if (executableType.test(facts.contentType ?? '')) headers['content-security-policy'] = 'sandbox allow-same-origin';
  // Signed-in content is kept out of shared caches unless the object says otherwise.
  if (facts.signedIn && !facts.cacheControl) headers['cache-control'] = 'private';
  return headers;
}

/** `?download` (any value) asks for a file save rather than display. */
function wantsDownload(querystring: string): boolean {
  return new URLSearchParams(querystring).has('download');
}

/** RFC 6266, with `filename*` for names that are not plain ASCII. */
function attachment(key: string): string {
  const name = key.split('/').filter(Boolean).pop() ?? 'download';
  return contentDisposition(name, { type: 'attachment' });
}
