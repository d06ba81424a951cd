// What a sign-in or sign-out step needs to know of a request, and what it
// decided: auth works on these, and src/http turns the decision into the
// response (status, Location, Set-Cookie, body).
import type { Context } from 'koa';
import type { IncomingHttpHeaders } from 'node:http';
import type { HttpProblem } from '../shared/http-problem.ts';
import type { Identity } from '../shared/identity.ts';
import type { RequestState } from '../shared/request-state.ts';
import { proxyOrigin } from '../shared/proxy-origin.ts';
import type { CookieToSet } from './cookies.ts';

export interface AuthRequest {
  /** for log lines */
  requestId: string;
  /** the proxy's origin as the browser sees it (PUBLIC_URL when set) */
  origin: string;
  /** the request-target as sent */
  target: string;
  /** the query string, without '?' */
  query: string;
  headers: IncomingHttpHeaders;
  cookie(name: string): string | undefined;
}

export function authRequest(ctx: Context, publicUrl: string | undefined): AuthRequest {
  return {
    requestId: (ctx.state as RequestState).requestId,
    origin: proxyOrigin(ctx.req, publicUrl),
    target: ctx.req.url ?? '/',
    query: ctx.querystring,
    headers: ctx.req.headers,
    cookie: (name) => ctx.cookies.get(name),
  };
}

type SignInRecord = NonNullable<RequestState['signIn']>;

interface Common {
  cookies: CookieToSet[];
  /** for the request's log line and metrics */
  signIn?: SignInRecord;
  user?: Identity;
}

export type AuthOutcome =
  | (Common & { kind: 'redirect'; location: string; status: 302 | 303 })
  | (Common & { kind: 'page'; html: string; headers?: Record<string, string> })
  | (Common & { kind: 'refused'; problem: HttpProblem });

export type Redirect = Extract<AuthOutcome, { kind: 'redirect' }>;
