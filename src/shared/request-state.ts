// What the middleware chain learns about a request, for the response and its log line.
import type { Identity } from './identity.ts';
import type { OriginFailure } from '../s3/origin.ts';

export interface RequestState {
  requestId: string;
  startedAt: bigint;
  bytesSent: number;
  s3Key?: string;
  user?: Identity;
  /** 'healthcheck', 'object', 'callback', ...: a low-cardinality name for metrics and logs */
  route: string;
  /** S3's answer to the object request, set where it arrives */
  s3?: S3Facts;
  /** set by the sign-in steps; reason only for 'failed' and 'skipped' */
  signIn?: { outcome: 'started' | 'succeeded' | 'skipped' | 'failed'; reason?: SignInFailure };
  /** the session's token was re-checked with SSO during this request */
  tokenCheck?: 'valid' | 'revoked' | 'unavailable';
  /** the request failed because Redis was unavailable */
  storeUnavailable?: boolean;
}

export interface S3Facts {
  method: 'GET' | 'HEAD';
  /** absent when S3 never answered */
  status?: number;
  /** S3's error code, when its answer carried one */
  code?: string;
  /** why there was no answer */
  failure?: OriginFailure;
  /** time to S3's response headers */
  latencyMs?: number;
}

/** A closed set, so that it can be a metric label. */
export type SignInFailure =
  | 'missing_parameters'
  | 'unknown_state'
  | 'other_browser'
  | 'already_signed_in'
  | 'sso_refused'
  | 'sso_unavailable'
  | 'error';
