// The two halves of a sign-in: sending the browser to SSO, and taking it back
// at /__redirect_from_sso (the path teams registered with uktrade's proxy).
// Both return what to answer; src/http answers it.
import * as client from 'openid-client';
import type { Config, SameSite } from '../config/config.ts';
import type { Logger } from '../observability/logger.ts';
import { HttpProblem } from '../shared/http-problem.ts';
import type { LoginStates } from './login-states.ts';
import {
  admitFlow,
  flowCookieName,
  flowId,
  formatFlowIndex,
  indexCookieName,
  isWellFormedState,
  loginStateKey,
  maxFlowCookieBytes,
  openLoginState,
  parseFlowIndex,
  returnCandidates,
  sealLoginState,
  withoutFlow,
  type OpenedLoginState,
} from './login-state-cookie.ts';
import type { Sessions } from './sessions.ts';
import { SsoRefused, SsoUnavailable, type SsoClient } from './sso-client.ts';
import { expired, proxyCookie, type CookieToSet } from './cookies.ts';
import type { AuthOutcome, AuthRequest, Redirect } from './outcome.ts';

export const callbackPath = '/__redirect_from_sso';

export interface SignInDeps {
  config: Config;
  sso: SsoClient;
  loginStates: LoginStates;
  sessions: Sessions;
  logger: Logger;
}

// Derived once per configuration: HKDF is cheap, but not free per request.
const keys = new WeakMap<Config, Uint8Array>();

function sealingKey(config: Config): Uint8Array {
  let key = keys.get(config);
  if (!key) {
    key = loginStateKey(config.session.secret ?? config.sso.clientSecret);
    keys.set(config, key);
  }
  return key;
}

/**
 * The callback comes from SSO's site as a top-level navigation: a Strict
 * cookie would not be sent with it, so login cookies are Lax then. None
 * stays None (sign-in inside another site's frame).
 */
function loginSameSite(config: Config): SameSite {
  return config.session.sameSite === 'none' ? 'none' : 'lax';
}

function flowCookie(config: Config, origin: string, id: string, value: string, maxAgeSeconds: number): CookieToSet {
  return proxyCookie(config, origin, flowCookieName(config.session.cookieName, id), value, {
    maxAgeSeconds,
    path: callbackPath,
    sameSite: loginSameSite(config),
  });
}

function indexCookie(config: Config, origin: string, value: string): CookieToSet {
  return proxyCookie(config, origin, indexCookieName(config.session.cookieName), value, {
    maxAgeSeconds: value === '' ? 0 : config.loginStateTtlSeconds,
    sameSite: loginSameSite(config),
  });
}

/** Sends the browser to SSO; where it was going, and the flow's secrets, go with it in a sealed cookie. */
export async function startSignIn(request: AuthRequest, deps: SignInDeps): Promise<Redirect> {
  const { config } = deps;
  const { origin } = request;
  const ttl = config.loginStateTtlSeconds;
  const state = client.randomState();
  const codeVerifier = client.randomPKCECodeVerifier();
  const nonce = deps.sso.usesNonce ? client.randomNonce() : undefined;
  const redirectUri = origin + callbackPath;
  const id = flowId(state);
  const name = flowCookieName(config.session.cookieName, id);

  let sealed = '';
  for (const returnTo of returnCandidates(origin, request.target)) {
    sealed = await sealLoginState(sealingKey(config), { state, codeVerifier, ...(nonce ? { nonce } : {}), redirectUri, returnTo }, ttl);
    if (name.length + 1 + sealed.length <= maxFlowCookieBytes) break;
  }

  const index = parseFlowIndex(request.cookie(indexCookieName(config.session.cookieName)));
  const { kept, dropped } = admitFlow(index, { id, size: name.length + 1 + sealed.length });
  const cookies = [
    ...dropped.map((old) => expired(flowCookie(config, origin, old.id, '', 0))),
    flowCookie(config, origin, id, sealed, ttl),
    indexCookie(config, origin, formatFlowIndex(kept)),
  ];
  const url = await deps.sso.authorizationUrl({
    redirectUri,
    state,
    codeChallenge: await client.calculatePKCECodeChallenge(codeVerifier),
    ...(nonce ? { nonce } : {}),
  });
  return { kind: 'redirect', location: url.href, status: 302, cookies, signIn: { outcome: 'started' } };
}

const tooLongMessage = 'Sign-in may have taken too long. Please try the original link again.';

/** The flow named by the callback's state, if this browser holds its sealed cookie; and the cookies that retire it. */
async function takeFlow(request: AuthRequest, config: Config, state: string): Promise<{ login?: OpenedLoginState; cookies: CookieToSet[] }> {
  if (!isWellFormedState(state)) return { cookies: [] };
  const id = flowId(state);
  const cookies: CookieToSet[] = [];
  const indexValue = request.cookie(indexCookieName(config.session.cookieName));
  const index = parseFlowIndex(indexValue);
  if (index.some((entry) => entry.id === id)) cookies.push(indexCookie(config, request.origin, formatFlowIndex(withoutFlow(index, id))));
  const sealed = request.cookie(flowCookieName(config.session.cookieName, id));
  if (sealed === undefined) return { cookies };
  cookies.push(expired(flowCookie(config, request.origin, id, '', 0)));
  const login = await openLoginState(sealingKey(config), sealed);
  // The cookie's name is only a prefix of the state: the sealed state must be this one.
  return login?.state === state ? { login, cookies } : { cookies };
}

export async function completeSignIn(request: AuthRequest, deps: SignInDeps): Promise<AuthOutcome> {
  const { config, logger } = deps;
  const query = new URLSearchParams(request.query);
  const code = query.get('code');
  const state = query.get('state');
  if (!code || !state) {
    return { kind: 'refused', problem: new HttpProblem(400, 'the callback needs code and state'), cookies: [], signIn: { outcome: 'failed', reason: 'missing_parameters' } };
  }

  const { login, cookies } = await takeFlow(request, config, state);
  // Single use, remembered only once the browser has shown the state's own
  // cookie: a state carried to another browser neither works there nor
  // uses up the rightful browser's sign-in.
  const firstUse = login !== undefined && (await deps.loginStates.claim(state, login.expiresAt));
  if (!login || !firstUse) {
    // A stale or replayed link in a browser that is signed in anyway: no need to complain.
    const session = await deps.sessions.load(request.cookie(config.session.cookieName));
    if (session) {
      return { kind: 'redirect', location: `${request.origin}/`, status: 302, cookies, signIn: { outcome: 'skipped', reason: 'already_signed_in' } };
    }
    const detail = login ? 'login state already used' : 'unknown or expired login state, or not this browser’s';
    return { kind: 'refused', problem: new HttpProblem(403, detail, {}, tooLongMessage), cookies, signIn: { outcome: 'failed', reason: 'unknown_state' } };
  }

  let signedIn;
  try {
    // The redirect_uri of the code exchange must be the one SSO was given,
    // whatever Host this callback arrived with.
    signedIn = await deps.sso.completeSignIn(new URL(`${login.redirectUri}?${request.query}`), {
      state,
      codeVerifier: login.codeVerifier,
      ...(login.nonce ? { nonce: login.nonce } : {}),
    });
  } catch (error) {
    await deps.loginStates.release(state);
    if (error instanceof SsoRefused) {
      logger.warn({ requestId: request.requestId, reason: error.message }, 'sign-in refused by SSO');
      return { kind: 'refused', problem: new HttpProblem(403, `SSO refused the sign-in: ${error.message}`), cookies, signIn: { outcome: 'failed', reason: 'sso_refused' } };
    }
    if (error instanceof SsoUnavailable) {
      return { kind: 'refused', problem: new HttpProblem(500, `SSO unavailable: ${error.message}`), cookies, signIn: { outcome: 'failed', reason: 'sso_unavailable' } };
    }
    throw error;
  }

  // Never reuse a session id across sign-ins (no fixation): drop any old one.
  await deps.sessions.destroy(request.cookie(config.session.cookieName));
  const session = await deps.sessions.create(signedIn.identity, signedIn.accessToken, signedIn.providerSession);
  logger.info({ requestId: request.requestId, user: session.identity.email }, 'signed in');
  cookies.push(proxyCookie(config, request.origin, config.session.cookieName, session.id, { maxAgeSeconds: config.session.maxAgeSeconds }));
  return { kind: 'redirect', location: login.returnTo, status: 302, cookies, signIn: { outcome: 'succeeded' }, user: session.identity };
}
