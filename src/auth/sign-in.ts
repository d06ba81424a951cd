// The two halves of a sign-in: sending the browser to SSO, and taking it back
// at /__redirect_from_sso (the path teams registered with uktrade's proxy).
import { randomBytes } from 'node:crypto';
import * as client from 'openid-client';
import type { Context } from 'koa';
import type { Config } from '../config/config.ts';
import type { Logger } from '../observability/logger.ts';
import { HttpProblem } from '../shared/http-problem.ts';
import { clientOrigin } from '../shared/client-origin.ts';
import type { RequestState } from '../shared/request-state.ts';
import type { LoginStates } from './login-states.ts';
import type { Sessions } from './sessions.ts';
import { SsoRefused, SsoUnavailable, type SsoClient } from './sso-client.ts';
import { clearCookie, setCookie } from './cookies.ts';

export const callbackPath = '/__redirect_from_sso';

export interface SignInDeps {
  config: Config;
  sso: SsoClient;
  loginStates: LoginStates;
  sessions: Sessions;
  logger: Logger;
}

const bindingPattern = /^[A-Za-z0-9_-]{22}$/;

export function bindingCookieName(config: Config): string {
  return `${config.session.cookieName}_login`;
}

/**
 * The binding of a flow that had to mint a new binding. Two tabs of a fresh
 * browser starting sign-in at the same moment each mint one, and the second
 * overwrites the first in the shared cookie; this per-flow copy, sent only to
 * the callback, short-lived and cleared there, keeps the first tab's sign-in
 * valid without letting a state work in another browser.
 */
function flowBindingName(config: Config, state: string): string {
  return `${bindingCookieName(config)}_${state.slice(0, 16)}`;
}

function requestOrigin(ctx: Context): string {
  const origin = clientOrigin(ctx.get('x-forwarded-proto') || undefined, ctx.req.socket && 'encrypted' in ctx.req.socket, ctx.get('host') || undefined);
  if (!origin.ok) throw new HttpProblem(400, 'the Host header is not a host name');
  return origin.origin;
}

/** Sends the browser to SSO, remembering where it was going. */
export async function startSignIn(ctx: Context, deps: SignInDeps): Promise<void> {
  const { config } = deps;
  const origin = requestOrigin(ctx);
  // One binding cookie for all of this browser's sign-ins: parallel tabs
  // share it, so cookies do not pile up, and a state carried to another
  // browser does not match.
  const bindingName = bindingCookieName(config);
  const existing = ctx.cookies.get(bindingName);
  const minted = !(existing && bindingPattern.test(existing));
  const binding = minted ? randomBytes(16).toString('base64url') : existing;
  const ttl = config.loginStateTtlSeconds;
  setCookie(ctx, config, bindingName, binding, { maxAgeSeconds: ttl });

  const state = client.randomState();
  if (minted) setCookie(ctx, config, flowBindingName(config, state), binding, { maxAgeSeconds: ttl, path: callbackPath });
  const codeVerifier = client.randomPKCECodeVerifier();
  const nonce = deps.sso.usesNonce ? client.randomNonce() : undefined;
  await deps.loginStates.save(state, { binding, returnTo: ctx.req.url ?? '/', codeVerifier, ...(nonce ? { nonce } : {}) });
  const url = await deps.sso.authorizationUrl({
    redirectUri: origin + callbackPath,
    state,
    codeChallenge: await client.calculatePKCECodeChallenge(codeVerifier),
    ...(nonce ? { nonce } : {}),
  });
  (ctx.state as RequestState).signIn = { outcome: 'started' };
  ctx.set('cache-control', 'no-store');
  ctx.redirect(url.href);
}

const tooLongMessage = 'Sign-in may have taken too long. Please try the original link again.';

export async function completeSignIn(ctx: Context, deps: SignInDeps): Promise<void> {
  const { config, logger } = deps;
  const state = ctx.state as RequestState;
  state.route = 'callback';
  // Overwritten below wherever the outcome is known; an unforeseen throw stays a failure.
  state.signIn = { outcome: 'failed', reason: 'error' };
  const origin = requestOrigin(ctx);
  const query = new URLSearchParams(ctx.querystring);
  const code = query.get('code');
  const loginState = query.get('state');
  if (!code || !loginState) {
    state.signIn = { outcome: 'failed', reason: 'missing_parameters' };
    throw new HttpProblem(400, 'the callback needs code and state');
  }

  const login = await deps.loginStates.take(loginState);
  const flowBinding = flowBindingName(config, loginState);
  const bindings = [ctx.cookies.get(bindingCookieName(config)), ctx.cookies.get(flowBinding)];
  if (bindings[1] !== undefined) clearCookie(ctx, config, flowBinding, callbackPath);
  if (!login || !bindings.includes(login.binding)) {
    // A stale or replayed link in a browser that is signed in anyway: no need to complain.
    const session = await deps.sessions.load(ctx.cookies.get(config.session.cookieName));
    if (session) {
      state.signIn = { outcome: 'skipped', reason: 'already_signed_in' };
      ctx.set('cache-control', 'no-store');
      ctx.redirect(origin + '/');
      return;
    }
    state.signIn = { outcome: 'failed', reason: login ? 'other_browser' : 'unknown_state' };
    throw new HttpProblem(403, login ? 'login state from another browser' : 'unknown, expired or used login state', {}, tooLongMessage);
  }

  let signedIn;
  try {
    signedIn = await deps.sso.completeSignIn(new URL(origin + (ctx.req.url ?? '')), {
      state: loginState,
      codeVerifier: login.codeVerifier,
      ...(login.nonce ? { nonce: login.nonce } : {}),
    });
  } catch (error) {
    if (error instanceof SsoRefused) {
      state.signIn = { outcome: 'failed', reason: 'sso_refused' };
      logger.warn({ requestId: state.requestId, reason: error.message }, 'sign-in refused by SSO');
      throw new HttpProblem(403, `SSO refused the sign-in: ${error.message}`);
    }
    if (error instanceof SsoUnavailable) {
      state.signIn = { outcome: 'failed', reason: 'sso_unavailable' };
      throw new HttpProblem(500, `SSO unavailable: ${error.message}`);
    }
    throw error;
  }

  // Never reuse a session id across sign-ins (no fixation): drop any old one.
  await deps.sessions.destroy(ctx.cookies.get(config.session.cookieName));
  const session = await deps.sessions.create(signedIn.identity, signedIn.accessToken, signedIn.providerSession);
  state.user = session.identity;
  setCookie(ctx, config, config.session.cookieName, session.id, { maxAgeSeconds: config.session.maxAgeSeconds });
  state.signIn = { outcome: 'succeeded' };
  logger.info({ requestId: state.requestId, user: session.identity.email }, 'signed in');
  ctx.set('cache-control', 'no-store');
  ctx.redirect(origin + login.returnTo);
}
