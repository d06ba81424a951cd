// Whether a state-changing request was sent by the proxy's own pages, so
// that another site cannot make a signed-in browser sign out or upload.
// Fetch metadata first (every current browser sends it); Origin otherwise.
import type { IncomingHttpHeaders } from 'node:http';

export function fromSameOrigin(headers: IncomingHttpHeaders, proxyOrigin: string): boolean {
  const site = headers['sec-fetch-site'];
  if (typeof site === 'string') return site === 'same-origin';
  const origin = headers.origin;
  return typeof origin === 'string' && origin === proxyOrigin;
}
