// The operator's upload rules as decisions. Pure: who may upload, which
// types and sizes, whether a name is free under the overwrite mode, how much
// of the daily volume a URL costs, and whether a finished multipart upload
// is what was declared.
import type { AllowedUsers, OverwriteMode, UploadSettings } from '../config/upload-settings.ts';
import { OBJECT_MAX_BYTES, SINGLE_REQUEST_MAX_BYTES } from '../config/upload-settings.ts';
import type { Identity } from '../shared/identity.ts';
import { UploadProblem } from './upload-problem.ts';

/** Whether UPLOAD_ALLOWED_USERS lets this identity upload (no list: everyone signed in). */
export function mayUpload(identity: Identity, allowed: AllowedUsers | undefined): boolean {
  if (allowed === undefined) return true;
  const email = identity.email.toLowerCase();
  if (email !== '' && allowed.emails.includes(email)) return true;
  const at = email.lastIndexOf('@');
  if (at > 0 && allowed.domains.includes(email.slice(at + 1))) return true;
  return (identity.groups ?? []).some((group) => allowed.groups.includes(group));
}

/** Whether a media type's essence (`type/subtype`, lower-cased) is on the list (no list: any). */
export function typeAllowed(essence: string, allowed: string[] | undefined): boolean {
  if (allowed === undefined) return true;
  const major = essence.slice(0, essence.indexOf('/'));
  return allowed.some((entry) => entry === essence || entry === `${major}/*`);
}

export type UploadKind = 'put' | 'post' | 'multipart';

/** The most one upload of this kind may be: the operator's limit, and S3's for one request. */
export function sizeLimit(kind: UploadKind, settings: Pick<UploadSettings, 'maxBytes'>): number {
  return Math.min(settings.maxBytes, kind === 'multipart' ? OBJECT_MAX_BYTES : SINGLE_REQUEST_MAX_BYTES);
}

/** Throws 413 when a declared size is over the limit for its kind. */
export function checkDeclaredSize(kind: UploadKind, size: number | undefined, settings: Pick<UploadSettings, 'maxBytes'>): void {
  if (size === undefined) return;
  const limit = sizeLimit(kind, settings);
  if (size <= limit) return;
  const multipartWouldDo = kind !== 'multipart' && size <= settings.maxBytes;
  throw new UploadProblem(
    413,
    'too_large',
    multipartWouldDo
      ? `size: one request uploads at most ${limit} bytes; use a multipart upload`
      : `size: uploads are limited to ${limit} bytes`,
  );
}

/** Who holds a claim on a name (an upload in progress there). */
export type ClaimHolder = 'nobody' | 'self' | 'other';

/**
 * Whether a candidate key may be used: 'use', 'next' (rename: try the next
 * number) or 'conflict' (never: 409). In `never` mode the caller's own claim
 * does not block, so that a client can ask again for a URL it lost; S3's
 * If-None-Match still lets only one of them create the object. In `rename`
 * mode every claim blocks, so that two files of one name in one batch get
 * two names.
 */
export function keyVerdict(mode: OverwriteMode, exists: boolean, claim: ClaimHolder): 'use' | 'next' | 'conflict' {
  switch (mode) {
    case 'allow':
      return 'use';
    case 'never':
      return exists || claim === 'other' ? 'conflict' : 'use';
    case 'rename':
      return exists || claim !== 'nobody' ? 'next' : 'use';
  }
}

/** How many numbered names `rename` tries before giving up with 409. */
export const RENAME_ATTEMPTS = 100;

/**
 * The bounds of a POST policy and what it costs of the daily volume. With a
 * declared size, exactly that size, at that cost. Without one, anything up
 * to the limit; when a daily volume is set the upper bound is also what is
 * left of it, and the whole bound is charged, because S3 is what enforces
 * it and nobody learns the real size afterwards.
 */
export function postPolicyBounds(
  declared: number | undefined,
  limit: number,
  remaining: number | undefined,
): { min: number; max: number; charge: number } {
  if (declared !== undefined) return { min: declared, max: declared, charge: declared };
  const max = remaining === undefined ? limit : Math.min(limit, remaining);
  return { min: 0, max, charge: remaining === undefined ? 0 : max };
}

function overVolume(dailyBytes: number, detail: string): UploadProblem {
  return new UploadProblem(413, 'over_daily_volume', `this upload would exceed the ${dailyBytes} bytes one user may upload in 24 hours`, detail);
}

/** Throws 413 when `charge` more bytes do not fit in the daily volume (no volume set: anything fits). */
export function checkVolume(used: number, charge: number, dailyBytes: number | undefined): void {
  if (dailyBytes === undefined || used + charge <= dailyBytes) return;
  throw overVolume(dailyBytes, `used ${used} of ${dailyBytes}, asked ${charge}`);
}

/** Throws 413 when nothing is left of the daily volume: an upload of undeclared size needs some room. */
export function checkRoomLeft(used: number, dailyBytes: number | undefined): void {
  if (dailyBytes === undefined || used < dailyBytes) return;
  throw overVolume(dailyBytes, `used ${used} of ${dailyBytes}, size undeclared`);
}

/**
 * Checks the parts a complete request names (sizes from ListParts) against
 * the declared size and the limit, before S3 joins them.
 */
export function checkPartsTotal(total: number, declared: number | undefined, limit: number): void {
  if (total > limit) {
    throw new UploadProblem(422, 'size_mismatch', `the parts add up to more than the ${limit} bytes allowed`, `parts total ${total}`);
  }
  if (declared !== undefined && total !== declared) {
    throw new UploadProblem(422, 'size_mismatch', 'the parts do not add up to the declared size', `parts total ${total}, declared ${declared}`);
  }
}

/** Whether the object S3 made is the size the parts promised (and within the limit). */
export function completedSizeOk(objectSize: number | undefined, expected: number, limit: number): boolean {
  return objectSize !== undefined && objectSize === expected && objectSize <= limit;
}

/** The bucket key of an upload must stay downloadable and must not become the unauthenticated healthcheck object. */
export function checkServableKey(key: string, healthcheckKey: string | undefined): void {
  if (key.startsWith('__s3proxy/')) throw new UploadProblem(400, 'bad_request', 'filename: this folder is reserved');
  if (healthcheckKey !== undefined && key === healthcheckKey) {
    throw new UploadProblem(403, 'not_allowed', 'this name is reserved', 'upload to the healthcheck key');
  }
}
