// The S3 settings: where the bucket is (through s3-endpoint.ts), its region,
// optional static credentials, and the healthcheck key.

import type { BucketLocation, StaticCredentials } from './config.ts';
import { bad, get, ok, show } from './env-values.ts';
import type { Env, Result } from './env-values.ts';
import { bucketLocationFromParts, parseS3Endpoint } from './s3-endpoint.ts';

export function credentials(env: Env): Result<StaticCredentials | undefined> {
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
export function s3Location(env: Env): { location?: BucketLocation; region?: string; errors: string[] } {
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

export function healthcheckKey(env: Env): Result<string | undefined> {
  const raw = env['AWS_S3_HEALTHCHECK_KEY'];
  if (raw === undefined) return ok(undefined);
  if (raw === '') return bad('AWS_S3_HEALTHCHECK_KEY', 'must not be empty when set (unset it to serve nothing without sign-in)');
  if (raw.startsWith('/')) {
    return bad('AWS_S3_HEALTHCHECK_KEY', `must be a key relative to the bucket prefix, without a leading "/", got ${show(raw)}`);
  }
  return ok(raw);
}
