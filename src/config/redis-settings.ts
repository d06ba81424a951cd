// Where Redis is and how to sign in to it: VCAP_SERVICES, REDIS_URL or
// REDIS_ENDPOINT for a single server, or Sentinel / Cluster node lists.
// URIs are never repeated in a message: they usually hold a password.

import type { RedisAuth, RedisConnection, RedisNode } from './config.ts';
import { bad, errorsOf, flag, get, ok, required } from './env-values.ts';
import type { Env, Result } from './env-values.ts';

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
export function redisConnection(env: Env): { value?: RedisConnection; errors: string[] } {
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

export function redisKeyPrefix(env: Env): Result<string> {
  return ok(get(env, 'REDIS_KEY_PREFIX') ?? 's3proxy:');
}
