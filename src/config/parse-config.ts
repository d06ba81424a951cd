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

import type { BucketLocation, Config, ConfigResult, RedisAuth, RedisConnection, RedisNode, SameSite, SsoSettings, StaticCredentials } from './config.ts';
import { bucketLocationFromParts, parseS3Endpoint } from './s3-endpoint.ts';

export type Env = Record<string, string | undefined>;

type Result<T> = { ok: true; value: T } | { ok: false; error: string };

const ok = <T>(value: T): Result<T> => ({ ok: true, value });
const bad = <T>(name: string, problem: string): Result<T> => ({ ok: false, error: `${name}: ${problem}` });

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** the longest delay setTimeout honours; longer ones fire after 1 ms */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** upper bound for second counts (TTLs, max ages): far beyond any sane use */
const MAX_SECONDS = 2 ** 31 - 1;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);
// RFC 6265 cookie-name = token (RFC 2616): visible ASCII except separators
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** a short, quoted, single-line rendering of a non-secret value */
function show(value: string): string {
  const short = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  return JSON.stringify(short);
}

/** the value if set and not empty */
function get(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

function required(env: Env, name: string, why = 'required'): Result<string> {
  const value = get(env, name);
  if (value !== undefined) return ok(value);
  return bad(name, env[name] === '' ? `${why}, but is empty` : why);
}

/** a strict decimal integer in [min, max]: no sign, spaces, exponent or leading zeros */
function integer(env: Env, name: string, min: number, max: number, fallback: number): Result<number> {
  const raw = get(env, name);
  if (raw === undefined) return ok(fallback);
  if (!/^(0|[1-9][0-9]*)$/.test(raw)) {
    return bad(name, `must be a whole number from ${min} to ${max}, got ${show(raw)}`);
  }
  const n = Number(raw);
  if (n < min || n > max) return bad(name, `must be from ${min} to ${max}, got ${show(raw)}`);
  return ok(n);
}

/** a strict positive decimal number of seconds, as whole milliseconds */
function secondsAsMs(env: Env, name: string, fallbackSeconds: number): Result<number> {
  const raw = get(env, name);
  if (raw === undefined) return ok(fallbackSeconds * 1000);
  if (!/^(0|[1-9][0-9]*)(\.[0-9]+)?$/.test(raw)) {
    return bad(name, `must be a number of seconds greater than 0, like 30 or 2.5, got ${show(raw)}`);
  }
  const ms = Math.round(Number(raw) * 1000);
  if (ms < 1) return bad(name, `must be at least 0.001 seconds, got ${show(raw)}`);
  if (ms > MAX_TIMER_MS) return bad(name, `must be at most ${MAX_TIMER_MS / 1000} seconds, got ${show(raw)}`);
  return ok(ms);
}

interface UrlRules {
  /** also allow http: for loopback hosts only */
  httpOnlyForLoopback?: boolean;
}

/**
 * An absolute http(s) URL without credentials, query or fragment. The value is
 * never echoed: a URL may carry a password.
 */
function httpUrl(name: string, raw: string, rules: UrlRules = {}): Result<URL> {
  if (/[\s\u0000-\u001f\u007f]/.test(raw)) return bad(name, 'must not contain whitespace or control characters');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return bad(name, 'is not a valid absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return bad(name, `must be an http or https URL, not ${url.protocol}`);
  }
  if (url.protocol === 'http:' && rules.httpOnlyForLoopback === true && !LOOPBACK_HOSTS.has(url.hostname)) {
    return bad(name, 'must use https (http is allowed only for 127.0.0.1, localhost and [::1])');
  }
  if (url.username !== '' || url.password !== '') return bad(name, 'must not contain credentials');
  if (url.search !== '' || url.hash !== '' || raw.includes('?') || raw.includes('#')) {
    return bad(name, 'must not contain a query string or fragment');
  }
  return ok(url);
}

/** a base URL, normalised to end with '/' */
function baseUrl(name: string, raw: string): Result<string> {
  const url = httpUrl(name, raw);
  if (!url.ok) return url;
  const href = url.value.href;
  return ok(href.endsWith('/') ? href : `${href}/`);
}

/**
 * The one place that decides what a usable Redis URI is. Returns the problem,
 * or undefined. Never mentions the URI itself: it usually holds a password.
 */
export function redisUrlProblem(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not a valid URI';
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    // the scheme is safe to show; it is what the operator needs to see
    return /^[a-z][a-z0-9+.-]*:$/.test(url.protocol)
      ? `must be a redis: or rediss: URI, not ${url.protocol}`
      : 'must be a redis: or rediss: URI';
  }
  if (url.hostname === '') return 'has no host';
  return undefined;
}

function redisUrl(env: Env): Result<string> {
  const vcap = get(env, 'VCAP_SERVICES');
  if (vcap !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(vcap);
    } catch {
      // JSON.parse's message quotes the input: never pass it on
      return bad('VCAP_SERVICES', 'is not valid JSON');
    }
    const uri = (parsed as { redis?: Array<{ credentials?: { uri?: unknown } }> } | null)?.redis?.[0]?.credentials?.uri;
    if (typeof uri !== 'string' || uri === '') {
      return bad('VCAP_SERVICES', 'has no Redis URI at redis[0].credentials.uri');
    }
    const problem = redisUrlProblem(uri);
    return problem === undefined ? ok(uri) : bad('VCAP_SERVICES', `redis[0].credentials.uri ${problem}`);
  }
  for (const name of ['REDIS_URL', 'REDIS_ENDPOINT']) {
    const uri = get(env, name);
    if (uri === undefined) continue;
    const problem = redisUrlProblem(uri);
    return problem === undefined ? ok(uri) : bad(name, problem);
  }
  return bad('REDIS_URL', 'required (or VCAP_SERVICES with redis[0].credentials.uri, or REDIS_ENDPOINT)');
}

/** oauth2-proxy's booleans: true/false, also 1/0 and yes/no; empty is unset */
function flag(env: Env, name: string): Result<boolean> {
  const raw = get(env, name);
  if (raw === undefined) return ok(false);
  const lower = raw.toLowerCase();
  if (['true', '1', 'yes'].includes(lower)) return ok(true);
  if (['false', '0', 'no'].includes(lower)) return ok(false);
  return bad(name, `must be true or false, got ${show(raw)}`);
}

interface RedisNodeList {
  nodes: RedisNode[];
  /** credentials and TLS the URLs carry, the same in all of them */
  auth: RedisAuth;
}

/**
 * A comma-separated list of redis:// or rediss:// URLs naming nodes only: no
 * database, query or fragment (Cluster has no databases; a Sentinel's URL
 * names the sentinel, not the master). The URLs are never echoed: they may
 * carry a password.
 */
function redisNodeList(name: string, raw: string, defaultPort: number): Result<RedisNodeList> {
  const items = raw.split(',').map((item) => item.trim());
  if (items.some((item) => item === '')) return bad(name, 'must be a comma-separated list of redis:// URLs, with no empty entries');
  const nodes: RedisNode[] = [];
  const auths: RedisAuth[] = [];
  for (const [index, item] of items.entries()) {
    const where = items.length > 1 ? `URL ${index + 1} ` : '';
    const problem = redisUrlProblem(item);
    if (problem !== undefined) return bad(name, `${where}${problem}`);
    const url = new URL(item);
    if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
      return bad(name, `${where}must name a host and port only, without a database number, query or fragment`);
    }
    const port = url.port === '' ? defaultPort : Number(url.port);
    // ioredis wants an IPv6 address without the URL's brackets
    nodes.push({ host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port });
    auths.push({
      ...(url.username === '' ? {} : { username: decodeURIComponent(url.username) }),
      ...(url.password === '' ? {} : { password: decodeURIComponent(url.password) }),
      tls: url.protocol === 'rediss:',
    });
  }
  const first = auths[0]!;
  // one set of credentials for all: a per-node password would be a typo waiting to happen
  if (auths.some((a) => a.tls !== first.tls)) return bad(name, 'must use one scheme for all URLs (all redis: or all rediss:)');
  if (auths.some((a) => a.username !== first.username || a.password !== first.password)) {
    return bad(name, 'must carry the same user name and password in every URL (or none)');
  }
  return ok({ nodes, auth: first });
}

/** `auth` with REDIS_PASSWORD-style overrides applied */
function withPassword(auth: RedisAuth, password: string | undefined): RedisAuth {
  return password === undefined ? auth : { ...auth, password };
}

/**
 * Standalone (REDIS_URL and friends), or Sentinel / Cluster through ioredis's
 * own support. The variable names are oauth2-proxy's, so that operators who
 * run both configure them alike:
 *   REDIS_USE_SENTINEL=true, REDIS_SENTINEL_MASTER_NAME, REDIS_SENTINEL_CONNECTION_URLS
 *   REDIS_USE_CLUSTER=true, REDIS_CLUSTER_CONNECTION_URLS
 *   REDIS_PASSWORD (data nodes), REDIS_SENTINEL_PASSWORD (sentinels)
 * Credentials may also sit in the URLs. With Sentinel, the sentinel URLs'
 * credentials serve the master too unless REDIS_PASSWORD is set, because
 * most deployments give both one password.
 */
function redisConnection(env: Env): { value?: RedisConnection; errors: string[] } {
  const sentinel = flag(env, 'REDIS_USE_SENTINEL');
  const cluster = flag(env, 'REDIS_USE_CLUSTER');
  if (!sentinel.ok || !cluster.ok) return { errors: errorsOf(sentinel, cluster) };
  const password = get(env, 'REDIS_PASSWORD');
  const sentinelPassword = get(env, 'REDIS_SENTINEL_PASSWORD');

  if (!sentinel.value && !cluster.value) {
    const errors = [];
    if (password !== undefined) errors.push('REDIS_PASSWORD: is used only with REDIS_USE_SENTINEL or REDIS_USE_CLUSTER; put the password in REDIS_URL');
    if (sentinelPassword !== undefined) errors.push('REDIS_SENTINEL_PASSWORD: is used only with REDIS_USE_SENTINEL');
    for (const name of ['REDIS_SENTINEL_MASTER_NAME', 'REDIS_SENTINEL_CONNECTION_URLS']) {
      if (get(env, name) !== undefined) errors.push(`${name}: is used only with REDIS_USE_SENTINEL=true`);
    }
    if (get(env, 'REDIS_CLUSTER_CONNECTION_URLS') !== undefined) errors.push('REDIS_CLUSTER_CONNECTION_URLS: is used only with REDIS_USE_CLUSTER=true');
    const url = redisUrl(env);
    if (!url.ok) errors.push(url.error);
    return url.ok && errors.length === 0 ? { value: { mode: 'standalone', url: url.value }, errors } : { errors };
  }

  const errors: string[] = [];
  const mode = sentinel.value ? 'REDIS_USE_SENTINEL' : 'REDIS_USE_CLUSTER';
  if (sentinel.value && cluster.value) errors.push('REDIS_USE_CLUSTER: cannot be combined with REDIS_USE_SENTINEL');
  // a second, ignored address would make it unclear which Redis holds the sessions
  for (const name of ['REDIS_URL', 'REDIS_ENDPOINT']) {
    if (get(env, name) !== undefined) errors.push(`${name}: must not be set together with ${mode}`);
  }

  if (sentinel.value) {
    const masterName = required(env, 'REDIS_SENTINEL_MASTER_NAME', 'required with REDIS_USE_SENTINEL');
    const urlsRaw = required(env, 'REDIS_SENTINEL_CONNECTION_URLS', 'required with REDIS_USE_SENTINEL');
    const list = urlsRaw.ok ? redisNodeList('REDIS_SENTINEL_CONNECTION_URLS', urlsRaw.value, 26379) : urlsRaw;
    if (get(env, 'REDIS_CLUSTER_CONNECTION_URLS') !== undefined) errors.push('REDIS_CLUSTER_CONNECTION_URLS: is used only with REDIS_USE_CLUSTER=true');
    errors.push(...errorsOf(masterName, list));
    if (errors.length > 0 || !masterName.ok || !list.ok) return { errors };
    const urlAuth = list.value.auth;
    const auth: RedisAuth =
      password === undefined ? urlAuth : { tls: urlAuth.tls, password, ...(urlAuth.username === undefined ? {} : { username: urlAuth.username }) };
    return {
      value: {
        mode: 'sentinel',
        masterName: masterName.value,
        sentinels: list.value.nodes,
        sentinelAuth: withPassword(urlAuth, sentinelPassword),
        auth,
      },
      errors,
    };
  }

  const urlsRaw = required(env, 'REDIS_CLUSTER_CONNECTION_URLS', 'required with REDIS_USE_CLUSTER');
  const list = urlsRaw.ok ? redisNodeList('REDIS_CLUSTER_CONNECTION_URLS', urlsRaw.value, 6379) : urlsRaw;
  if (sentinelPassword !== undefined) errors.push('REDIS_SENTINEL_PASSWORD: is used only with REDIS_USE_SENTINEL');
  for (const name of ['REDIS_SENTINEL_MASTER_NAME', 'REDIS_SENTINEL_CONNECTION_URLS']) {
    if (get(env, name) !== undefined) errors.push(`${name}: is used only with REDIS_USE_SENTINEL=true`);
  }
  if (!list.ok) errors.push(list.error);
  if (errors.length > 0 || !list.ok) return { errors };
  return { value: { mode: 'cluster', nodes: list.value.nodes, auth: withPassword(list.value.auth, password) }, errors };
}

function ssoSettings(env: Env): { value?: SsoSettings; errors: string[] } {
  const clientId = required(env, 'SSO_CLIENT_ID');
  const clientSecret = required(env, 'SSO_CLIENT_SECRET');

  const issuerRaw = get(env, 'OIDC_ISSUER');
  if (issuerRaw !== undefined) {
    // SSO_URL and SSO_URL_INTERNAL are ignored: discovery names the endpoints.
    // The issuer is kept exactly as given: discovery compares it for equality.
    const issuer = httpUrl('OIDC_ISSUER', issuerRaw, { httpOnlyForLoopback: true });
    if (!issuer.ok || !clientId.ok || !clientSecret.ok) return { errors: errorsOf(clientId, clientSecret, issuer) };
    return {
      value: { mode: 'oidc', issuer: issuerRaw, clientId: clientId.value, clientSecret: clientSecret.value },
      errors: [],
    };
  }

  const urlRaw = required(env, 'SSO_URL', 'required when OIDC_ISSUER is not set');
  const url = urlRaw.ok ? baseUrl('SSO_URL', urlRaw.value) : urlRaw;
  const internalRaw = get(env, 'SSO_URL_INTERNAL');
  const internal = internalRaw === undefined ? url : baseUrl('SSO_URL_INTERNAL', internalRaw);
  if (!url.ok || !internal.ok || !clientId.ok || !clientSecret.ok) {
    // when SSO_URL_INTERNAL is unset, `internal` is `url`: report it once
    return { errors: errorsOf(clientId, clientSecret, url, ...(internal === url ? [] : [internal])) };
  }
  return {
    value: {
      mode: 'oauth2',
      url: url.value,
      internalUrl: internal.value,
      clientId: clientId.value,
      clientSecret: clientSecret.value,
    },
    errors: [],
  };
}

function errorsOf(...results: Result<unknown>[]): string[] {
  return results.flatMap((r) => (r.ok ? [] : [r.error]));
}

function credentials(env: Env): Result<StaticCredentials | undefined> {
  const accessKeyId = get(env, 'AWS_ACCESS_KEY_ID');
  const secretAccessKey = get(env, 'AWS_SECRET_ACCESS_KEY');
  const sessionToken = get(env, 'AWS_SESSION_TOKEN');
  if (accessKeyId !== undefined && secretAccessKey !== undefined) {
    return ok(sessionToken === undefined ? { accessKeyId, secretAccessKey } : { accessKeyId, secretAccessKey, sessionToken });
  }
  if (accessKeyId !== undefined) return bad('AWS_SECRET_ACCESS_KEY', 'required when AWS_ACCESS_KEY_ID is set');
  if (secretAccessKey !== undefined) return bad('AWS_ACCESS_KEY_ID', 'required when AWS_SECRET_ACCESS_KEY is set');
  if (sessionToken !== undefined) {
    return bad('AWS_SESSION_TOKEN', 'is set, but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not');
  }
  return ok(undefined);
}

/** the S3 settings: location and region depend on each other (region hints, AWS endpoints) */
function s3Location(env: Env): { location?: BucketLocation; region?: string; errors: string[] } {
  const errors: string[] = [];
  let location: BucketLocation | undefined;
  let regionHint: string | undefined;

  const endpoint = get(env, 'AWS_S3_ENDPOINT');
  if (endpoint !== undefined) {
    const parsed = parseS3Endpoint(endpoint);
    if (parsed.ok) {
      location = parsed.location;
      regionHint = parsed.regionHint;
    } else {
      errors.push(`AWS_S3_ENDPOINT: ${parsed.error}`);
    }
  }

  const region = s3Region(env, regionHint, endpoint !== undefined && location === undefined);
  if (!region.ok) errors.push(region.error);

  if (endpoint === undefined) {
    const bucket = get(env, 'AWS_S3_BUCKET');
    if (bucket === undefined) {
      errors.push('AWS_S3_ENDPOINT: required (or AWS_S3_BUCKET)');
    } else {
      const parts = bucketLocationFromParts({
        bucket,
        keyPrefix: get(env, 'KEY_PREFIX'),
        useLocal: isTrue(env['S3_USE_LOCAL']),
        endpointUrl: get(env, 'S3_ENDPOINT_URL'),
        // AWS's endpoint is named after the region; without one the location
        // is dropped below (the region's error is already reported), but the
        // other parts are still checked
        region: region.ok ? region.value : 'unknown',
      });
      if (!parts.ok) errors.push(...parts.errors);
      else if (region.ok) location = parts.location;
    }
  }

  return region.ok ? { location, region: region.value, errors } : { location, errors };
}

function s3Region(env: Env, hint: string | undefined, endpointBroken: boolean): Result<string> {
  for (const name of ['AWS_S3_REGION', 'AWS_DEFAULT_REGION', 'AWS_REGION']) {
    const raw = get(env, name);
    if (raw === undefined) continue;
    return /^[a-z0-9-]+$/.test(raw)
      ? ok(raw)
      : bad(name, `must be a region name of lowercase letters, digits and hyphens, like eu-west-2, got ${show(raw)}`);
  }
  if (hint !== undefined) return ok(hint);
  return bad(
    'AWS_S3_REGION',
    endpointBroken
      ? 'required (or AWS_DEFAULT_REGION or AWS_REGION)'
      : 'required (or AWS_DEFAULT_REGION or AWS_REGION) unless AWS_S3_ENDPOINT is an AWS hostname naming a region',
  );
}

/** uktrade's S3_USE_LOCAL: anything but unset, empty, 0, false or no */
function isTrue(raw: string | undefined): boolean {
  if (raw === undefined) return false;
  return !['', '0', 'false', 'no'].includes(raw.toLowerCase());
}

function healthcheckKey(env: Env): Result<string | undefined> {
  const raw = env['AWS_S3_HEALTHCHECK_KEY'];
  if (raw === undefined) return ok(undefined);
  if (raw === '') return bad('AWS_S3_HEALTHCHECK_KEY', 'must not be empty when set (unset it to serve nothing without sign-in)');
  if (raw.startsWith('/')) {
    return bad('AWS_S3_HEALTHCHECK_KEY', `must be a key relative to the bucket prefix, without a leading "/", got ${show(raw)}`);
  }
  return ok(raw);
}

function cookieName(env: Env): Result<string> {
  const raw = get(env, 'SESSION_COOKIE_NAME');
  if (raw === undefined) return ok('assets_session_id');
  return COOKIE_NAME.test(raw)
    ? ok(raw)
    : bad('SESSION_COOKIE_NAME', `must be a cookie name (letters, digits and !#$%&'*+-.^_\`|~), got ${show(raw)}`);
}

function sameSite(env: Env): Result<SameSite> {
  const raw = get(env, 'SESSION_COOKIE_SAMESITE');
  if (raw === undefined) return ok('lax');
  const lower = raw.toLowerCase();
  return lower === 'lax' || lower === 'strict' || lower === 'none'
    ? ok(lower)
    : bad('SESSION_COOKIE_SAMESITE', `must be Lax, Strict or None, got ${show(raw)}`);
}

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

function redisKeyPrefix(env: Env): Result<string> {
  return ok(get(env, 'REDIS_KEY_PREFIX') ?? 's3proxy:');
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
  const cookie = take(cookieName(env));
  const maxAge = take(integer(env, 'SESSION_MAX_AGE', 1, MAX_SECONDS, 32400));
  const site = take(sameSite(env));
  const s3 = s3Location(env);
  errors.push(...s3.errors);
  const creds = take(credentials(env));
  const healthcheck = take(healthcheckKey(env));
  const upstreamTimeoutMs = take(secondsAsMs(env, 'AWS_S3_RESPONSE_TIMEOUT', 30));
  const shutdownTimeoutMs = take(secondsAsMs(env, 'SHUTDOWN_TIMEOUT', 9));
  const headersTimeoutMs = take(secondsAsMs(env, 'REQUEST_HEADERS_TIMEOUT', 10));
  const level = take(logLevel(env));
  const metrics = take(metricsPort(env, port));

  if (
    errors.length > 0 ||
    port === undefined ||
    redis === undefined ||
    keyPrefix === undefined ||
    sso === undefined ||
    gracePeriod === undefined ||
    loginTtl === undefined ||
    cookie === undefined ||
    maxAge === undefined ||
    site === undefined ||
    s3.location === undefined ||
    s3.region === undefined ||
    upstreamTimeoutMs === undefined ||
    shutdownTimeoutMs === undefined ||
    headersTimeoutMs === undefined ||
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
    loginStateTtlSeconds: loginTtl,
    session: { cookieName: cookie, maxAgeSeconds: maxAge, sameSite: site },
    s3: {
      location: s3.location,
      region: s3.region,
      ...(creds === undefined ? {} : { credentials: creds }),
      upstreamTimeoutMs,
    },
    ...(healthcheck === undefined ? {} : { healthcheckKey: healthcheck }),
    shutdownTimeoutMs,
    headersTimeoutMs,
    logLevel: level,
    ...(metrics === undefined ? {} : { metricsPort: metrics }),
  };
  return { ok: true, config };
}
