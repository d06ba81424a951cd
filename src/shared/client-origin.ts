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

/** What a request says about itself, for telling a person's navigation from a script. */
export interface NavigationSignals {
  /** Sec-Fetch-Mode, when the client sent fetch metadata */
  secFetchMode: string | undefined;
  /** the Accept header admits text/html (as any-type and text/* ranges do); no Accept admits everything */
  acceptsHtml: boolean;
  /** an Authorization header was sent: an API client, never a person at a browser */
  authorization: boolean;
}

/**
 * Whether the request is a top-level navigation, which may be sent to SSO
 * (and shown an HTML error page). Browsers say so in Sec-Fetch-Mode; a
 * client that sends no fetch metadata (curl, wget, older browsers, office
 * software opening a link) counts as one unless its Accept rules HTML out,
 * as uktrade's proxy sends every such request to SSO. Scripts, media
 * elements and API clients say they are not (Sec-Fetch-Mode other than
 * navigate, an Accept without HTML, an Authorization header) and get 401.
 */
export function isNavigation(signals: NavigationSignals): boolean {
  if (signals.authorization) return false;
  if (signals.secFetchMode !== undefined) return signals.secFetchMode === 'navigate';
  return signals.acceptsHtml;
}
