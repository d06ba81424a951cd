// Bearer tokens for API clients: where the users' public keys are
// (API_PUBLIC_KEYS_DIR) and the audience their tokens must name
// (API_AUDIENCE). Pure; whether the directory exists is checked at start-up
// by main.ts, which may touch the file system.

import type { ApiSettings } from './config.ts';
import { bad, get, ok, show } from './env-values.ts';
import type { Env, Result } from './env-values.ts';

/** absent value: neither variable is set, and no token of an API key is accepted */
export function apiSettings(env: Env): { value?: ApiSettings; errors: string[] } {
  const dirRaw = get(env, 'API_PUBLIC_KEYS_DIR');
  const audienceRaw = get(env, 'API_AUDIENCE');
  const dir = dirRaw === undefined ? ok(undefined) : keysDir(dirRaw);
  // Without an audience, a token minted for another service by the same key
  // would be good here too.
  const audience =
    audienceRaw !== undefined
      ? audienceValue(audienceRaw)
      : dirRaw !== undefined
        ? bad<string | undefined>('API_AUDIENCE', 'required when API_PUBLIC_KEYS_DIR is set (the aud that API clients put in their tokens, e.g. the proxy\'s URL)')
        : ok(undefined);
  const errors = [dir, audience].flatMap((r) => (r.ok ? [] : [r.error]));
  if (errors.length > 0 || !dir.ok || !audience.ok) return { errors };
  if (dir.value === undefined && audience.value === undefined) return { errors: [] };
  return {
    value: {
      ...(dir.value === undefined ? {} : { publicKeysDir: dir.value }),
      ...(audience.value === undefined ? {} : { audience: audience.value }),
    },
    errors: [],
  };
}

function keysDir(raw: string): Result<string | undefined> {
  if (/[\u0000-\u001f\u007f]/.test(raw)) return bad('API_PUBLIC_KEYS_DIR', 'must not contain control characters');
  return ok(raw);
}

function audienceValue(raw: string): Result<string | undefined> {
  if (/[\s\u0000-\u001f\u007f]/.test(raw)) return bad('API_AUDIENCE', `must not contain whitespace or control characters, got ${show(raw)}`);
  return ok(raw);
}
