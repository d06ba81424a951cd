// Who is calling, whichever way they proved it: an Authorization: Bearer
// token (bearer.ts) or a session cookie from SSO sign-in. Every route that
// needs a user asks this one question.
import type { Context } from 'koa';
import type { Config } from '../config/config.ts';
import type { Identity } from '../shared/identity.ts';
import { bearerIdentity, type BearerAuth } from './bearer.ts';
import { currentSession } from './current-session.ts';
import type { Sessions } from './sessions.ts';
import type { SsoClient } from './sso-client.ts';

export interface Caller {
  identity: Identity;
  /** cookie callers are subject to same-origin checks on state-changing requests; bearer callers are not */
  via: 'session' | 'bearer';
}

export interface IdentifyDeps {
  config: Config;
  sessions: Sessions;
  sso: SsoClient;
  /** absent: every Bearer token is refused with 401 */
  bearer?: BearerAuth;
}

/**
 * undefined: no credentials at all. A bad bearer token throws HttpProblem
 * 401 and never falls back to the cookie: a script that sent a token wants
 * to know it was wrong.
 */
export async function identify(ctx: Context, deps: IdentifyDeps): Promise<Caller | undefined> {
  const bearer = await bearerIdentity(ctx, deps.bearer);
  if (bearer) return { identity: bearer, via: 'bearer' };
  const session = await currentSession(ctx, deps);
  return session ? { identity: session.identity, via: 'session' } : undefined;
}
