// The proxy's own origin as the browser sees it: the configured PUBLIC_URL
// when there is one (then Host and X-Forwarded-* are not trusted for it),
// else what the request's Host and X-Forwarded-Proto say.
import type { IncomingMessage } from 'node:http';
import { clientOrigin } from './client-origin.ts';
import { HttpProblem } from './http-problem.ts';

/** `publicUrl`: the operator's PUBLIC_URL origin (scheme://host[:port]), if set. */
export function proxyOrigin(req: IncomingMessage, publicUrl: string | undefined): string {
  if (publicUrl !== undefined) return publicUrl;
  const origin = clientOrigin(req.headers['x-forwarded-proto'], Boolean(req.socket && 'encrypted' in req.socket), req.headers.host);
  if (!origin.ok) throw new HttpProblem(400, 'the Host header is not a host name');
  return origin.origin;
}
