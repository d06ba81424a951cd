// A refusal or failure of an upload request, as data: the status, a stable
// code a client can act on, and a message for people. Pure. The message
// names what was wrong but never repeats what the client sent, and never
// carries what S3 said; `detail` is for the log only.

export type UploadErrorCode =
  | 'bad_request'
  | 'unauthenticated'
  | 'cross_site'
  | 'not_allowed'
  | 'not_owner'
  | 'unknown_upload'
  | 'exists'
  | 'too_large'
  | 'over_daily_volume'
  | 'size_mismatch'
  | 'unavailable'
  | 's3_error'
  | 'internal';

export class UploadProblem extends Error {
  readonly status: number;
  readonly code: UploadErrorCode;
  /** for the log: may name users, keys and S3's codes, never secrets */
  readonly detail: string | undefined;
  constructor(status: number, code: UploadErrorCode, message: string, detail?: string) {
    super(message);
    this.name = 'UploadProblem';
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

/** 400 naming the field: `badInput('size', 'must be a whole number of bytes')`. */
export function badInput(field: string, problem: string): UploadProblem {
  return new UploadProblem(400, 'bad_request', `${field}: ${problem}`);
}
