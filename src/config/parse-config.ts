// Environment variables → Config. Pure: reads only the `env` it is given,
// never throws, and reports every problem at once, one string per problem,
// each starting with the variable's name.
//
// Secrets (SSO_CLIENT_SECRET, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, and
// anything inside a Redis URI, VCAP_SERVICES or any URL, which may carry
// user:password) are never repeated in a message. Other bad values are echoed,
// quoted and shortened, because seeing them helps.
//
// An empty variable counts as unset (deployment templates often produce
// `NAME=`), except AWS_S3_HEALTHCHECK_KEY, where empty is an error: it would
// open the prefix's root to anyone.

import type { Config, ConfigResult } from './config.ts';
import { bad, get, integer, ok, secondsAsMs, show } from './env-values.ts';
import type { Env, Result } from './env-values.ts';
import { redisConnection, redisKeyPrefix } from './redis-settings.ts';
import { credentials, healthcheckKey, s3Location } from './s3-settings.ts';
import { ssoSettings } from './sso-settings.ts';
import { uploadSettings } from './upload-settings.ts';
import { downloadRedirectSettings } from './download-settings.ts';
import { sessionSettings } from './session-settings.ts';
import { apiSettings } from './api-settings.ts';

// re-exported: Env is parseConfig's parameter type, and the unit tests
// import redisUrlProblem from here
export type { Env } from './env-values.ts';
export { redisUrlProblem } from './redis-settings.ts';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** upper bound for second counts (TTLs, max ages): far beyond any sane use */
const MAX_SECONDS = 2 ** 31 - 1;
function logLevel(env: Env): Result<string> {
  const raw = get(env, 'LOG_LEVEL');
  if (raw === undefined) return ok('info');
  const lower = raw.toLowerCase();
  return (LOG_LEVELS as readonly string[]).includes(lower)
    ? ok(lower)
    : bad('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}, got ${show(raw)}`);
}

/** optional: unset means no metrics listener; it may not share the main port */
function metricsPort(env: Env, port: number | undefined): Result<number | undefined> {
  if (get(env, 'METRICS_PORT') === undefined) return ok(undefined);
  const parsed = integer(env, 'METRICS_PORT', 0, 65535, 0);
  if (!parsed.ok) return parsed;
  if (parsed.value !== 0 && parsed.value === port) return bad('METRICS_PORT', `must differ from PORT, got ${show(String(parsed.value))}`);
  return parsed;
}

export function parseConfig(env: Env): ConfigResult {
  const errors: string[] = [];
  // collect a result's error, hand back its value (undefined when it failed)
  const take = <T>(result: Result<T>): T | undefined => {
    if (result.ok) return result.value;
    errors.push(result.error);
    return undefined;
  };

  const port = take(integer(env, 'PORT', 0, 65535, 8080));
  const redisResult = redisConnection(env);
  errors.push(...redisResult.errors);
  const redis = redisResult.value;
  const keyPrefix = take(redisKeyPrefix(env));
  const ssoResult = ssoSettings(env);
  errors.push(...ssoResult.errors);
  const sso = ssoResult.value;
  const gracePeriod = take(integer(env, 'SSO_TOKEN_CHECK_GRACE_PERIOD', 0, MAX_SECONDS, 60));
  const loginTtl = take(integer(env, 'LOGIN_STATE_TTL', 1, MAX_SECONDS, 600));
  const sessionResult = sessionSettings(env);
  errors.push(...sessionResult.errors);
  const session = sessionResult.value;
  const s3 = s3Location(env);
  errors.push(...s3.errors);
  const creds = take(credentials(env));
  const healthcheck = take(healthcheckKey(env));
  const upstreamTimeoutMs = take(secondsAsMs(env, 'AWS_S3_RESPONSE_TIMEOUT', 30));
  const shutdownTimeoutMs = take(secondsAsMs(env, 'SHUTDOWN_TIMEOUT', 9));
  const headersTimeoutMs = take(secondsAsMs(env, 'REQUEST_HEADERS_TIMEOUT', 10));
  const clientIdleTimeoutMs = take(secondsAsMs(env, 'CLIENT_IDLE_TIMEOUT', 60));
  const maxConnections = take(integer(env, 'AWS_S3_MAX_CONNECTIONS', 1, 65536, 1024));
  const level = take(logLevel(env));
  const metrics = take(metricsPort(env, port));
  const uploads = uploadSettings(env);
  errors.push(...uploads.errors);
  const downloadRedirect = downloadRedirectSettings(env);
  errors.push(...downloadRedirect.errors);
  const api = apiSettings(env);
  errors.push(...api.errors);

  if (
    errors.length > 0 ||
    port === undefined ||
    redis === undefined ||
    keyPrefix === undefined ||
    sso === undefined ||
    gracePeriod === undefined ||
    loginTtl === undefined ||
    session === undefined ||
    s3.location === undefined ||
    s3.region === undefined ||
    upstreamTimeoutMs === undefined ||
    shutdownTimeoutMs === undefined ||
    headersTimeoutMs === undefined ||
    clientIdleTimeoutMs === undefined ||
    maxConnections === undefined ||
    level === undefined
  ) {
    // every failure pushed an error; the fallback only guards against a bug here
    return { ok: false, errors: errors.length > 0 ? errors : ['configuration: incomplete'] };
  }

  const config: Config = {
    port,
    redis,
    redisKeyPrefix: keyPrefix,
    sso,
    tokenCheckGracePeriodSeconds: gracePeriod,
    ...(session.publicUrl === undefined ? {} : { publicUrl: session.publicUrl }),
    loginStateTtlSeconds: loginTtl,
    session: session.session,
    s3: {
      location: s3.location,
      region: s3.region,
      ...(creds === undefined ? {} : { credentials: creds }),
      upstreamTimeoutMs,
      maxConnections,
    },
    ...(healthcheck === undefined ? {} : { healthcheckKey: healthcheck }),
    shutdownTimeoutMs,
    headersTimeoutMs,
    clientIdleTimeoutMs,
    logLevel: level,
    ...(metrics === undefined ? {} : { metricsPort: metrics }),
    ...(uploads.value === undefined ? {} : { uploads: uploads.value }),
    ...(downloadRedirect.value === undefined ? {} : { downloadRedirect: downloadRedirect.value }),
    ...(api.value === undefined ? {} : { api: api.value }),
  };
  return { ok: true, config };
}
