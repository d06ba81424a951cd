// What the middleware chain learns about a request, for the response and its log line.
import type { Identity } from '../auth/sessions.ts';

export interface RequestState {
  requestId: string;
  startedAt: bigint;
  bytesSent: number;
  s3Key?: string;
  user?: Identity;
  /** 'healthcheck', 'object', 'callback', ...: a low-cardinality name for metrics and logs */
  route: string;
}
