// What an S3 failure means for an upload request. S3's own error document
// never reaches the client: the answer names what went wrong in the
// proxy's words, and S3's code goes to the log.
import { UploadProblem } from './upload-problem.ts';

interface SdkError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

export function s3Status(error: unknown): number | undefined {
  return (error as SdkError | undefined)?.$metadata?.httpStatusCode;
}

export function s3Code(error: unknown): string {
  const e = error as SdkError | undefined;
  return e?.name ?? e?.code ?? 'unknown';
}

/** Whether S3 said the object (HEAD) or the upload is not there. */
export function isNotFound(error: unknown): boolean {
  const code = s3Code(error);
  return s3Status(error) === 404 || code === 'NotFound' || code === 'NoSuchKey' || code === 'NoSuchUpload';
}

const clientMistakes = new Set(['InvalidPart', 'InvalidPartOrder', 'EntityTooSmall', 'MalformedXML']);

/** The UploadProblem for a failed S3 call made with the proxy's own credentials. */
export function s3Problem(error: unknown, operation: string): UploadProblem {
  const status = s3Status(error);
  const code = s3Code(error);
  const detail = `${operation}: S3 ${status ?? 'no answer'} ${code}`;
  if (code === 'NoSuchUpload') return new UploadProblem(404, 'unknown_upload', 'S3 knows no such upload (completed, aborted or expired)', detail);
  if (clientMistakes.has(code)) {
    return new UploadProblem(400, 'bad_request', 'parts: S3 refused them (a part is missing, smaller than 5 MB before the last, or its ETag does not match)', detail);
  }
  // AWS honours If-None-Match on completion: somebody else's object got there first
  if (status === 412 || code === 'PreconditionFailed') return new UploadProblem(409, 'exists', 'an object with this name exists', detail);
  if (code === 'TimeoutError' || code === 'RequestTimeout') return new UploadProblem(504, 's3_error', 'S3 did not answer in time', detail);
  // S3 refusing the proxy's own credentials is the operator's problem, not the client's
  if (status === 401 || status === 403) return new UploadProblem(500, 'internal', 'the upload could not be handled', detail);
  return new UploadProblem(502, 's3_error', 'S3 failed to handle the upload', detail);
}
