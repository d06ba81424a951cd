// Which downloads may be sent to S3 (DOWNLOAD_REDIRECT_MIN_BYTES), and with
// which response headers. Pure.
//
// S3 answers a presigned GET with the headers the URL names
// (response-content-type, -disposition, -cache-control) but cannot add the
// `Content-Security-Policy: sandbox` and `nosniff` the proxy puts on every
// object. Sandboxing is not needed against the proxy's own origin there (the
// document is on S3's origin, which holds no session), but a document that
// runs script on S3's origin could still read the presigned URL it came by,
// phish under the bucket's hostname, or reach other objects' URLs handed to
// the same browser. So only what a browser never runs is redirected:
// - video, audio and raster images, shown as media (never `image/svg+xml`
//   or any `+xml` type, which render as documents that run script);
// - archives and opaque binaries, which browsers save anyway: they are
//   redirected as attachments, so that no sniffing browser renders one;
// - anything at all with `?download`, which is an attachment already.
// HTML, text, XML, SVG, JSON, PDF (the viewer follows links and runs
// script), unknown and missing types stay on the proxy, sandboxed.
import { attachment, privateCacheControl, wantsDownload } from './object-headers.ts';

/** types browsers save rather than display: sent as attachments, which they would be anyway */
const SAVED_TYPES = new Set([
  'application/octet-stream',
  'binary/octet-stream',
  'application/zip',
  'application/gzip',
  'application/x-gzip',
  'application/x-tar',
  'application/x-7z-compressed',
  'application/x-xz',
  'application/x-bzip2',
  'application/zstd',
  'application/vnd.rar',
  'application/x-rar-compressed',
]);

export interface RedirectFacts {
  /** the key relative to the operator's prefix */
  key: string;
  /** the request's query string, without '?' */
  querystring: string;
  /** S3's answer to the GET: 200 or 206 */
  status: number;
  headers: Record<string, string | string[] | undefined>;
  minBytes: number;
}

/** What S3 is asked to answer with; the object's own Cache-Control made private. */
export interface RedirectHeaders {
  contentType: string;
  contentDisposition?: string;
  cacheControl: string;
}

/** The headers to presign, or undefined when the proxy streams the object itself. */
export function redirectHeaders(facts: RedirectFacts): RedirectHeaders | undefined {
  const size = objectSize(facts.status, facts.headers);
  if (size === undefined || size < facts.minBytes) return undefined;
  const contentType = header(facts.headers, 'content-type');
  if (contentType === undefined) return undefined;
  const essence = contentType.split(';', 1)[0]!.trim().toLowerCase();
  const cacheControl = privateCacheControl(header(facts.headers, 'cache-control'));
  const saved = { contentType, contentDisposition: attachment(facts.key), cacheControl };
  if (wantsDownload(facts.querystring)) return saved;
  if (SAVED_TYPES.has(essence)) return saved;
  if (displayedAsMedia(essence)) return { contentType, cacheControl };
  return undefined;
}

function displayedAsMedia(essence: string): boolean {
  const [type, subtype] = essence.split('/', 2);
  if (!subtype || subtype.endsWith('+xml') || subtype.includes('xml')) return false;
  return type === 'video' || type === 'audio' || type === 'image';
}

/** The whole object's size: Content-Length of a 200, the total of a 206's Content-Range. */
export function objectSize(status: number, headers: Record<string, string | string[] | undefined>): number | undefined {
  const raw = status === 206 ? /^bytes \d+-\d+\/(\d+)$/.exec(header(headers, 'content-range') ?? '')?.[1] : status === 200 ? header(headers, 'content-length') : undefined;
  if (raw === undefined || !/^\d+$/.test(raw)) return undefined;
  const size = Number(raw);
  return Number.isSafeInteger(size) ? size : undefined;
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' ? value : undefined;
}
