// `Authorization: Bearer <JWT>` for scripts and the command-line client, in
// two kinds:
// - an API key's token: signed by the user's own private key, whose public
//   half is `<sub>_public.pem` in API_PUBLIC_KEYS_DIR (api-keys.ts), for
//   API_AUDIENCE, living at most 10 minutes;
// - in OIDC mode, an access token that is a JWT of OIDC_ISSUER, checked
//   against the issuer's published keys, for SSO_CLIENT_ID or API_AUDIENCE.
// Everything cryptographic and every claim check is jose's; this file only
// chooses the key and the rules. Why a token was refused goes to the log,
// never into the answer.
import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
  type ProtectedHeaderParameters,
} from 'jose';
import type { Context } from 'koa';
import type { ApiSettings, SsoSettings } from '../config/config.ts';
import type { Logger } from '../observability/logger.ts';
import { HttpProblem } from '../shared/http-problem.ts';
import type { Identity } from '../shared/identity.ts';
import type { RequestState } from '../shared/request-state.ts';
import { ApiKeyDirectory } from './api-keys.ts';
import { SsoUnavailable, type SsoClient } from './sso-client.ts';

/** What a user's own key may sign with: asymmetric only, so `none` and HMAC (also with a public key as the secret) never verify. */
export const apiKeyAlgorithms = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;
const oidcAlgorithms = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
/** An API key's token may live this long (exp − iat). */
export const maxApiTokenSeconds = 600;
/** Clocks of clients and the proxy disagree a little; beyond this, exp, nbf and iat are wrong. */
export const clockToleranceSeconds = 30;
const jwksTimeoutMs = 10_000;

export type BearerVerdict =
  | { ok: true; identity: Identity; kind: 'api-key' | 'oidc' }
  /** unavailable: the token could not be checked now (the issuer's keys could not be fetched) */
  | { ok: false; reason: string; unavailable?: boolean; sub?: string };

export interface BearerVerifierOptions {
  api?: ApiSettings;
  sso: SsoSettings;
  /** for the issuer's jwks_uri in OIDC mode */
  ssoClient: Pick<SsoClient, 'jwksUri'>;
  /** for tests: the time jose compares exp, nbf and iat with */
  now?: () => Date;
}

export class BearerVerifier {
  readonly #api: ApiSettings | undefined;
  readonly #sso: SsoSettings;
  readonly #ssoClient: Pick<SsoClient, 'jwksUri'>;
  readonly #keys: ApiKeyDirectory | undefined;
  readonly #now: () => Date;
  #jwks: { href: string; keys: JWTVerifyGetKey } | undefined;

  constructor(options: BearerVerifierOptions) {
    this.#api = options.api;
    this.#sso = options.sso;
    this.#ssoClient = options.ssoClient;
    this.#keys = options.api?.publicKeysDir === undefined ? undefined : new ApiKeyDirectory(options.api.publicKeysDir);
    this.#now = options.now ?? (() => new Date());
  }

  /** Whether any kind of bearer token can be accepted at all. */
  get enabled(): boolean {
    return this.#keys !== undefined || this.#sso.mode === 'oidc';
  }

  async verify(token: string): Promise<BearerVerdict> {
    // Compact JWS only: three base64url parts (a JWE has five).
    if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) return { ok: false, reason: 'not a signed JWT (compact JWS)' };
    let header: ProtectedHeaderParameters;
    let claims: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      claims = decodeJwt(token);
    } catch {
      return { ok: false, reason: 'malformed JWT' };
    }
    const sub = typeof claims.sub === 'string' ? claims.sub.slice(0, 100) : undefined;
    const refuse = (reason: string): BearerVerdict => ({ ok: false, reason, ...(sub === undefined ? {} : { sub }) });
    // The claims are not trusted yet: they only choose which key must have signed.
    if (this.#sso.mode === 'oidc' && claims.iss === this.#sso.issuer) return this.#verifyOidc(token, header, claims, refuse);
    if (!this.#keys) return refuse(this.#sso.mode === 'oidc' ? 'not a token of OIDC_ISSUER, and API_PUBLIC_KEYS_DIR is not set' : 'API_PUBLIC_KEYS_DIR is not set');
    if (!(apiKeyAlgorithms as readonly string[]).includes(String(header.alg))) return refuse(`alg ${JSON.stringify(header.alg)} is not one of ${apiKeyAlgorithms.join(', ')}`);
    if (typeof claims.sub !== 'string') return refuse('no sub');
    const lookup = await this.#keys.keyFor(claims.sub);
    if (!lookup.ok) return refuse(lookup.reason);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, lookup.key, {
        algorithms: [...apiKeyAlgorithms],
        audience: this.#api?.audience ?? '',
        subject: claims.sub,
        requiredClaims: ['exp', 'iat'],
        // also refuses an iat in the future
        maxTokenAge: maxApiTokenSeconds,
        clockTolerance: clockToleranceSeconds,
        currentDate: this.#now(),
      }));
    } catch (error) {
      // jose's own errors are about the token; anything else is the key refusing the header's alg
      return refuse(error instanceof errors.JOSEError ? reasonOf(error) : `alg ${String(header.alg)} does not fit the key of ${claims.sub} (${(error as Error).message})`);
    }
    if ((payload.exp ?? 0) - (payload.iat ?? 0) > maxApiTokenSeconds) return refuse(`exp is more than ${maxApiTokenSeconds} s after iat`);
    return { ok: true, kind: 'api-key', identity: { id: claims.sub, email: claims.sub, name: claims.sub } };
  }

  async #verifyOidc(
    token: string,
    header: ProtectedHeaderParameters,
    claims: JWTPayload,
    refuse: (reason: string) => BearerVerdict,
  ): Promise<BearerVerdict> {
    if (this.#sso.mode !== 'oidc') return refuse('not in OIDC mode');
    if (!oidcAlgorithms.includes(String(header.alg))) return refuse(`alg ${JSON.stringify(header.alg)} is not accepted for access tokens`);
    // An ID token has the same issuer, keys and (client id) audience: it must
    // not pass for an access token. RFC 9068 access tokens say so in typ;
    // providers that predate it (typ JWT) are told apart by ID-token-only claims.
    const typ = String(header.typ ?? '').toLowerCase();
    if (typ !== 'at+jwt' && typ !== 'application/at+jwt') {
      if (claims.nonce !== undefined || claims.at_hash !== undefined || claims.typ === 'ID') return refuse('an ID token, not an access token');
    }
    let key;
    try {
      key = await (await this.#issuerKeys())({ ...header, alg: String(header.alg) }, { payload: '', signature: '' });
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) return refuse(reasonOf(error));
      return { ok: false, unavailable: true, reason: `the issuer's keys could not be fetched: ${(error as Error).message}` };
    }
    const audiences = [this.#sso.clientId, ...(this.#api?.audience === undefined ? [] : [this.#api.audience])];
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key, {
        algorithms: oidcAlgorithms,
        issuer: this.#sso.issuer,
        audience: audiences,
        requiredClaims: ['exp', 'sub'],
        clockTolerance: clockToleranceSeconds,
        currentDate: this.#now(),
      }));
    } catch (error) {
      return refuse(reasonOf(error));
    }
    const email = typeof payload.email === 'string' && payload.email !== '' ? payload.email : undefined;
    if (email === undefined) return refuse('the access token has no email claim');
    const name = typeof payload.name === 'string' && payload.name !== '' ? payload.name : email;
    const groups = Array.isArray(payload.groups) ? payload.groups.filter((g): g is string => typeof g === 'string' && g !== '') : undefined;
    return { ok: true, kind: 'oidc', identity: { id: payload.sub ?? email, email, name, ...(groups ? { groups } : {}) } };
  }

  async #issuerKeys(): Promise<JWTVerifyGetKey> {
    let uri: URL | undefined;
    try {
      uri = await this.#ssoClient.jwksUri();
    } catch (error) {
      throw error instanceof SsoUnavailable ? error : new SsoUnavailable('discovery failed', error);
    }
    if (!uri) throw new SsoUnavailable('the issuer publishes no jwks_uri');
    // jose caches the key set, and fetches it again for a key id it does not know (rotation).
    if (this.#jwks?.href !== uri.href) this.#jwks = { href: uri.href, keys: createRemoteJWKSet(uri, { timeoutDuration: jwksTimeoutMs }) };
    return this.#jwks.keys;
  }
}

/** jose's reasons are precise and carry nothing secret. */
function reasonOf(error: unknown): string {
  if (error instanceof errors.JWTExpired) return error.claim === 'iat' ? `too old (iat more than ${maxApiTokenSeconds} s ago)` : 'expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') return `no ${error.claim}`;
    if (error.claim === 'iat') return 'iat is in the future';
    if (error.claim === 'aud') return 'wrong aud';
    return `${error.claim}: ${error.message}`;
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'the signature does not verify with the key';
  return (error as Error)?.message ?? String(error);
}

/**
 * The caller of a request that carries `Authorization: Bearer`, checked and
 * logged; undefined for a request without one (other schemes included, so a
 * front proxy's Basic auth does not get in the way of the cookie).
 */
export async function bearerIdentity(ctx: Context, bearer: BearerAuth | undefined): Promise<Identity | undefined> {
  const header = ctx.get('authorization');
  const match = /^\s*bearer(?:\s+(.*?))?\s*$/is.exec(header);
  if (!match) return undefined;
  const state = ctx.state as RequestState;
  const token = match[1] ?? '';
  // RFC 6750: say that a token is wrong, never why.
  const challenge = { 'www-authenticate': 'Bearer error="invalid_token"' };
  if (!bearer || !bearer.verifier.enabled) {
    bearer?.logger.warn({ requestId: state.requestId, reason: 'bearer tokens are not configured' }, 'bearer token refused');
    throw new HttpProblem(401, 'bearer token refused: bearer tokens are not configured', challenge);
  }
  // anything after "Bearer" is the attempt: a malformed one is refused, never ignored in favour of the cookie
  const verdict: BearerVerdict = token === '' ? { ok: false, reason: 'empty token' } : await bearer.verifier.verify(token);
  if (verdict.ok) {
    state.user = verdict.identity;
    return verdict.identity;
  }
  if (verdict.unavailable) {
    bearer.logger.error({ requestId: state.requestId, reason: verdict.reason }, 'bearer token could not be checked');
    throw new HttpProblem(503, `bearer token could not be checked: ${verdict.reason}`);
  }
  bearer.logger.warn({ requestId: state.requestId, reason: verdict.reason, sub: verdict.sub }, 'bearer token refused');
  throw new HttpProblem(401, `bearer token refused: ${verdict.reason}`, challenge);
}

/** What the request path needs for bearer tokens: the verifier, and a logger for the refusals. */
export interface BearerAuth {
  verifier: BearerVerifier;
  logger: Logger;
}

export function createBearerAuth(options: BearerVerifierOptions & { logger: Logger }): BearerAuth {
  return { verifier: new BearerVerifier(options), logger: options.logger };
}
