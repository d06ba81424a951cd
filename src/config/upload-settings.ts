// The UPLOAD_* settings. Pure: reads only the `env` it is given, never
// throws, one error string per bad variable, each starting with its name.
// Uploads are off unless UPLOAD_PREFIX is set; the other UPLOAD_* variables
// without it are an error, because an operator who sets a limit but no
// folder has most likely misspelt the folder's variable.

import { bad, get, integer, ok, show } from './env-values.ts';
import type { Env, Result } from './env-values.ts';

export type OverwriteMode = 'never' | 'rename' | 'allow';

/**
 * Where upload bytes travel: `direct`, from the client to S3 with presigned
 * URLs (the bucket needs CORS for browsers); `proxy`, through the proxy,
 * which streams them to S3 (for buckets browsers cannot reach).
 */
export type DataPath = 'direct' | 'proxy';

/** Who may upload: any entry matching lets the identity in. */
export interface AllowedUsers {
  /** lower-cased addresses */
  emails: string[];
  /** lower-cased domains, without the '@' */
  domains: string[];
  /** group names as the identity provider spells them */
  groups: string[];
}

export interface UploadSettings {
  /** UPLOAD_PREFIX as written: relative to the key prefix, with {user} and {user_hash} placeholders */
  prefixTemplate: string;
  /** the largest object one upload may create */
  maxBytes: number;
  /** lower-cased `type/subtype` or `type/*`; absent: any type */
  allowedTypes?: string[];
  /** seconds a presigned URL or POST policy stays valid */
  urlTtlSeconds: number;
  overwrite: OverwriteMode;
  /** bytes one user may be handed URLs for in any 24 hours; absent: no limit */
  dailyBytes?: number;
  /** absent: every signed-in user */
  allowedUsers?: AllowedUsers;
  dataPath: DataPath;
}

const GiB = 1024 ** 3;
const TiB = 1024 ** 4;
/** S3's limit for one PutObject or POST upload */
export const SINGLE_REQUEST_MAX_BYTES = 5 * GiB;
/** S3's limit for any object (a multipart upload's most) */
export const OBJECT_MAX_BYTES = 5 * TiB;
/** SigV4's limit for a presigned URL */
export const MAX_URL_TTL_SECONDS = 604_800;

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: GiB,
  tib: TiB,
};

/** A byte count: digits with an optional unit (KB, MB, GB, TB decimal; KiB, MiB, GiB, TiB binary). */
export function byteSize(env: Env, name: string, min: number, max: number, fallback: number | undefined): Result<number | undefined> {
  const raw = get(env, name);
  if (raw === undefined) return ok(fallback);
  const match = /^(0|[1-9][0-9]*)\s?([a-z]*)$/i.exec(raw.trim());
  const unit = match ? UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined) {
    return bad(name, `must be a number of bytes, optionally with a unit (KB, MB, GB, TB, KiB, MiB, GiB, TiB), like 100MB, got ${show(raw)}`);
  }
  const bytes = Number(match[1]) * unit;
  if (!Number.isSafeInteger(bytes) || bytes < min || bytes > max) {
    return bad(name, `must be from ${min} to ${max} bytes, got ${show(raw)}`);
  }
  return ok(bytes);
}

// what {user} may contain (see userPrefix in src/uploads/object-name.ts)
const USER_CHARS = /^[a-z0-9._@+-]$/;
const PLACEHOLDER = /\{[^{}]*\}/g;
const KNOWN_PLACEHOLDERS = new Set(['{user}', '{user_hash}']);

function prefixTemplate(raw: string): Result<string> {
  const name = 'UPLOAD_PREFIX';
  if (/[\u0000-\u001f\u007f]/.test(raw)) return bad(name, 'must not contain control characters');
  if (raw.startsWith('/')) return bad(name, `must be relative to the key prefix, without a leading "/", got ${show(raw)}`);
  // the proxy keeps these paths for itself: objects there could not be downloaded
  if (raw.startsWith('__s3proxy/')) return bad(name, `must not start with "__s3proxy/" (the proxy's own paths), got ${show(raw)}`);
  const placeholders = raw.match(PLACEHOLDER) ?? [];
  const unknown = placeholders.find((p) => !KNOWN_PLACEHOLDERS.has(p));
  if (unknown !== undefined) return bad(name, `has an unknown placeholder ${show(unknown)} (only {user} and {user_hash})`);
  if (raw.replace(PLACEHOLDER, '').search(/[{}]/) !== -1) return bad(name, `has an unbalanced "{" or "}", got ${show(raw)}`);
  if (placeholders.length === 0 && !raw.endsWith('/')) {
    return bad(name, `must contain {user} or {user_hash}, or end with "/", got ${show(raw)}`);
  }
  // {user} has no fixed length: unless a character it can never contain
  // follows, one user's folder could be the start of another's
  // ("uploads/{user}": ann@x.org + "b.txt" and ann@x.orgb + ".txt" meet).
  let at = raw.indexOf('{user}');
  while (at !== -1) {
    const rest = raw.slice(at + '{user}'.length).replace(PLACEHOLDER, '');
    if (![...rest].some((c) => !USER_CHARS.test(c))) {
      return bad(name, `needs a "/" (or another character an e-mail address cannot give {user}) after {user}, got ${show(raw)}`);
    }
    at = raw.indexOf('{user}', at + 1);
  }
  return ok(raw);
}

const TOKEN = "[a-z0-9!#$&^_.+-]+";
const MEDIA_RANGE = new RegExp(`^${TOKEN}/(${TOKEN}|\\*)$`);

function allowedTypes(env: Env): Result<string[] | undefined> {
  const name = 'UPLOAD_ALLOWED_TYPES';
  const raw = get(env, name);
  if (raw === undefined) return ok(undefined);
  const entries = raw.split(',').map((entry) => entry.trim().toLowerCase());
  for (const entry of entries) {
    if (entry === '') return bad(name, 'has an empty entry (a stray comma?)');
    if (entry === '*/*' || entry === '*') return bad(name, 'must list media types; unset it to allow any type');
    if (!MEDIA_RANGE.test(entry)) return bad(name, `entries must be media types like image/png or image/*, got ${show(entry)}`);
  }
  return ok(entries);
}

function overwriteMode(env: Env): Result<OverwriteMode> {
  const raw = get(env, 'UPLOAD_OVERWRITE');
  if (raw === undefined) return ok('never');
  const lower = raw.toLowerCase();
  return lower === 'never' || lower === 'rename' || lower === 'allow'
    ? ok(lower)
    : bad('UPLOAD_OVERWRITE', `must be never, rename or allow, got ${show(raw)}`);
}

function dataPath(env: Env): Result<DataPath> {
  const raw = get(env, 'UPLOAD_DATA_PATH');
  if (raw === undefined) return ok('direct');
  const lower = raw.toLowerCase();
  return lower === 'direct' || lower === 'proxy' ? ok(lower) : bad('UPLOAD_DATA_PATH', `must be direct or proxy, got ${show(raw)}`);
}

const DOMAIN = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/;

function allowedUsers(env: Env): Result<AllowedUsers | undefined> {
  const name = 'UPLOAD_ALLOWED_USERS';
  const raw = get(env, name);
  if (raw === undefined) return ok(undefined);
  const users: AllowedUsers = { emails: [], domains: [], groups: [] };
  for (const item of raw.split(',').map((entry) => entry.trim())) {
    if (item === '') return bad(name, 'has an empty entry (a stray comma?)');
    if (item.startsWith('group:')) {
      const group = item.slice('group:'.length);
      if (group === '') return bad(name, 'has "group:" without a group name');
      users.groups.push(group);
    } else if (item.startsWith('@')) {
      const domain = item.slice(1).toLowerCase();
      if (!DOMAIN.test(domain)) return bad(name, `"@" entries must name a domain, like @example.org, got ${show(item)}`);
      users.domains.push(domain);
    } else if (/^[^\s@]+@[^\s@]+$/.test(item)) {
      users.emails.push(item.toLowerCase());
    } else {
      return bad(name, `entries must be e-mail addresses, @domain or group:NAME, got ${show(item)}`);
    }
  }
  return ok(users);
}

const OTHER_UPLOAD_VARIABLES = [
  'UPLOAD_MAX_BYTES',
  'UPLOAD_ALLOWED_TYPES',
  'UPLOAD_URL_TTL',
  'UPLOAD_OVERWRITE',
  'UPLOAD_DAILY_BYTES',
  'UPLOAD_ALLOWED_USERS',
  'UPLOAD_DATA_PATH',
];

/** The upload settings; `value` absent (and no errors) when uploads are off. */
export function uploadSettings(env: Env): { value?: UploadSettings; errors: string[] } {
  const rawPrefix = get(env, 'UPLOAD_PREFIX');
  if (rawPrefix === undefined) {
    const errors = OTHER_UPLOAD_VARIABLES.filter((name) => get(env, name) !== undefined).map(
      (name) => `${name}: is set, but uploads are off without UPLOAD_PREFIX`,
    );
    return { errors };
  }
  const results = {
    prefix: prefixTemplate(rawPrefix),
    maxBytes: byteSize(env, 'UPLOAD_MAX_BYTES', 1, OBJECT_MAX_BYTES, SINGLE_REQUEST_MAX_BYTES),
    types: allowedTypes(env),
    ttl: integer(env, 'UPLOAD_URL_TTL', 1, MAX_URL_TTL_SECONDS, 900),
    overwrite: overwriteMode(env),
    daily: byteSize(env, 'UPLOAD_DAILY_BYTES', 1, Number.MAX_SAFE_INTEGER, undefined),
    users: allowedUsers(env),
    dataPath: dataPath(env),
  };
  const errors = Object.values(results).flatMap((r) => (r.ok ? [] : [r.error]));
  const { prefix, maxBytes, types, ttl, overwrite, daily, users, dataPath: path } = results;
  if (!prefix.ok || !maxBytes.ok || !types.ok || !ttl.ok || !overwrite.ok || !daily.ok || !users.ok || !path.ok || maxBytes.value === undefined) {
    return { errors };
  }
  return {
    errors,
    value: {
      prefixTemplate: prefix.value,
      maxBytes: maxBytes.value,
      ...(types.value === undefined ? {} : { allowedTypes: types.value }),
      urlTtlSeconds: ttl.value,
      overwrite: overwrite.value,
      ...(daily.value === undefined ? {} : { dailyBytes: daily.value }),
      ...(users.value === undefined ? {} : { allowedUsers: users.value }),
      dataPath: path.value,
    },
  };
}
