// DOWNLOAD_REDIRECT_*: the optional offload of large downloads to S3 itself.
// Pure: reads only the `env` it is given, never throws, one error string per
// bad variable, each starting with its name. Off unless
// DOWNLOAD_REDIRECT_MIN_BYTES is set; a TTL without it is an error, since an
// operator who sets one has most likely misspelt the other.

import { get, integer } from './env-values.ts';
import type { Env } from './env-values.ts';
import { MAX_URL_TTL_SECONDS, OBJECT_MAX_BYTES, byteSize } from './upload-settings.ts';

export interface DownloadRedirectSettings {
  /** objects at least this large (and of a type S3 may serve unsandboxed) are redirected */
  minBytes: number;
  /** seconds the presigned GET stays valid */
  ttlSeconds: number;
}

export function downloadRedirectSettings(env: Env): { value?: DownloadRedirectSettings; errors: string[] } {
  if (get(env, 'DOWNLOAD_REDIRECT_MIN_BYTES') === undefined) {
    return get(env, 'DOWNLOAD_REDIRECT_TTL') === undefined
      ? { errors: [] }
      : { errors: ['DOWNLOAD_REDIRECT_TTL: is set, but redirects are off without DOWNLOAD_REDIRECT_MIN_BYTES'] };
  }
  const minBytes = byteSize(env, 'DOWNLOAD_REDIRECT_MIN_BYTES', 0, OBJECT_MAX_BYTES, undefined);
  const ttl = integer(env, 'DOWNLOAD_REDIRECT_TTL', 1, MAX_URL_TTL_SECONDS, 60);
  const errors = [minBytes, ttl].flatMap((r) => (r.ok ? [] : [r.error]));
  if (!minBytes.ok || !ttl.ok || minBytes.value === undefined) return { errors };
  return { errors, value: { minBytes: minBytes.value, ttlSeconds: ttl.value } };
}
