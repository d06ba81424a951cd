// The identity provider, through openid-client in both modes: a plain OAuth2
// server with uktrade staff-sso's endpoints, or an OpenID Connect issuer found
// by discovery. Everything the rest of the proxy needs from SSO is here.
import * as client from 'openid-client';
import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import type { SsoSettings } from '../config/config.ts';
import type { Identity } from '../shared/identity.ts';
import { onceUntilFailure } from '../shared/once-until-failure.ts';
import type { ProviderSession } from './sessions.ts';

/** SSO said no (4xx, or a response that fails validation): 403. */
export class SsoRefused extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'SsoRefused';
  }
}

/** SSO could not be asked (network, timeout, 5xx): 500, and nothing is dropped. */
export class SsoUnavailable extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'SsoUnavailable';
  }
}

export type TokenCheck = 'valid' | 'revoked';

export interface AuthorizationRequest {
  redirectUri: string;
  state: string;
  codeChallenge: string;
  nonce?: string;
}

export interface CallbackChecks {
  state: string;
  codeVerifier: string;
  nonce?: string;
}

export interface SignedIn {
  identity: Identity;
  accessToken: string;
  /** OIDC: the ID token's sub and sid, for back-channel logout */
  providerSession?: ProviderSession;
}

/** Who signs logout tokens, and with which keys (the issuer's JWKS). */
export interface LogoutTokenIssuer {
  issuer: string;
  keys: JWTVerifyGetKey;
  /** the asymmetric algorithms the issuer signs ID tokens with, when it says */
  algorithms?: string[];
}

export interface SsoClient {
  /** OIDC binds the ID token to the sign-in with a nonce; plain OAuth2 has none */
  readonly usesNonce: boolean;
  authorizationUrl(request: AuthorizationRequest): Promise<URL>;
  /** Exchanges the code from the callback URL and asks who signed in. */
  completeSignIn(callbackUrl: URL, checks: CallbackChecks): Promise<SignedIn>;
  /** Asks SSO whether the token still stands. Throws SsoUnavailable when it cannot tell. */
  checkToken(accessToken: string): Promise<TokenCheck>;
  /** RP-initiated logout, where the provider offers it. */
  endSessionUrl(postLogoutRedirectUri: string): Promise<URL | undefined>;
  /** OIDC: the issuer's key set (jwks_uri), to check its JWT access tokens; undefined in plain OAuth2 mode. Throws SsoUnavailable. */
  jwksUri(): Promise<URL | undefined>;
  /** OIDC only (absent in plain OAuth2 mode): for back-channel logout. Throws SsoUnavailable. */
  logoutTokenIssuer?(): Promise<LogoutTokenIssuer>;
}

const ssoTimeoutSeconds = 10;

export function createSsoClient(settings: SsoSettings): SsoClient {
  return settings.mode === 'oidc' ? oidcClient(settings) : oauth2Client(settings);
}

function oauth2Client(settings: Extract<SsoSettings, { mode: 'oauth2' }>): SsoClient {
  const config = new client.Configuration(
    {
      issuer: settings.url,
      authorization_endpoint: `${settings.url}o/authorize/`,
      token_endpoint: `${settings.internalUrl}o/token/`,
    },
    settings.clientId,
    settings.clientSecret,
    client.ClientSecretPost(settings.clientSecret),
  );
  config.timeout = ssoTimeoutSeconds;
  if (settings.internalUrl.startsWith('http:')) client.allowInsecureRequests(config);
  const me = new URL(`${settings.internalUrl}api/v1/user/me/`);

  const fetchMe = async (accessToken: string): Promise<Response> => {
    try {
      return await client.fetchProtectedResource(config, accessToken, me, 'GET');
    } catch (error) {
      return responseOf(error);
    }
  };

  return {
    usesNonce: false,
    async authorizationUrl(request) {
      return client.buildAuthorizationUrl(config, {
        redirect_uri: request.redirectUri,
        scope: 'read write',
        state: request.state,
        code_challenge: request.codeChallenge,
        code_challenge_method: 'S256',
      });
    },
    async completeSignIn(callbackUrl, checks) {
      const tokens = await exchangeCode(config, callbackUrl, checks);
      const response = await fetchMe(tokens.access_token);
      if (response.status !== 200) throw failureFromStatus(response.status, 'user info');
      const me = (await response.json()) as Record<string, unknown>;
      const email = stringOf(me.email) ?? stringOf(me.contact_email) ?? '';
      const name = [stringOf(me.first_name), stringOf(me.last_name)].filter(Boolean).join(' ');
      return { identity: { id: stringOf(me.user_id) ?? email, email, name }, accessToken: tokens.access_token };
    },
    async checkToken(accessToken) {
      return tokenCheckFromStatus((await fetchMe(accessToken)).status);
    },
    async endSessionUrl() {
      return undefined;
    },
    async jwksUri() {
      return undefined;
    },
  };
}

function oidcClient(settings: Extract<SsoSettings, { mode: 'oidc' }>): SsoClient {
  // Discovered on first use and again after a failure, so the proxy starts,
  // and serves its healthcheck, while the issuer is away.
  const configuration = onceUntilFailure(() =>
    discover(settings).catch((error: unknown) => {
      throw new SsoUnavailable('OpenID Connect discovery failed', error);
    }),
  );
  let logoutIssuer: (LogoutTokenIssuer & { config: client.Configuration }) | undefined;

  const fetchUserInfo = async (config: client.Configuration, accessToken: string): Promise<Response> => {
    const endpoint = config.serverMetadata().userinfo_endpoint;
    if (!endpoint) throw new SsoUnavailable('the issuer has no userinfo endpoint');
    try {
      return await client.fetchProtectedResource(config, accessToken, new URL(endpoint), 'GET');
    } catch (error) {
      return responseOf(error);
    }
  };

  return {
    usesNonce: true,
    async authorizationUrl(request) {
      return client.buildAuthorizationUrl(await configuration(), {
        redirect_uri: request.redirectUri,
        scope: 'openid email profile',
        state: request.state,
        nonce: request.nonce ?? '',
        code_challenge: request.codeChallenge,
        code_challenge_method: 'S256',
      });
    },
    async completeSignIn(callbackUrl, checks) {
      const config = await configuration();
      const tokens = await exchangeCode(config, callbackUrl, checks);
      const claims = tokens.claims();
      if (!claims) throw new SsoRefused('no ID token in the token response');
      let info: client.UserInfoResponse;
      try {
        info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
      } catch (error) {
        throw classify(error, 'user info');
      }
      const email = stringOf(info.email) ?? stringOf(claims.email) ?? '';
      const name = stringOf(info.name) ?? stringOf(claims.name) ?? '';
      const sid = stringOf(claims.sid);
      return {
        identity: { id: claims.sub, email, name, ...groupsOf(info.groups, claims.groups) },
        accessToken: tokens.access_token,
        providerSession: { sub: claims.sub, ...(sid === undefined ? {} : { sid }) },
      };
    },
    async checkToken(accessToken) {
      const config = await configuration();
      return tokenCheckFromStatus((await fetchUserInfo(config, accessToken)).status);
    },
    async endSessionUrl(postLogoutRedirectUri) {
      const config = await configuration();
      if (!config.serverMetadata().end_session_endpoint) return undefined;
      return client.buildEndSessionUrl(config, { post_logout_redirect_uri: postLogoutRedirectUri, client_id: settings.clientId });
    },
    async jwksUri() {
      const uri = (await configuration()).serverMetadata().jwks_uri;
      if (!uri) throw new SsoUnavailable('the issuer publishes no jwks_uri');
      return new URL(uri);
    },
    async logoutTokenIssuer() {
      const config = await configuration();
      if (logoutIssuer?.config !== config) {
        const metadata = config.serverMetadata();
        if (!metadata.jwks_uri) throw new SsoUnavailable('the issuer publishes no jwks_uri');
        // jose keeps the key set, and fetches it again for a key id it does not know (key rotation).
        const keys = createRemoteJWKSet(new URL(metadata.jwks_uri), { timeoutDuration: ssoTimeoutSeconds * 1000 });
        const algorithms = metadata.id_token_signing_alg_values_supported?.filter((alg) => alg !== 'none' && !alg.startsWith('HS'));
        logoutIssuer = { config, issuer: metadata.issuer, keys, ...(algorithms?.length ? { algorithms } : {}) };
      }
      const { config: _, ...issuer } = logoutIssuer;
      return issuer;
    },
  };
}

async function discover(settings: Extract<SsoSettings, { mode: 'oidc' }>): Promise<client.Configuration> {
  const issuer = new URL(settings.issuer);
  const config = await client.discovery(issuer, settings.clientId, settings.clientSecret, undefined, {
    timeout: ssoTimeoutSeconds,
    // Only loopback issuers may be plain http; the config parser enforces it.
    execute: issuer.protocol === 'http:' ? [client.allowInsecureRequests] : [],
  });
  config.timeout = ssoTimeoutSeconds;
  return config;
}

async function exchangeCode(config: client.Configuration, callbackUrl: URL, checks: CallbackChecks) {
  try {
    return await client.authorizationCodeGrant(config, callbackUrl, {
      expectedState: checks.state,
      pkceCodeVerifier: checks.codeVerifier,
      ...(checks.nonce === undefined ? {} : { expectedNonce: checks.nonce }),
    });
  } catch (error) {
    throw classify(error, 'code exchange');
  }
}

function tokenCheckFromStatus(status: number): TokenCheck {
  if (status === 200) return 'valid';
  if (status === 401 || status === 403) return 'revoked';
  throw new SsoUnavailable(`token check answered ${status}`);
}

function failureFromStatus(status: number, step: string): Error {
  return status >= 400 && status < 500
    ? new SsoRefused(`${step} answered ${status}`)
    : new SsoUnavailable(`${step} answered ${status}`);
}

/** openid-client throws for some statuses; the status is what matters here. */
function responseOf(error: unknown): Response {
  const response = (error as { response?: unknown })?.response;
  if (response instanceof Response) return response;
  throw new SsoUnavailable('SSO could not be reached', error);
}

function classify(error: unknown, step: string): Error {
  if (error instanceof SsoRefused || error instanceof SsoUnavailable) return error;
  if (error instanceof client.AuthorizationResponseError) return new SsoRefused(`${step}: ${error.error}`, error);
  const status = (error as { status?: unknown })?.status ?? ((error as { cause?: unknown })?.cause as { status?: unknown } | undefined)?.status;
  if (typeof status === 'number') return failureFromStatus(status, step);
  if (error instanceof client.ClientError) {
    // Validation failures of a response that did arrive (ID token, nonce,
    // state) are refusals; failures to get one at all are outages.
    const code = (error as { code?: string }).code ?? '';
    const unavailable = code === 'OAUTH_TIMEOUT' || code === 'OAUTH_ABORT' || code === 'OAUTH_RESPONSE_IS_NOT_JSON';
    return unavailable ? new SsoUnavailable(`${step}: ${code}`, error) : new SsoRefused(`${step}: ${code || error.message}`, error);
  }
  return new SsoUnavailable(`${step}: SSO could not be reached`, error);
}

/** The OIDC `groups` claim (a list of names), from the first source that has one; UPLOAD_ALLOWED_USERS matches `group:NAME` against it. */
function groupsOf(...sources: unknown[]): { groups?: string[] } {
  const list = sources.find(Array.isArray) as unknown[] | undefined;
  return list ? { groups: list.filter((group): group is string => typeof group === 'string' && group !== '') } : {};
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
