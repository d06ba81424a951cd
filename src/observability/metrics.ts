// The proxy's Prometheus metrics. One registry per proxy instance, never
// prom-client's global one, so that tests (and anything embedding the app)
// keep their numbers apart. Every label value is chosen by this code from a
// small fixed set: never a key, a user or a raw path.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'route' | 'status'>;
  httpDuration: Histogram<'route'>;
  httpResponseBytes: Counter<'route'>;
  httpInFlight: Gauge;
  downloads: Counter<'outcome'>;
  s3Duration: Histogram<'method'>;
  s3Errors: Counter<'code'>;
  signIns: Counter<'outcome' | 'reason'>;
  tokenChecks: Counter<'result'>;
  redisErrors: Counter<'kind'>;
  uploads: Counter<'kind' | 'outcome'>;
  uploadBytes: Counter;
}

// Downloads of large objects take minutes, so the buckets reach well past
// the defaults' 10 s.
const requestBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const upstreamBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: 's3proxy_http_requests_total',
      help: 'Requests answered, by route class and HTTP status',
      labelNames: ['route', 'status'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 's3proxy_http_request_duration_seconds',
      help: 'Time from a request arriving to its response closing (a whole download, for objects)',
      labelNames: ['route'],
      buckets: requestBuckets,
      registers,
    }),
    httpResponseBytes: new Counter({
      name: 's3proxy_http_response_bytes_total',
      help: 'Object body bytes handed to clients',
      labelNames: ['route'],
      registers,
    }),
    httpInFlight: new Gauge({
      name: 's3proxy_http_requests_in_flight',
      help: 'Requests being answered right now, downloads included',
      registers,
    }),
    downloads: new Counter({
      name: 's3proxy_downloads_total',
      help: 'Object bodies streamed to a client, by whether the whole body was sent (completed) or not (aborted)',
      labelNames: ['outcome'],
      registers,
    }),
    s3Duration: new Histogram({
      name: 's3proxy_s3_request_duration_seconds',
      help: 'Time until S3 answered with response headers',
      labelNames: ['method'],
      buckets: upstreamBuckets,
      registers,
    }),
    s3Errors: new Counter({
      name: 's3proxy_s3_errors_total',
      help: "S3 answers of 400 or more by S3's error code (http_<status> when S3 sent none), and requests S3 never answered (timeout, unreachable)",
      labelNames: ['code'],
      registers,
    }),
    signIns: new Counter({
      name: 's3proxy_sign_ins_total',
      help: 'Sign-ins started, succeeded, skipped (a used link in a browser already signed in) or failed, by reason',
      labelNames: ['outcome', 'reason'],
      registers,
    }),
    tokenChecks: new Counter({
      name: 's3proxy_sso_token_checks_total',
      help: 'Sessions re-checked with SSO, by result: valid, revoked, or unavailable (SSO could not tell)',
      labelNames: ['result'],
      registers,
    }),
    redisErrors: new Counter({
      name: 's3proxy_redis_errors_total',
      help: 'Redis failures: connection errors reported by the client, and requests that failed because Redis was unavailable',
      labelNames: ['kind'],
      registers,
    }),
    uploads: new Counter({
      name: 's3proxy_uploads_total',
      help: 'Upload events by kind (put, post, multipart) and outcome (presigned, created, completed, aborted, refused, failed)',
      labelNames: ['kind', 'outcome'],
      registers,
    }),
    uploadBytes: new Counter({
      name: 's3proxy_upload_bytes_total',
      help: 'Bytes accepted for upload: the declared size of each presigned PUT or sized POST handed out, and the size of each completed multipart upload',
      registers,
    }),
  };
}
