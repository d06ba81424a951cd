// Which headers cross the proxy, in each direction. Pure.
import type { IncomingHttpHeaders } from 'node:http';

/** Conditional and range headers: S3 evaluates them itself. */
export const forwardedRequestHeaders = [
  'range',
  'if-range',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
] as const;

/**
 * What describes the representation. Everything else S3 sends (x-amz-*,
 * server, request ids) stays behind the proxy.
 */
export const forwardedResponseHeaders = [
  'accept-ranges',
  'content-length',
  'content-range',
  'content-type',
  'etag',
  'last-modified',
  'cache-control',
  'content-disposition',
  'content-encoding',
  'content-language',
  'expires',
  'date',
] as const;

export function pickRequestHeaders(incoming: IncomingHttpHeaders): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of forwardedRequestHeaders) {
    const value = incoming[name];
    if (typeof value === 'string') picked[name] = value;
  }
  return picked;
}

export function pickResponseHeaders(
  upstream: Record<string, string | string[] | undefined>,
): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of forwardedResponseHeaders) {
    const value = upstream[name];
    if (typeof value === 'string') picked[name] = value;
    else if (Array.isArray(value) && value.length > 0) picked[name] = value.join(', ');
  }
  return picked;
}
