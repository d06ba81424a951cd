// The one place request metrics are recorded: when a response closes, from
// the facts the handlers left in RequestState. Handlers only state facts;
// they never touch a metric.
import type { RequestState } from '../shared/request-state.ts';
import type { Metrics } from './metrics.ts';

export interface ClosedRequest {
  method: string;
  status: number;
  /** the whole response was handed to the OS (false: the client left or the transfer broke) */
  completed: boolean;
  durationSeconds: number;
  state: RequestState;
}

// A route name is a label: anything unexpected collapses into 'other'
// rather than opening a new series.
const routeName = /^[a-z][a-z0-9-]{0,31}$/;

export function observeRequest(metrics: Metrics, request: ClosedRequest): void {
  const { state } = request;
  const route = routeName.test(state.route) ? state.route : 'other';
  // Statuses outside HTTP's range would be a bug; they still must not grow the label set.
  const status = request.status >= 100 && request.status <= 599 ? String(request.status) : 'other';

  metrics.httpRequests.inc({ route, status });
  metrics.httpDuration.observe({ route }, request.durationSeconds);
  if (state.bytesSent > 0) metrics.httpResponseBytes.inc({ route }, state.bytesSent);

  // A download is an object body streamed to the client; HEADs, errors and
  // 304s carry none.
  if (route === 'object' && request.method === 'GET' && (request.status === 200 || request.status === 206)) {
    metrics.downloads.inc({ outcome: request.completed ? 'completed' : 'aborted' });
  }

  const s3 = state.s3;
  if (s3) {
    if (s3.latencyMs !== undefined) metrics.s3Duration.observe({ method: s3.method }, s3.latencyMs / 1000);
    // A client that left before S3 answered is not an S3 error.
    if (s3.failure === 'timeout' || s3.failure === 'unreachable' || s3.failure === 'saturated') metrics.s3Errors.inc({ code: s3.failure });
    if (s3.status !== undefined && s3.status >= 400) metrics.s3Errors.inc({ code: s3.code ?? `http_${s3.status}` });
  }

  if (state.signIn) {
    metrics.signIns.inc(state.signIn.reason === undefined ? { outcome: state.signIn.outcome } : { outcome: state.signIn.outcome, reason: state.signIn.reason });
  }
  if (state.tokenCheck) metrics.tokenChecks.inc({ result: state.tokenCheck });
  if (state.storeUnavailable) metrics.redisErrors.inc({ kind: 'command' });
}
