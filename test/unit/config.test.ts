import test from 'ava';
import type { Config, SameSite } from '../../src/config/config.ts';
import { formatConfigErrors } from '../../src/config/format-config-errors.ts';
import { parseConfig, redisUrlProblem } from '../../src/config/parse-config.ts';

type Env = Record<string, string | undefined>;

const CLIENT_SECRET = 'sso-client-secret-Zq8w';
const AWS_SECRET = 'aws-secret-key-Kx93/+abc';
const SESSION_TOKEN = 'aws-session-token-Pp71';
const REDIS_PASSWORD = 'redis-password-Vb42';

const vcap = (uri: string): string => JSON.stringify({ redis: [{ credentials: { uri } }], postgres: [] });

/** a realistic environment of the original (AWS_S3_ENDPOINT) generation */
const oldStyleEnv = (): Env => ({
  PORT: '8080',
  VCAP_SERVICES: vcap(`rediss://:${REDIS_PASSWORD}@redis.example.internal:6379`),
  SSO_URL: 'https://sso.example.com',
  SSO_CLIENT_ID: 'client-id-123',
  SSO_CLIENT_SECRET: CLIENT_SECRET,
  AWS_S3_REGION: 'eu-west-2',
  AWS_S3_ENDPOINT: 'https://s3.eu-west-2.amazonaws.com/assets-bucket/public/',
  AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
  AWS_SECRET_ACCESS_KEY: AWS_SECRET,
  AWS_S3_HEALTHCHECK_KEY: 'healthcheck.txt',
});

/** a realistic environment of the newer (AWS_S3_BUCKET) generation */
const newStyleEnv = (): Env => ({
  PORT: '8000',
  REDIS_ENDPOINT: 'redis://redis:6379',
  SSO_URL: 'http://localhost:8081/',
  SSO_URL_INTERNAL: 'http://sso:8081',
  SSO_CLIENT_ID: 'some-id',
  SSO_CLIENT_SECRET: CLIENT_SECRET,
  AWS_S3_BUCKET: 'my-bucket',
  KEY_PREFIX: 'reports',
  S3_USE_LOCAL: 'True',
  S3_ENDPOINT_URL: 'http://minio:9000',
  AWS_DEFAULT_REGION: 'eu-west-2',
  AWS_ACCESS_KEY_ID: 'minioadmin',
  AWS_SECRET_ACCESS_KEY: AWS_SECRET,
  AWS_S3_HEALTHCHECK_KEY: 'healthcheck.txt',
});

/** the smallest environment that parses */
const minimalEnv = (): Env => ({
  REDIS_URL: 'redis://localhost:6379',
  SSO_URL: 'https://sso.example.com/',
  SSO_CLIENT_ID: 'id',
  SSO_CLIENT_SECRET: CLIENT_SECRET,
  AWS_S3_ENDPOINT: 'https://s3.eu-west-2.amazonaws.com/my-bucket/',
});

function config(env: Env): Config {
  const result = parseConfig(env);
  if (!result.ok) throw new Error(`expected a config, got errors:\n${result.errors.join('\n')}`);
  return result.config;
}

function errors(env: Env): string[] {
  const result = parseConfig(env);
  if (result.ok) throw new Error('expected errors, got a config');
  return result.errors;
}

/** the one error about `name`, asserting there is exactly one problem */
function onlyError(env: Env): string {
  const list = errors(env);
  if (list.length !== 1) throw new Error(`expected one error, got:\n${list.join('\n')}`);
  return list[0] ?? '';
}

const withEnv = (patch: Env, base: Env = minimalEnv()): Env => ({ ...base, ...patch });

// --- whole environments -----------------------------------------------------

test('a full old-style uktrade environment parses into the expected config', (t) => {
  t.deepEqual(config(oldStyleEnv()), {
    port: 8080,
    redis: { mode: 'standalone', url: `rediss://:${REDIS_PASSWORD}@redis.example.internal:6379` },
    redisKeyPrefix: 's3proxy:',
    sso: {
      mode: 'oauth2',
      url: 'https://sso.example.com/',
      internalUrl: 'https://sso.example.com/',
      clientId: 'client-id-123',
      clientSecret: CLIENT_SECRET,
    },
    tokenCheckGracePeriodSeconds: 60,
    loginStateTtlSeconds: 600,
    session: { cookieName: 'assets_session_id', maxAgeSeconds: 32400, sameSite: 'lax', forceSecure: false },
    s3: {
      location: {
        origin: 'https://s3.eu-west-2.amazonaws.com',
        bucket: 'assets-bucket',
        style: 'path',
        keyPrefix: 'public/',
      },
      region: 'eu-west-2',
      credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: AWS_SECRET },
      upstreamTimeoutMs: 30000,
      maxConnections: 1024,
    },
    healthcheckKey: 'healthcheck.txt',
    shutdownTimeoutMs: 9000,
    headersTimeoutMs: 10000,
    clientIdleTimeoutMs: 60000,
    logLevel: 'info',
  });
});

test('a full newer-style uktrade environment parses into the expected config', (t) => {
  t.deepEqual(config(newStyleEnv()), {
    port: 8000,
    redis: { mode: 'standalone', url: 'redis://redis:6379' },
    redisKeyPrefix: 's3proxy:',
    sso: {
      mode: 'oauth2',
      url: 'http://localhost:8081/',
      internalUrl: 'http://sso:8081/',
      clientId: 'some-id',
      clientSecret: CLIENT_SECRET,
    },
    tokenCheckGracePeriodSeconds: 60,
    loginStateTtlSeconds: 600,
    session: { cookieName: 'assets_session_id', maxAgeSeconds: 32400, sameSite: 'lax', forceSecure: false },
    s3: {
      location: { origin: 'http://minio:9000', bucket: 'my-bucket', style: 'path', keyPrefix: 'reports/' },
      region: 'eu-west-2',
      credentials: { accessKeyId: 'minioadmin', secretAccessKey: AWS_SECRET },
      upstreamTimeoutMs: 30000,
      maxConnections: 1024,
    },
    healthcheckKey: 'healthcheck.txt',
    shutdownTimeoutMs: 9000,
    headersTimeoutMs: 10000,
    clientIdleTimeoutMs: 60000,
    logLevel: 'info',
  });
});

test('a minimal environment gets every default', (t) => {
  const c = config(minimalEnv());
  t.is(c.port, 8080);
  t.is(c.redisKeyPrefix, 's3proxy:');
  t.is(c.tokenCheckGracePeriodSeconds, 60);
  t.is(c.loginStateTtlSeconds, 600);
  t.deepEqual(c.session, { cookieName: 'assets_session_id', maxAgeSeconds: 32400, sameSite: 'lax', forceSecure: false });
  t.is(c.s3.upstreamTimeoutMs, 30000);
  t.is(c.shutdownTimeoutMs, 9000);
  t.is(c.logLevel, 'info');
  t.is(c.s3.region, 'eu-west-2', 'from the endpoint hostname');
  t.false('credentials' in c.s3);
  t.false('healthcheckKey' in c);
});

test('an empty environment reports every required variable at once', (t) => {
  const list = errors({});
  const names = list.map((e) => e.split(':')[0]);
  t.deepEqual(names.sort(), ['AWS_S3_ENDPOINT', 'AWS_S3_REGION', 'REDIS_URL', 'SSO_CLIENT_ID', 'SSO_CLIENT_SECRET', 'SSO_URL'].sort());
});

test('problems in many variables are all reported at once, each naming its variable', (t) => {
  const list = errors({
    PORT: '99999',
    REDIS_URL: 'http://redis',
    SSO_URL: 'not a url',
    SSO_CLIENT_ID: 'id',
    SSO_CLIENT_SECRET: CLIENT_SECRET,
    SSO_TOKEN_CHECK_GRACE_PERIOD: '-1',
    LOGIN_STATE_TTL: '0',
    SESSION_COOKIE_NAME: 'bad name',
    SESSION_MAX_AGE: '1h',
    SESSION_COOKIE_SAMESITE: 'sometimes',
    AWS_S3_ENDPOINT: 'ftp://x/b/',
    AWS_S3_REGION: 'EU_WEST',
    AWS_ACCESS_KEY_ID: 'AKIA',
    AWS_S3_HEALTHCHECK_KEY: '/health',
    AWS_S3_RESPONSE_TIMEOUT: '0',
    SHUTDOWN_TIMEOUT: 'soon',
    LOG_LEVEL: 'loud',
  });
  const names = list.map((e) => e.slice(0, e.indexOf(':')));
  t.deepEqual(names.sort(), [
    'AWS_S3_ENDPOINT',
    'AWS_S3_HEALTHCHECK_KEY',
    'AWS_S3_REGION',
    'AWS_S3_RESPONSE_TIMEOUT',
    'AWS_SECRET_ACCESS_KEY',
    'LOGIN_STATE_TTL',
    'LOG_LEVEL',
    'PORT',
    'REDIS_URL',
    'SESSION_COOKIE_NAME',
    'SESSION_COOKIE_SAMESITE',
    'SESSION_MAX_AGE',
    'SHUTDOWN_TIMEOUT',
    'SSO_TOKEN_CHECK_GRACE_PERIOD',
    'SSO_URL',
  ].sort());
});

test('parseConfig never throws, whatever it is given', (t) => {
  const weird: Env[] = [
    { VCAP_SERVICES: 'null' },
    { VCAP_SERVICES: '[]' },
    { VCAP_SERVICES: '"redis"' },
    { VCAP_SERVICES: '{"redis":null}' },
    { VCAP_SERVICES: '{"redis":[null]}' },
    { VCAP_SERVICES: '{"redis":[{"credentials":null}]}' },
    { VCAP_SERVICES: '{"redis":"abc"}' },
    { PORT: '\u0000', AWS_S3_ENDPOINT: '\u0000', SSO_URL: '%', OIDC_ISSUER: '::' },
    { AWS_S3_BUCKET: '/', S3_USE_LOCAL: '1', S3_ENDPOINT_URL: '::' },
  ];
  for (const env of weird) t.notThrows(() => parseConfig(env), JSON.stringify(env));
});

// --- PORT -----------------------------------------------------------------

test('PORT accepts 0 to 65535', (t) => {
  t.is(config(withEnv({ PORT: '0' })).port, 0);
  t.is(config(withEnv({ PORT: '1' })).port, 1);
  t.is(config(withEnv({ PORT: '65535' })).port, 65535);
});

test('PORT defaults to 8080 when unset or empty', (t) => {
  t.is(config(withEnv({ PORT: undefined })).port, 8080);
  t.is(config(withEnv({ PORT: '' })).port, 8080);
});

test('PORT rejects anything but a strict whole number in range, echoing the bad value', (t) => {
  for (const port of ['65536', '-1', '+80', '80.0', '8e3', '0x50', ' 80', '80 ', '12abc', 'eighty', '080', '1_000', 'Infinity']) {
    const error = onlyError(withEnv({ PORT: port }));
    t.true(error.startsWith('PORT: '), port);
    t.true(error.includes(JSON.stringify(port)), `${port}: ${error}`);
  }
});

// --- Redis ----------------------------------------------------------------

test('the Redis URI comes from VCAP_SERVICES redis[0].credentials.uri', (t) => {
  const c = config(withEnv({ REDIS_URL: undefined, VCAP_SERVICES: vcap('redis://paas-redis:6379/0') }));
  t.deepEqual(c.redis, { mode: 'standalone', url: 'redis://paas-redis:6379/0' });
});

test('VCAP_SERVICES takes precedence over REDIS_URL and REDIS_ENDPOINT', (t) => {
  const c = config(
    withEnv({ VCAP_SERVICES: vcap('rediss://vcap:6379'), REDIS_URL: 'redis://url:6379', REDIS_ENDPOINT: 'redis://endpoint:6379' }),
  );
  t.deepEqual(c.redis, { mode: 'standalone', url: 'rediss://vcap:6379' });
});

test('REDIS_URL takes precedence over REDIS_ENDPOINT', (t) => {
  const c = config(withEnv({ REDIS_URL: 'redis://url:6379', REDIS_ENDPOINT: 'redis://endpoint:6379' }));
  t.deepEqual(c.redis, { mode: 'standalone', url: 'redis://url:6379' });
});

test('REDIS_ENDPOINT, the older uktrade name, is used when nothing else is set', (t) => {
  const c = config(withEnv({ REDIS_URL: undefined, REDIS_ENDPOINT: 'redis://endpoint:6379' }));
  t.deepEqual(c.redis, { mode: 'standalone', url: 'redis://endpoint:6379' });
});

test('an empty VCAP_SERVICES counts as unset', (t) => {
  t.deepEqual(config(withEnv({ VCAP_SERVICES: '' })).redis, { mode: 'standalone', url: 'redis://localhost:6379' });
});

test('a Redis URI is required', (t) => {
  t.regex(onlyError(withEnv({ REDIS_URL: undefined })), /^REDIS_URL: required/);
});

test('malformed VCAP_SERVICES JSON is an error naming VCAP_SERVICES, not a fallback', (t) => {
  t.is(onlyError(withEnv({ VCAP_SERVICES: '{"redis": [' })), 'VCAP_SERVICES: is not valid JSON');
});

test('VCAP_SERVICES without a Redis URI is an error naming the path', (t) => {
  for (const value of ['{}', '{"redis":[]}', '{"redis":[{}]}', '{"redis":[{"credentials":{}}]}', '{"redis":[{"credentials":{"uri":5}}]}', 'null', '[]']) {
    t.is(onlyError(withEnv({ VCAP_SERVICES: value })), 'VCAP_SERVICES: has no Redis URI at redis[0].credentials.uri', value);
  }
});

test('a Redis URI with a wrong scheme is rejected, naming the scheme', (t) => {
  t.is(onlyError(withEnv({ REDIS_URL: 'http://redis:6379' })), 'REDIS_URL: must be a redis: or rediss: URI, not http:');
  t.is(onlyError(withEnv({ REDIS_URL: undefined, REDIS_ENDPOINT: 'tcp://redis' })), 'REDIS_ENDPOINT: must be a redis: or rediss: URI, not tcp:');
  t.is(
    onlyError(withEnv({ VCAP_SERVICES: vcap('memcached://x') })),
    'VCAP_SERVICES: redis[0].credentials.uri must be a redis: or rediss: URI, not memcached:',
  );
});

test('a Redis URI that is not a URI, or has no host, is rejected', (t) => {
  t.is(onlyError(withEnv({ REDIS_URL: 'localhost:6379x' })), 'REDIS_URL: must be a redis: or rediss: URI, not localhost:');
  t.is(onlyError(withEnv({ REDIS_URL: 'redis-server' })), 'REDIS_URL: is not a valid URI');
  t.is(onlyError(withEnv({ REDIS_URL: 'redis://' })), 'REDIS_URL: has no host');
});

test('redisUrlProblem accepts redis: and rediss: URIs with passwords and databases', (t) => {
  for (const uri of ['redis://localhost', 'rediss://:pw@host:6380/2', 'redis://user:pw@[::1]:6379', 'REDIS://HOST']) {
    t.is(redisUrlProblem(uri), undefined, uri);
  }
});

// --- Redis Sentinel and Cluster ---------------------------------------------

const sentinelEnv = (patch: Env = {}): Env =>
  withEnv({
    REDIS_URL: undefined,
    REDIS_USE_SENTINEL: 'true',
    REDIS_SENTINEL_MASTER_NAME: 'mymaster',
    REDIS_SENTINEL_CONNECTION_URLS: 'redis://sentinel-a:26379,redis://sentinel-b,redis://[::1]:26380',
    ...patch,
  });

const clusterEnv = (patch: Env = {}): Env =>
  withEnv({
    REDIS_URL: undefined,
    REDIS_USE_CLUSTER: 'true',
    REDIS_CLUSTER_CONNECTION_URLS: 'redis://node-a:7000, redis://node-b:7001,redis://node-c',
    ...patch,
  });

test('REDIS_USE_SENTINEL names the master and the sentinels, default port 26379', (t) => {
  t.deepEqual(config(sentinelEnv()).redis, {
    mode: 'sentinel',
    masterName: 'mymaster',
    sentinels: [
      { host: 'sentinel-a', port: 26379 },
      { host: 'sentinel-b', port: 26379 },
      { host: '::1', port: 26380 },
    ],
    sentinelAuth: { tls: false },
    auth: { tls: false },
  });
});

test('sentinel URL credentials serve the sentinels and the master; REDIS_PASSWORD and REDIS_SENTINEL_PASSWORD override them', (t) => {
  const urls = `rediss://app:${REDIS_PASSWORD}@s1:26379,rediss://app:${REDIS_PASSWORD}@s2:26379`;
  const shared = config(sentinelEnv({ REDIS_SENTINEL_CONNECTION_URLS: urls })).redis;
  t.like(shared, {
    mode: 'sentinel',
    sentinelAuth: { username: 'app', password: REDIS_PASSWORD, tls: true },
    auth: { username: 'app', password: REDIS_PASSWORD, tls: true },
  });
  const split = config(sentinelEnv({ REDIS_SENTINEL_CONNECTION_URLS: urls, REDIS_PASSWORD: 'master-pw', REDIS_SENTINEL_PASSWORD: 'sentinel-pw' })).redis;
  t.like(split, {
    sentinelAuth: { username: 'app', password: 'sentinel-pw', tls: true },
    auth: { username: 'app', password: 'master-pw', tls: true },
  });
});

test('percent-encoded credentials in a node URL are decoded', (t) => {
  const c = config(clusterEnv({ REDIS_CLUSTER_CONNECTION_URLS: 'redis://us%40r:p%3Aw%2F@n1:7000' }));
  t.deepEqual(c.redis, { mode: 'cluster', nodes: [{ host: 'n1', port: 7000 }], auth: { username: 'us@r', password: 'p:w/', tls: false } });
});

test('REDIS_USE_CLUSTER takes the seed nodes, default port 6379, and REDIS_PASSWORD for every node', (t) => {
  t.deepEqual(config(clusterEnv()).redis, {
    mode: 'cluster',
    nodes: [
      { host: 'node-a', port: 7000 },
      { host: 'node-b', port: 7001 },
      { host: 'node-c', port: 6379 },
    ],
    auth: { tls: false },
  });
  t.like(config(clusterEnv({ REDIS_PASSWORD: REDIS_PASSWORD })).redis, { mode: 'cluster', auth: { password: REDIS_PASSWORD, tls: false } });
  t.like(config(clusterEnv({ REDIS_CLUSTER_CONNECTION_URLS: 'rediss://n1:7000,rediss://n2:7000' })).redis, { auth: { tls: true } });
});

test('the mode flags accept true/false, 1/0 and yes/no, and an empty or false flag means a single Redis', (t) => {
  for (const value of ['true', 'TRUE', '1', 'yes']) t.is(config(clusterEnv({ REDIS_USE_CLUSTER: value })).redis.mode, 'cluster', value);
  for (const value of ['', 'false', '0', 'No']) {
    t.is(config(withEnv({ REDIS_USE_CLUSTER: value, REDIS_USE_SENTINEL: value })).redis.mode, 'standalone', value);
  }
  t.is(onlyError(clusterEnv({ REDIS_USE_CLUSTER: 'on please' })), 'REDIS_USE_CLUSTER: must be true or false, got "on please"');
});

test('Sentinel and Cluster each need their own variables, and not the other mode at once', (t) => {
  t.is(onlyError(sentinelEnv({ REDIS_SENTINEL_MASTER_NAME: undefined })), 'REDIS_SENTINEL_MASTER_NAME: required with REDIS_USE_SENTINEL');
  t.is(onlyError(sentinelEnv({ REDIS_SENTINEL_CONNECTION_URLS: '' })), 'REDIS_SENTINEL_CONNECTION_URLS: required with REDIS_USE_SENTINEL, but is empty');
  t.is(onlyError(clusterEnv({ REDIS_CLUSTER_CONNECTION_URLS: undefined })), 'REDIS_CLUSTER_CONNECTION_URLS: required with REDIS_USE_CLUSTER');
  t.true(errors(sentinelEnv({ REDIS_USE_CLUSTER: 'true' })).includes('REDIS_USE_CLUSTER: cannot be combined with REDIS_USE_SENTINEL'));
  t.is(
    onlyError(clusterEnv({ REDIS_SENTINEL_MASTER_NAME: 'mymaster' })),
    'REDIS_SENTINEL_MASTER_NAME: is used only with REDIS_USE_SENTINEL=true',
  );
});

test('a second Redis address beside Sentinel or Cluster is an error, not silently ignored', (t) => {
  t.is(onlyError(clusterEnv({ REDIS_URL: 'redis://other:6379' })), 'REDIS_URL: must not be set together with REDIS_USE_CLUSTER');
  t.is(onlyError(sentinelEnv({ REDIS_ENDPOINT: 'redis://other:6379' })), 'REDIS_ENDPOINT: must not be set together with REDIS_USE_SENTINEL');
});

test('Sentinel and Cluster variables without their flag are errors, so a forgotten flag is noticed', (t) => {
  t.is(onlyError(withEnv({ REDIS_CLUSTER_CONNECTION_URLS: 'redis://n1' })), 'REDIS_CLUSTER_CONNECTION_URLS: is used only with REDIS_USE_CLUSTER=true');
  t.is(onlyError(withEnv({ REDIS_SENTINEL_MASTER_NAME: 'm' })), 'REDIS_SENTINEL_MASTER_NAME: is used only with REDIS_USE_SENTINEL=true');
  t.regex(onlyError(withEnv({ REDIS_PASSWORD: REDIS_PASSWORD })), /^REDIS_PASSWORD: is used only with REDIS_USE_SENTINEL or REDIS_USE_CLUSTER/);
});

test('node URL lists reject empty entries, other schemes, mixed schemes, databases and differing credentials', (t) => {
  const bad = (urls: string) => onlyError(clusterEnv({ REDIS_CLUSTER_CONNECTION_URLS: urls }));
  t.regex(bad('redis://a,,redis://b'), /no empty entries/);
  t.is(bad('redis://a,http://b'), 'REDIS_CLUSTER_CONNECTION_URLS: URL 2 must be a redis: or rediss: URI, not http:');
  t.regex(bad('redis://a,rediss://b'), /one scheme for all URLs/);
  t.regex(bad('redis://a:7000/2'), /without a database number/);
  t.regex(bad('redis://a:7000?x=1'), /without a database number, query or fragment/);
  t.regex(bad(`redis://:${REDIS_PASSWORD}@a,redis://:other@b`), /same user name and password/);
  t.is(bad('redis://'), 'REDIS_CLUSTER_CONNECTION_URLS: has no host');
});

test('a Redis password in sentinel or cluster URLs never appears in an error', (t) => {
  const urls = [`http://:${REDIS_PASSWORD}@h`, `redis://:${REDIS_PASSWORD}@h/3`, `redis://:${REDIS_PASSWORD}@h,redis://:x@g`, `${REDIS_PASSWORD}`];
  for (const value of urls) {
    assertNoSecrets(t, errors(clusterEnv({ REDIS_CLUSTER_CONNECTION_URLS: value })));
    assertNoSecrets(t, errors(sentinelEnv({ REDIS_SENTINEL_CONNECTION_URLS: value })));
  }
  assertNoSecrets(t, errors(withEnv({ REDIS_PASSWORD: REDIS_PASSWORD, REDIS_SENTINEL_PASSWORD: REDIS_PASSWORD })));
});

test('REDIS_KEY_PREFIX defaults to s3proxy: and can be changed', (t) => {
  t.is(config(minimalEnv()).redisKeyPrefix, 's3proxy:');
  t.is(config(withEnv({ REDIS_KEY_PREFIX: 'assets:' })).redisKeyPrefix, 'assets:');
});

// --- SSO --------------------------------------------------------------------

test('SSO_URL is normalised to end with a slash', (t) => {
  const c = config(withEnv({ SSO_URL: 'https://sso.example.com/base' }));
  t.deepEqual(c.sso, {
    mode: 'oauth2',
    url: 'https://sso.example.com/base/',
    internalUrl: 'https://sso.example.com/base/',
    clientId: 'id',
    clientSecret: CLIENT_SECRET,
  });
});

test('SSO_URL may use http, as the old proxy allowed', (t) => {
  const c = config(withEnv({ SSO_URL: 'http://sso.internal:8000' }));
  t.is(c.sso.mode === 'oauth2' && c.sso.url, 'http://sso.internal:8000/');
});

test('SSO_URL_INTERNAL is used for server-to-server calls and normalised', (t) => {
  const c = config(withEnv({ SSO_URL_INTERNAL: 'http://sso:8000/api' }));
  t.is(c.sso.mode === 'oauth2' && c.sso.url, 'https://sso.example.com/');
  t.is(c.sso.mode === 'oauth2' && c.sso.internalUrl, 'http://sso:8000/api/');
});

test('SSO_URL is required when OIDC_ISSUER is not set', (t) => {
  t.is(onlyError(withEnv({ SSO_URL: undefined })), 'SSO_URL: required when OIDC_ISSUER is not set');
  t.is(onlyError(withEnv({ SSO_URL: '' })), 'SSO_URL: required when OIDC_ISSUER is not set, but is empty');
});

test('a bad SSO_URL or SSO_URL_INTERNAL is rejected', (t) => {
  const cases: Array<[Env, RegExp]> = [
    [{ SSO_URL: 'sso.example.com' }, /^SSO_URL: is not a valid absolute URL$/],
    [{ SSO_URL: 'ftp://sso.example.com/' }, /^SSO_URL: must be an http or https URL, not ftp:$/],
    [{ SSO_URL: 'https://sso.example.com/?next=1' }, /^SSO_URL: must not contain a query string or fragment$/],
    [{ SSO_URL: 'https://sso.example.com/#x' }, /^SSO_URL: must not contain a query string or fragment$/],
    [{ SSO_URL: 'https://u:p@sso.example.com/' }, /^SSO_URL: must not contain credentials$/],
    [{ SSO_URL: 'https://sso.example.com/ ' }, /^SSO_URL: must not contain whitespace/],
    [{ SSO_URL_INTERNAL: 'sso:8000' }, /^SSO_URL_INTERNAL: must be an http or https URL, not sso:$/],
    [{ SSO_URL_INTERNAL: '//sso' }, /^SSO_URL_INTERNAL: is not a valid absolute URL$/],
  ];
  for (const [patch, expected] of cases) t.regex(onlyError(withEnv(patch)), expected, JSON.stringify(patch));
});

test('SSO_CLIENT_ID and SSO_CLIENT_SECRET are always required', (t) => {
  t.deepEqual(errors(withEnv({ SSO_CLIENT_ID: undefined, SSO_CLIENT_SECRET: undefined })), [
    'SSO_CLIENT_ID: required',
    'SSO_CLIENT_SECRET: required',
  ]);
  t.deepEqual(
    errors(withEnv({ SSO_URL: undefined, OIDC_ISSUER: 'https://idp.example.com', SSO_CLIENT_ID: '', SSO_CLIENT_SECRET: undefined })),
    ['SSO_CLIENT_ID: required, but is empty', 'SSO_CLIENT_SECRET: required'],
  );
});

test('OIDC_ISSUER selects oidc mode, kept exactly, and SSO_URL is then ignored', (t) => {
  const c = config(withEnv({ OIDC_ISSUER: 'https://idp.example.com/realms/staff', SSO_URL: 'not even a url' }));
  t.deepEqual(c.sso, { mode: 'oidc', issuer: 'https://idp.example.com/realms/staff', clientId: 'id', clientSecret: CLIENT_SECRET });
  const noUrl = config(withEnv({ OIDC_ISSUER: 'https://idp.example.com/', SSO_URL: undefined }));
  t.is(noUrl.sso.mode === 'oidc' && noUrl.sso.issuer, 'https://idp.example.com/');
});

test('OIDC_ISSUER may use http only for loopback hosts', (t) => {
  for (const issuer of ['http://127.0.0.1:3000', 'http://localhost:3000/oidc', 'http://[::1]:3000']) {
    t.is(config(withEnv({ OIDC_ISSUER: issuer })).sso.mode, 'oidc', issuer);
  }
  for (const issuer of ['http://idp.example.com', 'http://10.0.0.1', 'http://localhost.example.com']) {
    t.regex(onlyError(withEnv({ OIDC_ISSUER: issuer })), /^OIDC_ISSUER: must use https/, issuer);
  }
});

test('a bad OIDC_ISSUER is rejected', (t) => {
  t.regex(onlyError(withEnv({ OIDC_ISSUER: 'idp.example.com' })), /^OIDC_ISSUER: is not a valid absolute URL$/);
  t.regex(onlyError(withEnv({ OIDC_ISSUER: 'https://idp.example.com/?a=b' })), /^OIDC_ISSUER: must not contain a query/);
  t.regex(onlyError(withEnv({ OIDC_ISSUER: 'ftp://idp.example.com/' })), /^OIDC_ISSUER: must be an http or https URL/);
});

test('SSO_TOKEN_CHECK_GRACE_PERIOD accepts 0 and defaults to 60', (t) => {
  t.is(config(withEnv({ SSO_TOKEN_CHECK_GRACE_PERIOD: '0' })).tokenCheckGracePeriodSeconds, 0);
  t.is(config(withEnv({ SSO_TOKEN_CHECK_GRACE_PERIOD: '300' })).tokenCheckGracePeriodSeconds, 300);
  t.is(config(minimalEnv()).tokenCheckGracePeriodSeconds, 60);
});

test('SSO_TOKEN_CHECK_GRACE_PERIOD rejects negatives, decimals and junk', (t) => {
  for (const value of ['-1', '1.5', '60s', ' 60']) {
    t.regex(onlyError(withEnv({ SSO_TOKEN_CHECK_GRACE_PERIOD: value })), /^SSO_TOKEN_CHECK_GRACE_PERIOD: /, value);
  }
});

test('LOGIN_STATE_TTL must be at least 1 and defaults to 600', (t) => {
  t.is(config(withEnv({ LOGIN_STATE_TTL: '1' })).loginStateTtlSeconds, 1);
  t.is(config(minimalEnv()).loginStateTtlSeconds, 600);
  t.is(onlyError(withEnv({ LOGIN_STATE_TTL: '0' })), 'LOGIN_STATE_TTL: must be from 1 to 2147483647, got "0"');
  t.regex(onlyError(withEnv({ LOGIN_STATE_TTL: '10m' })), /^LOGIN_STATE_TTL: must be a whole number/);
});

// --- session ------------------------------------------------------------------

test('SESSION_COOKIE_NAME accepts any RFC 6265 token and defaults to assets_session_id', (t) => {
  for (const name of ['sid', '__Host-session', 'a.b-c_d', "x!#$%&'*+^`|~"]) {
    t.is(config(withEnv({ SESSION_COOKIE_NAME: name })).session.cookieName, name);
  }
  t.is(config(minimalEnv()).session.cookieName, 'assets_session_id');
});

test('SESSION_COOKIE_NAME rejects separators, spaces and non-ASCII', (t) => {
  for (const name of ['a b', 'a=b', 'a;b', 'a,b', '"a"', 'a/b', 'a:b', 'séance', 'a\tb', '(a)', 'a@b', '{a}']) {
    t.regex(onlyError(withEnv({ SESSION_COOKIE_NAME: name })), /^SESSION_COOKIE_NAME: must be a cookie name/, name);
  }
});

test('SESSION_MAX_AGE must be at least 1 and defaults to 9 hours', (t) => {
  t.is(config(withEnv({ SESSION_MAX_AGE: '3600' })).session.maxAgeSeconds, 3600);
  t.is(config(minimalEnv()).session.maxAgeSeconds, 32400);
  t.regex(onlyError(withEnv({ SESSION_MAX_AGE: '0' })), /^SESSION_MAX_AGE: must be from 1/);
  t.regex(onlyError(withEnv({ SESSION_MAX_AGE: '9h' })), /^SESSION_MAX_AGE: /);
  t.regex(onlyError(withEnv({ SESSION_MAX_AGE: '99999999999999999999' })), /^SESSION_MAX_AGE: must be from 1 to/);
});

test('SESSION_COOKIE_SAMESITE is case-insensitive and defaults to lax', (t) => {
  t.is(config(minimalEnv()).session.sameSite, 'lax');
  const cases: Array<[string, SameSite]> = [['Lax', 'lax'], ['STRICT', 'strict'], ['none', 'none'], ['None', 'none']];
  // None needs https, known up front (see below)
  for (const [raw, expected] of cases) t.is(config(withEnv({ SESSION_COOKIE_SAMESITE: raw, SESSION_COOKIE_SECURE: 'true' })).session.sameSite, expected);
  t.is(onlyError(withEnv({ SESSION_COOKIE_SAMESITE: 'loose' })), 'SESSION_COOKIE_SAMESITE: must be Lax, Strict or None, got "loose"');
});

// --- S3 location -----------------------------------------------------------------

test('PUBLIC_URL is optional and kept as its origin', (t) => {
  t.false('publicUrl' in config(minimalEnv()));
  t.is(config(withEnv({ PUBLIC_URL: 'https://assets.example.org' })).publicUrl, 'https://assets.example.org');
  t.is(config(withEnv({ PUBLIC_URL: 'https://Assets.Example.org:8443/' })).publicUrl, 'https://assets.example.org:8443');
  t.is(config(withEnv({ PUBLIC_URL: 'http://localhost:8080' })).publicUrl, 'http://localhost:8080');
  t.false('publicUrl' in config(withEnv({ PUBLIC_URL: '' })), 'empty counts as unset');
});

test('PUBLIC_URL must be an http(s) origin without path, query, fragment or credentials, and is never echoed', (t) => {
  const secret = 'pw-in-public-url-Qz19';
  for (const raw of ['assets.example.org', 'ftp://assets.example.org', 'https://assets.example.org/prefix', 'https://assets.example.org/?a=1', 'https://assets.example.org/#x', `https://user:${secret}@assets.example.org`]) {
    const error = onlyError(withEnv({ PUBLIC_URL: raw }));
    t.regex(error, /^PUBLIC_URL: /, raw);
    t.false(error.includes(secret), raw);
  }
  t.is(onlyError(withEnv({ PUBLIC_URL: 'https://assets.example.org/prefix' })), 'PUBLIC_URL: must be an origin only (scheme, host and port), without a path');
});

test('SESSION_COOKIE_SECURE forces Secure cookies and defaults to false', (t) => {
  t.false(config(minimalEnv()).session.forceSecure);
  t.true(config(withEnv({ SESSION_COOKIE_SECURE: 'true' })).session.forceSecure);
  t.false(config(withEnv({ SESSION_COOKIE_SECURE: 'false' })).session.forceSecure);
  t.is(onlyError(withEnv({ SESSION_COOKIE_SECURE: 'always' })), 'SESSION_COOKIE_SECURE: must be true or false, got "always"');
});

test('SESSION_COOKIE_SAMESITE=None without https stops start-up with one line naming the variable', (t) => {
  const message = 'SESSION_COOKIE_SAMESITE: None needs https: set PUBLIC_URL to an https URL, or SESSION_COOKIE_SECURE=true';
  t.deepEqual(errors(withEnv({ SESSION_COOKIE_SAMESITE: 'None' })), [message]);
  t.deepEqual(errors(withEnv({ SESSION_COOKIE_SAMESITE: 'None', PUBLIC_URL: 'http://assets.example.org' })), [message]);
  t.deepEqual(errors(withEnv({ SESSION_COOKIE_SAMESITE: 'None', SESSION_COOKIE_SECURE: 'false' })), [message]);
  t.is(config(withEnv({ SESSION_COOKIE_SAMESITE: 'None', PUBLIC_URL: 'https://assets.example.org' })).session.sameSite, 'none');
  t.is(config(withEnv({ SESSION_COOKIE_SAMESITE: 'None', SESSION_COOKIE_SECURE: 'true' })).session.sameSite, 'none');
  // a bad PUBLIC_URL is reported on its own, not as a SameSite problem too
  t.regex(onlyError(withEnv({ SESSION_COOKIE_SAMESITE: 'None', PUBLIC_URL: 'not a url' })), /^PUBLIC_URL: /);
});

test('SESSION_SECRET is optional, needs 32 characters, and is never echoed', (t) => {
  t.false('secret' in config(minimalEnv()).session);
  const good = 'a-session-secret-of-32-chars-ok!';
  t.is(good.length, 32);
  t.is(config(withEnv({ SESSION_SECRET: good })).session.secret, good);
  const short = 'short-secret-Xy7';
  const error = onlyError(withEnv({ SESSION_SECRET: short }));
  t.is(error, 'SESSION_SECRET: must be at least 32 characters long');
  t.false(error.includes(short));
});

test('AWS_S3_ENDPOINT takes precedence over AWS_S3_BUCKET, whose form is then ignored', (t) => {
  const c = config(withEnv({ AWS_S3_BUCKET: 'other bucket!', S3_USE_LOCAL: 'true', S3_ENDPOINT_URL: undefined }));
  t.is(c.s3.location.bucket, 'my-bucket');
  t.is(c.s3.location.origin, 'https://s3.eu-west-2.amazonaws.com');
});

test('a virtual-host AWS_S3_ENDPOINT is accepted with its region hint', (t) => {
  const c = config(withEnv({ AWS_S3_ENDPOINT: 'https://assets.s3.eu-west-1.amazonaws.com/site/' }));
  t.deepEqual(c.s3.location, {
    origin: 'https://assets.s3.eu-west-1.amazonaws.com',
    bucket: 'assets',
    style: 'virtual-host',
    keyPrefix: 'site/',
  });
  t.is(c.s3.region, 'eu-west-1');
});

test('a bad AWS_S3_ENDPOINT is an error naming AWS_S3_ENDPOINT', (t) => {
  t.is(
    onlyError(withEnv({ AWS_S3_ENDPOINT: 'https://s3.eu-west-2.amazonaws.com/my-bucket/?x', AWS_S3_REGION: 'eu-west-2' })),
    'AWS_S3_ENDPOINT: must not contain a query string or fragment',
  );
  t.regex(
    onlyError(withEnv({ AWS_S3_ENDPOINT: 'https://s3.eu-west-2.amazonaws.com/', AWS_S3_REGION: 'eu-west-2' })),
    /^AWS_S3_ENDPOINT: has no bucket/,
  );
});

test('a broken AWS_S3_ENDPOINT with no region reports both problems', (t) => {
  const list = errors(withEnv({ AWS_S3_ENDPOINT: 'ftp://x/b/' }));
  t.deepEqual(list, [
    'AWS_S3_ENDPOINT: must be an http or https URL, not ftp:',
    'AWS_S3_REGION: required (or AWS_DEFAULT_REGION or AWS_REGION)',
  ]);
});

test('AWS_S3_ENDPOINT or AWS_S3_BUCKET is required', (t) => {
  t.is(onlyError(withEnv({ AWS_S3_ENDPOINT: undefined, AWS_S3_REGION: 'eu-west-2' })), 'AWS_S3_ENDPOINT: required (or AWS_S3_BUCKET)');
});

test('AWS_S3_BUCKET on AWS gives the regional virtual-host endpoint', (t) => {
  const c = config(withEnv({ AWS_S3_ENDPOINT: undefined, AWS_S3_BUCKET: 'my-bucket', AWS_DEFAULT_REGION: 'eu-west-2' }));
  t.deepEqual(c.s3.location, {
    origin: 'https://my-bucket.s3.eu-west-2.amazonaws.com',
    bucket: 'my-bucket',
    style: 'virtual-host',
    keyPrefix: '',
  });
});

test('AWS_S3_BUCKET with a path and KEY_PREFIX are joined into one prefix', (t) => {
  const c = config(withEnv({ AWS_S3_ENDPOINT: undefined, AWS_S3_BUCKET: 'bucket/a', KEY_PREFIX: 'b', AWS_S3_REGION: 'eu-west-2' }));
  t.is(c.s3.location.keyPrefix, 'a/b/');
  t.is(c.s3.location.bucket, 'bucket');
});

test('S3_USE_LOCAL counts as false when empty, 0, false, False or no', (t) => {
  for (const value of ['', '0', 'false', 'False', 'FALSE', 'no', 'No']) {
    const c = config(
      withEnv({ AWS_S3_ENDPOINT: undefined, AWS_S3_BUCKET: 'b-1', S3_USE_LOCAL: value, S3_ENDPOINT_URL: 'http://minio:9000', AWS_REGION: 'eu-west-2' }),
    );
    t.is(c.s3.location.origin, 'https://b-1.s3.eu-west-2.amazonaws.com', JSON.stringify(value));
  }
});

test('S3_USE_LOCAL counts as true for any other value, and then needs S3_ENDPOINT_URL', (t) => {
  for (const value of ['1', 'true', 'True', 'yes', 'on']) {
    const c = config(
      withEnv({ AWS_S3_ENDPOINT: undefined, AWS_S3_BUCKET: 'b-1', S3_USE_LOCAL: value, S3_ENDPOINT_URL: 'http://minio:9000/', AWS_REGION: 'us-east-1' }),
    );
    t.deepEqual(c.s3.location, { origin: 'http://minio:9000', bucket: 'b-1', style: 'path', keyPrefix: '' }, value);
  }
  t.is(
    onlyError(withEnv({ AWS_S3_ENDPOINT: undefined, AWS_S3_BUCKET: 'b-1', S3_USE_LOCAL: '1', AWS_REGION: 'us-east-1' })),
    'S3_ENDPOINT_URL: required when S3_USE_LOCAL is set',
  );
});

test('S3_ENDPOINT_URL is ignored when S3_USE_LOCAL is unset', (t) => {
  const c = config(withEnv({ AWS_S3_ENDPOINT: undefined, AWS_S3_BUCKET: 'b-1', S3_ENDPOINT_URL: 'garbage', AWS_REGION: 'eu-west-2' }));
  t.is(c.s3.location.style, 'virtual-host');
});

test('a bad bucket in AWS_S3_BUCKET is reported even when the region is missing', (t) => {
  const list = errors(withEnv({ AWS_S3_ENDPOINT: undefined, AWS_S3_BUCKET: 'bad bucket' }));
  t.is(list.length, 2);
  t.regex(list[0] ?? '', /^AWS_S3_REGION: required/);
  t.regex(list[1] ?? '', /^AWS_S3_BUCKET: /);
});

// --- region ---------------------------------------------------------------------

test('AWS_S3_REGION takes precedence over AWS_DEFAULT_REGION and AWS_REGION', (t) => {
  const c = config(withEnv({ AWS_S3_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'us-east-1', AWS_REGION: 'ap-south-1' }));
  t.is(c.s3.region, 'eu-west-1');
});

test('AWS_DEFAULT_REGION takes precedence over AWS_REGION', (t) => {
  t.is(config(withEnv({ AWS_DEFAULT_REGION: 'us-east-1', AWS_REGION: 'ap-south-1' })).s3.region, 'us-east-1');
  t.is(config(withEnv({ AWS_REGION: 'ap-south-1' })).s3.region, 'ap-south-1');
});

test('an explicit region takes precedence over the endpoint hostname hint', (t) => {
  t.is(config(withEnv({ AWS_S3_REGION: 'us-east-1' })).s3.region, 'us-east-1');
});

test('a region is required when the endpoint hostname names none', (t) => {
  t.regex(
    onlyError(withEnv({ AWS_S3_ENDPOINT: 'http://127.0.0.1:9000/my-bucket/' })),
    /^AWS_S3_REGION: required \(or AWS_DEFAULT_REGION or AWS_REGION\) unless AWS_S3_ENDPOINT is an AWS hostname/,
  );
  t.is(config(withEnv({ AWS_S3_ENDPOINT: 'http://127.0.0.1:9000/my-bucket/', AWS_REGION: 'us-east-1' })).s3.region, 'us-east-1');
});

test('a region must look like a region, and the bad variable is the one named', (t) => {
  t.is(
    onlyError(withEnv({ AWS_S3_REGION: 'EU-WEST-2' })),
    'AWS_S3_REGION: must be a region name of lowercase letters, digits and hyphens, like eu-west-2, got "EU-WEST-2"',
  );
  t.regex(onlyError(withEnv({ AWS_DEFAULT_REGION: 'eu west 2' })), /^AWS_DEFAULT_REGION: must be a region name/);
  t.regex(onlyError(withEnv({ AWS_REGION: 'eu_west_2' })), /^AWS_REGION: must be a region name/);
});

// --- credentials ---------------------------------------------------------------

test('static credentials need both the key id and the secret', (t) => {
  const c = config(withEnv({ AWS_ACCESS_KEY_ID: 'AKIA1', AWS_SECRET_ACCESS_KEY: AWS_SECRET }));
  t.deepEqual(c.s3.credentials, { accessKeyId: 'AKIA1', secretAccessKey: AWS_SECRET });
  t.false('sessionToken' in (c.s3.credentials ?? {}));
});

test('a session token is passed on with static credentials', (t) => {
  const c = config(withEnv({ AWS_ACCESS_KEY_ID: 'AKIA1', AWS_SECRET_ACCESS_KEY: AWS_SECRET, AWS_SESSION_TOKEN: SESSION_TOKEN }));
  t.deepEqual(c.s3.credentials, { accessKeyId: 'AKIA1', secretAccessKey: AWS_SECRET, sessionToken: SESSION_TOKEN });
});

test('no static credentials leaves credentials undefined for the default provider chain', (t) => {
  t.is(config(minimalEnv()).s3.credentials, undefined);
  t.is(config(withEnv({ AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' })).s3.credentials, undefined);
});

test('a key id without a secret, or a secret without a key id, is an error', (t) => {
  t.is(onlyError(withEnv({ AWS_ACCESS_KEY_ID: 'AKIA1' })), 'AWS_SECRET_ACCESS_KEY: required when AWS_ACCESS_KEY_ID is set');
  t.is(onlyError(withEnv({ AWS_SECRET_ACCESS_KEY: AWS_SECRET })), 'AWS_ACCESS_KEY_ID: required when AWS_SECRET_ACCESS_KEY is set');
});

test('a session token without static credentials is an error', (t) => {
  t.is(
    onlyError(withEnv({ AWS_SESSION_TOKEN: SESSION_TOKEN })),
    'AWS_SESSION_TOKEN: is set, but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not',
  );
});

// --- healthcheck, timeouts, log level ------------------------------------------------

test('AWS_S3_HEALTHCHECK_KEY is optional and kept as given', (t) => {
  t.false('healthcheckKey' in config(minimalEnv()));
  t.is(config(withEnv({ AWS_S3_HEALTHCHECK_KEY: 'status/ok.txt' })).healthcheckKey, 'status/ok.txt');
});

test('AWS_S3_HEALTHCHECK_KEY must not be empty or start with a slash', (t) => {
  t.regex(onlyError(withEnv({ AWS_S3_HEALTHCHECK_KEY: '' })), /^AWS_S3_HEALTHCHECK_KEY: must not be empty/);
  t.regex(onlyError(withEnv({ AWS_S3_HEALTHCHECK_KEY: '/healthcheck.txt' })), /^AWS_S3_HEALTHCHECK_KEY: .*leading "\/"/);
});

test('AWS_S3_RESPONSE_TIMEOUT takes decimal seconds and defaults to 30', (t) => {
  t.is(config(minimalEnv()).s3.upstreamTimeoutMs, 30000);
  t.is(config(withEnv({ AWS_S3_RESPONSE_TIMEOUT: '2.5' })).s3.upstreamTimeoutMs, 2500);
  t.is(config(withEnv({ AWS_S3_RESPONSE_TIMEOUT: '0.001' })).s3.upstreamTimeoutMs, 1);
  t.is(config(withEnv({ AWS_S3_RESPONSE_TIMEOUT: '120' })).s3.upstreamTimeoutMs, 120000);
});

test('REQUEST_HEADERS_TIMEOUT takes decimal seconds and defaults to 10', (t) => {
  t.is(config(minimalEnv()).headersTimeoutMs, 10000);
  t.is(config(withEnv({ REQUEST_HEADERS_TIMEOUT: '1' })).headersTimeoutMs, 1000);
  t.is(config(withEnv({ REQUEST_HEADERS_TIMEOUT: '2.5' })).headersTimeoutMs, 2500);
  t.regex(onlyError(withEnv({ REQUEST_HEADERS_TIMEOUT: '-1' })), /^REQUEST_HEADERS_TIMEOUT: must be a number of seconds/);
  t.regex(onlyError(withEnv({ REQUEST_HEADERS_TIMEOUT: '0' })), /^REQUEST_HEADERS_TIMEOUT: must be at least/);
});

test('CLIENT_IDLE_TIMEOUT takes decimal seconds and defaults to 60', (t) => {
  t.is(config(minimalEnv()).clientIdleTimeoutMs, 60000);
  t.is(config(withEnv({ CLIENT_IDLE_TIMEOUT: '2.5' })).clientIdleTimeoutMs, 2500);
  t.regex(onlyError(withEnv({ CLIENT_IDLE_TIMEOUT: '0' })), /^CLIENT_IDLE_TIMEOUT: must be at least/);
  t.regex(onlyError(withEnv({ CLIENT_IDLE_TIMEOUT: 'never' })), /^CLIENT_IDLE_TIMEOUT: must be a number of seconds/);
});

test('AWS_S3_MAX_CONNECTIONS is a whole number of at least 1 and defaults to 1024', (t) => {
  t.is(config(minimalEnv()).s3.maxConnections, 1024);
  t.is(config(withEnv({ AWS_S3_MAX_CONNECTIONS: '8' })).s3.maxConnections, 8);
  for (const value of ['0', '-1', '1.5', 'many', '100000']) {
    t.regex(onlyError(withEnv({ AWS_S3_MAX_CONNECTIONS: value })), /^AWS_S3_MAX_CONNECTIONS: must be/, value);
  }
});

test('SHUTDOWN_TIMEOUT takes decimal seconds and defaults to 9', (t) => {
  t.is(config(minimalEnv()).shutdownTimeoutMs, 9000);
  t.is(config(withEnv({ SHUTDOWN_TIMEOUT: '0.25' })).shutdownTimeoutMs, 250);
  t.is(config(withEnv({ SHUTDOWN_TIMEOUT: '25' })).shutdownTimeoutMs, 25000);
});

test('timeouts reject zero, negatives, exponents, units, whitespace and values setTimeout cannot hold', (t) => {
  for (const name of ['AWS_S3_RESPONSE_TIMEOUT', 'SHUTDOWN_TIMEOUT', 'REQUEST_HEADERS_TIMEOUT', 'CLIENT_IDLE_TIMEOUT']) {
    for (const value of ['0', '0.0', '0.0001', '-1', '1e3', '30s', ' 30', '30 ', '.5', '5.', '0x1E', 'NaN', '3000000']) {
      const error = onlyError(withEnv({ [name]: value }));
      t.true(error.startsWith(`${name}: `), `${name}=${value}`);
      t.true(error.includes(JSON.stringify(value)), `${name}=${value}: ${error}`);
    }
  }
});

test('LOG_LEVEL accepts the pino levels, case-insensitively, and defaults to info', (t) => {
  t.is(config(minimalEnv()).logLevel, 'info');
  for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) {
    t.is(config(withEnv({ LOG_LEVEL: level })).logLevel, level);
  }
  t.is(config(withEnv({ LOG_LEVEL: 'DEBUG' })).logLevel, 'debug');
  t.is(onlyError(withEnv({ LOG_LEVEL: 'verbose' })), 'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"');
});

test('METRICS_PORT is off when unset or empty', (t) => {
  t.false('metricsPort' in config(minimalEnv()));
  t.false('metricsPort' in config(withEnv({ METRICS_PORT: '' })));
});

test('METRICS_PORT accepts 0 (any free port) to 65535', (t) => {
  t.is(config(withEnv({ METRICS_PORT: '9102' })).metricsPort, 9102);
  t.is(config(withEnv({ METRICS_PORT: '0' })).metricsPort, 0);
  t.is(config(withEnv({ METRICS_PORT: '65535' })).metricsPort, 65535);
  t.is(config(withEnv({ PORT: '0', METRICS_PORT: '0' })).metricsPort, 0, 'two free ports are two different ports');
});

test('METRICS_PORT rejects anything but a strict whole number in range, echoing the bad value', (t) => {
  for (const value of ['65536', '-1', '+9102', '9102.0', ' 9102', 'metrics', '09102']) {
    const error = onlyError(withEnv({ METRICS_PORT: value }));
    t.true(error.startsWith('METRICS_PORT: '), value);
    t.true(error.includes(JSON.stringify(value)), `${value}: ${error}`);
  }
});

test('METRICS_PORT must differ from PORT', (t) => {
  t.is(onlyError(withEnv({ PORT: '8080', METRICS_PORT: '8080' })), 'METRICS_PORT: must differ from PORT, got "8080"');
  t.is(onlyError(withEnv({ PORT: undefined, METRICS_PORT: '8080' })), 'METRICS_PORT: must differ from PORT, got "8080"', 'PORT defaults to 8080');
});

test('an echoed bad value is quoted, shortened and kept on one line', (t) => {
  const error = onlyError(withEnv({ LOG_LEVEL: `${'x'.repeat(100)}\nINJECTED` }));
  t.false(error.includes('\n'));
  t.false(error.includes('INJECTED'));
  t.true(error.length < 150);
});

// --- secrets ---------------------------------------------------------------------

const SECRETS = [CLIENT_SECRET, AWS_SECRET, SESSION_TOKEN, REDIS_PASSWORD];

function assertNoSecrets(t: { false: (v: boolean, m?: string) => void }, list: string[]): void {
  for (const error of list) for (const secret of SECRETS) t.false(error.includes(secret), `${error} contains a secret`);
}

test('a Redis password in VCAP_SERVICES never appears in an error', (t) => {
  const envs: Env[] = [
    { VCAP_SERVICES: `{"redis":[{"credentials":{"uri":"redis://:${REDIS_PASSWORD}@h"}}]` }, // malformed JSON
    { VCAP_SERVICES: vcap(`http://:${REDIS_PASSWORD}@h`) },
    { VCAP_SERVICES: vcap(`${REDIS_PASSWORD}`) },
    { VCAP_SERVICES: vcap(`redis://:${REDIS_PASSWORD}@`) },
    { VCAP_SERVICES: JSON.stringify({ redis: [{ credentials: { password: REDIS_PASSWORD } }] }) },
  ];
  for (const patch of envs) {
    const list = errors(withEnv(patch));
    t.true(list.some((e) => e.startsWith('VCAP_SERVICES: ')));
    assertNoSecrets(t, list);
  }
});

test('a Redis password in REDIS_URL or REDIS_ENDPOINT never appears in an error', (t) => {
  for (const uri of [`http://:${REDIS_PASSWORD}@h`, `redis:${REDIS_PASSWORD}`, `${REDIS_PASSWORD}:6379`, `redis://:${REDIS_PASSWORD}@`]) {
    assertNoSecrets(t, errors(withEnv({ REDIS_URL: uri })));
    assertNoSecrets(t, errors(withEnv({ REDIS_URL: undefined, REDIS_ENDPOINT: uri })));
  }
});

test('passwords inside SSO, OIDC and S3 URLs never appear in an error', (t) => {
  const list = errors({
    SSO_URL: `https://u:${CLIENT_SECRET}@sso.example.com/`,
    SSO_URL_INTERNAL: `https://u:${CLIENT_SECRET}@sso/`,
    SSO_CLIENT_ID: 'id',
    SSO_CLIENT_SECRET: CLIENT_SECRET,
    REDIS_URL: 'redis://h',
    AWS_S3_ENDPOINT: `https://AKIA:${AWS_SECRET}@s3.eu-west-2.amazonaws.com/b/`,
    AWS_S3_REGION: 'eu-west-2',
  });
  t.is(list.length, 3);
  assertNoSecrets(t, list);
  const oidc = errors(withEnv({ OIDC_ISSUER: `https://u:${CLIENT_SECRET}@idp.example.com` }));
  t.is(oidc.length, 1);
  assertNoSecrets(t, oidc);
  const local = errors(
    withEnv({ AWS_S3_ENDPOINT: undefined, AWS_S3_BUCKET: 'b-1', S3_USE_LOCAL: '1', S3_ENDPOINT_URL: `http://u:${AWS_SECRET}@minio/`, AWS_REGION: 'x' }),
  );
  t.is(local.length, 1);
  assertNoSecrets(t, local);
});

test('no error message ever contains a secret value, however broken the rest is', (t) => {
  const broken: Env = {
    PORT: 'x',
    VCAP_SERVICES: `{"redis": "${REDIS_PASSWORD}"`,
    SSO_URL: `${CLIENT_SECRET}`,
    SSO_CLIENT_SECRET: CLIENT_SECRET,
    AWS_SECRET_ACCESS_KEY: AWS_SECRET,
    AWS_SESSION_TOKEN: SESSION_TOKEN,
    AWS_S3_ENDPOINT: `ftp://${AWS_SECRET}/`,
    AWS_S3_REGION: 'BAD',
    LOG_LEVEL: 'x',
  };
  const list = errors(broken);
  t.true(list.length >= 6);
  assertNoSecrets(t, list);
  assertNoSecrets(t, formatConfigErrors(list));
});

// --- formatConfigErrors ------------------------------------------------------------

test('formatConfigErrors prints one prefixed line per problem', (t) => {
  t.deepEqual(formatConfigErrors(['SSO_URL: required when OIDC_ISSUER is not set', 'PORT: must be from 0 to 65535, got "70000"']), [
    'configuration error: SSO_URL: required when OIDC_ISSUER is not set',
    'configuration error: PORT: must be from 0 to 65535, got "70000"',
  ]);
  t.deepEqual(formatConfigErrors([]), []);
});

test('formatConfigErrors escapes line breaks so one problem stays one line', (t) => {
  const [line] = formatConfigErrors(['X: a\nconfiguration error: forged\r']);
  t.is(line, 'configuration error: X: a\\u000aconfiguration error: forged\\u000d');
});

test('every error parseConfig reports formats to exactly one line each', (t) => {
  const list = errors({ PORT: '1\n2', SESSION_COOKIE_NAME: 'a\nb', LOG_LEVEL: 'a\u2028b' });
  const lines = formatConfigErrors(list);
  t.is(lines.length, list.length);
  for (const line of lines) t.false(/[\n\r\u2028\u2029]/.test(line));
});

// --- DOWNLOAD_REDIRECT_* ----------------------------------------------------------

test('download redirects are off unless DOWNLOAD_REDIRECT_MIN_BYTES is set', (t) => {
  t.false('downloadRedirect' in config(minimalEnv()));
  t.false('downloadRedirect' in config(withEnv({ DOWNLOAD_REDIRECT_MIN_BYTES: '' })));
});

test('DOWNLOAD_REDIRECT_MIN_BYTES takes bytes with a unit, DOWNLOAD_REDIRECT_TTL seconds defaulting to 60', (t) => {
  t.deepEqual(config(withEnv({ DOWNLOAD_REDIRECT_MIN_BYTES: '100MiB' })).downloadRedirect, { minBytes: 100 * 1024 * 1024, ttlSeconds: 60 });
  t.deepEqual(config(withEnv({ DOWNLOAD_REDIRECT_MIN_BYTES: '5000000', DOWNLOAD_REDIRECT_TTL: '300' })).downloadRedirect, { minBytes: 5_000_000, ttlSeconds: 300 });
  t.deepEqual(config(withEnv({ DOWNLOAD_REDIRECT_MIN_BYTES: '0' })).downloadRedirect, { minBytes: 0, ttlSeconds: 60 });
});

test('bad DOWNLOAD_REDIRECT_* values stop start-up, each naming its variable', (t) => {
  t.regex(onlyError(withEnv({ DOWNLOAD_REDIRECT_MIN_BYTES: 'large' })), /^DOWNLOAD_REDIRECT_MIN_BYTES: must be a number of bytes.*"large"$/);
  t.regex(onlyError(withEnv({ DOWNLOAD_REDIRECT_MIN_BYTES: '-1' })), /^DOWNLOAD_REDIRECT_MIN_BYTES: /);
  t.regex(onlyError(withEnv({ DOWNLOAD_REDIRECT_MIN_BYTES: '1MB', DOWNLOAD_REDIRECT_TTL: '0' })), /^DOWNLOAD_REDIRECT_TTL: must be from 1 to 604800, got "0"$/);
  t.regex(onlyError(withEnv({ DOWNLOAD_REDIRECT_MIN_BYTES: '1MB', DOWNLOAD_REDIRECT_TTL: '604801' })), /^DOWNLOAD_REDIRECT_TTL: must be from 1 to 604800/);
  t.regex(onlyError(withEnv({ DOWNLOAD_REDIRECT_MIN_BYTES: '1MB', DOWNLOAD_REDIRECT_TTL: '1.5' })), /^DOWNLOAD_REDIRECT_TTL: must be a whole number/);
  t.is(onlyError(withEnv({ DOWNLOAD_REDIRECT_TTL: '60' })), 'DOWNLOAD_REDIRECT_TTL: is set, but redirects are off without DOWNLOAD_REDIRECT_MIN_BYTES');
});
