// The origin the browser used to reach the proxy, for redirect URIs and
// return URLs. Pure. The scheme honours x-forwarded-proto (PaaS routers end
// TLS before the proxy); the host is taken from Host and must look like one,
// so a forged header cannot steer a redirect somewhere else.

const hostPattern = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

export function clientOrigin(
  forwardedProto: string | string[] | undefined,
  encrypted: boolean,
  host: string | undefined,
): { ok: true; proto: 'http' | 'https'; origin: string } | { ok: false } {
  if (!host || !hostPattern.test(host)) return { ok: false };
  const first = (Array.isArray(forwardedProto) ? forwardedProto[0] : forwardedProto)?.split(',')[0]?.trim().toLowerCase();
  const proto = first === 'https' || first === 'http' ? first : encrypted ? 'https' : 'http';
  return { ok: true, proto, origin: `${proto}://${host}` };
}

/** The request-target as sent, when it is origin-form (`/path?query`). */
export function originFormTarget(url: string | undefined): { path: string; query: string | undefined } | undefined {
  if (!url || !url.startsWith('/')) return undefined;
  const q = url.indexOf('?');
  return q === -1 ? { path: url, query: undefined } : { path: url.slice(0, q), query: url.slice(q + 1) };
}

/** Whether the request is a browser's top-level navigation, which may be sent to SSO. */
export function isNavigation(secFetchMode: string | undefined, accept: string | undefined): boolean {
  if (secFetchMode !== undefined) return secFetchMode === 'navigate';
  return (accept ?? '').toLowerCase().includes('text/html');
}
