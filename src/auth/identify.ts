// Who is calling, whichever way they proved it: a session cookie from SSO
// sign-in, or (see bearer.ts, once wired) an Authorization: Bearer token.
// Every route that needs a user asks this one question.
import type { Context } from 'koa';
import type { Config } from '../config/config.ts';
import type { Identity } from '../shared/identity.ts';
import { currentSession } from './require-session.ts';
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
}

/** undefined: no credentials at all. Bad credentials throw HttpProblem 401. */
export async function identify(ctx: Context, deps: IdentifyDeps): Promise<Caller | undefined> {
  const session = await currentSession(ctx, deps);
  return session ? { identity: session.identity, via: 'session' } : undefined;
}
