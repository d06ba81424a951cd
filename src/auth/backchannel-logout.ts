// OpenID Connect Back-Channel Logout 1.0: the provider posts a logout token
// when a user signs out there (or an administrator ends their session), and
// every session of that provider session, or of that user, ends here, on
// every instance. The token is checked as the specification's section 2.6
// says: signed by the issuer's keys, for this client, recent, carrying the
// back-channel logout event and no nonce (so that no ID token passes for one).
import { errors, jwtVerify, type JWTPayload } from 'jose';
import type { Logger } from '../observability/logger.ts';
import type { Sessions } from './sessions.ts';
import { SsoUnavailable, type LogoutTokenIssuer, type SsoClient } from './sso-client.ts';

/** Where the provider posts logout tokens (register it as the client's backchannel_logout_uri). */
export const backchannelLogoutPath = '/__redirect_from_sso/backchannel';

export const backchannelLogoutEvent = 'http://schemas.openid.net/event/backchannel-logout';

/** A logout token is honoured this long after its iat; its jti is remembered as long, plus the leeway. */
const maxTokenAgeSeconds = 300;
const clockToleranceSeconds = 60;
const jtiMemorySeconds = maxTokenAgeSeconds + 2 * clockToleranceSeconds;

export interface LogoutClaims {
  jti: string;
  sub?: string;
  sid?: string;
}

/** A logout token that fails a check: 400 with the reason. */
export class LogoutTokenRejected extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'LogoutTokenRejected';
  }
}

/** Verifies a logout token; throws LogoutTokenRejected, or SsoUnavailable when the keys cannot be had. */
export async function verifyLogoutToken(
  token: string,
  from: LogoutTokenIssuer,
  audience: string,
  currentDate: Date = new Date(),
): Promise<LogoutClaims> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, from.keys, {
      issuer: from.issuer,
      audience,
      maxTokenAge: maxTokenAgeSeconds,
      clockTolerance: clockToleranceSeconds,
      requiredClaims: ['iat', 'jti', 'events'],
      currentDate,
      ...(from.algorithms ? { algorithms: from.algorithms } : {}),
    }));
  } catch (error) {
    if (keySetUnavailable(error)) throw new SsoUnavailable('the issuer key set could not be fetched', error);
    throw new LogoutTokenRejected(rejectionOf(error as errors.JOSEError), error);
  }
  return logoutClaims(payload);
}

/** The checks of section 2.6 that jose does not make: pure, on a verified payload. */
export function logoutClaims(payload: JWTPayload): LogoutClaims {
  const events = (payload as { events?: unknown }).events;
  if (typeof events !== 'object' || events === null || Array.isArray(events) || !(backchannelLogoutEvent in events)) {
    throw new LogoutTokenRejected('the token carries no back-channel logout event');
  }
  const event = (events as Record<string, unknown>)[backchannelLogoutEvent];
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new LogoutTokenRejected('the back-channel logout event is not a JSON object');
  }
  if ('nonce' in payload) throw new LogoutTokenRejected('a logout token must not carry a nonce');
  const { jti, sub } = payload;
  const sid = (payload as { sid?: unknown }).sid;
  if (typeof jti !== 'string' || jti === '') throw new LogoutTokenRejected('the jti claim is not a string');
  if (sub !== undefined && (typeof sub !== 'string' || sub === '')) throw new LogoutTokenRejected('the sub claim is not a string');
  if (sid !== undefined && (typeof sid !== 'string' || sid === '')) throw new LogoutTokenRejected('the sid claim is not a string');
  if (sub === undefined && sid === undefined) throw new LogoutTokenRejected('the token names neither sub nor sid');
  return { jti, ...(sub === undefined ? {} : { sub }), ...(sid === undefined ? {} : { sid }) };
}

/** jose's errors about the key set (not the token), and the fetch's own errors, which jose passes on. */
function keySetUnavailable(error: unknown): boolean {
  if (!(error instanceof errors.JOSEError)) return true;
  return error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || error.code === 'ERR_JOSE_GENERIC';
}

function rejectionOf(error: errors.JOSEError): string {
  if (error instanceof errors.JWTExpired) return error.claim === 'iat' ? 'the token was issued too long ago (iat)' : 'the token has expired';
  if (error instanceof errors.JWTClaimValidationFailed) return `claim check failed: ${error.message}`;
  if (error instanceof errors.JWKSNoMatchingKey) return 'no key of the issuer matches the token';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'the signature does not verify';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'the signing algorithm is not allowed';
  return 'the token is not a valid signed JWT';
}

export type BackchannelOutcome =
  | { outcome: 'ended'; sessions: number }
  | { outcome: 'rejected'; reason: string }
  /** the issuer's keys could not be had: the provider may try again */
  | { outcome: 'unavailable'; reason: string };

export interface BackchannelDeps {
  sso: SsoClient;
  sessions: Sessions;
  clientId: string;
  logger: Logger;
}

/**
 * Ends the sessions a logout token names. Throws StoreUnavailable; callers
 * check first that the SSO client speaks OIDC.
 */
export async function backchannelLogout(logoutToken: string | undefined, deps: BackchannelDeps, requestId?: string): Promise<BackchannelOutcome> {
  const { logger } = deps;
  if (!deps.sso.logoutTokenIssuer) throw new Error('back-channel logout needs an OpenID Connect issuer');
  if (!logoutToken) return reject('the request has no logout_token');
  let claims: LogoutClaims;
  try {
    claims = await verifyLogoutToken(logoutToken, await deps.sso.logoutTokenIssuer(), deps.clientId);
  } catch (error) {
    if (error instanceof LogoutTokenRejected) return reject(error.message);
    if (error instanceof SsoUnavailable) {
      logger.error({ requestId, reason: error.message }, 'back-channel logout could not check the token');
      return { outcome: 'unavailable', reason: error.message };
    }
    throw error;
  }
  // A replay would end sessions signed in since: each token works once.
  if (!(await deps.sessions.claimLogoutToken(claims.jti, jtiMemorySeconds))) return reject('the logout token was used before');
  let ended: number;
  try {
    ended = await deps.sessions.endProviderSessions(claims);
  } catch (error) {
    // Let the provider's retry through.
    await deps.sessions.releaseLogoutToken(claims.jti).catch(() => undefined);
    throw error;
  }
  logger.info({ requestId, sessions: ended, by: claims.sid === undefined ? 'sub' : 'sid' }, 'back-channel logout');
  return { outcome: 'ended', sessions: ended };

  function reject(reason: string): BackchannelOutcome {
    logger.warn({ requestId, reason }, 'back-channel logout refused');
    return { outcome: 'rejected', reason };
  }
}
