// How many bytes a request to the data path may carry, decided before a
// byte goes to S3 (which needs the Content-Length up front), and where the
// file starts in a form POST. Pure.
//
// - PUT: exactly the declared size. A Content-Length that says otherwise is
//   refused at once; a chunked body is sent on with the declared size and
//   cut off if it runs longer (exact-length.ts).
// - A part: exactly its declared size when one was declared, else a
//   Content-Length (S3 needs one) no larger than one part may be.
// - A form POST (what Uppy sends for small files, as to S3): the file is the
//   form's last part, so its length is the Content-Length less the fields and
//   part headers before it and the closing delimiter after it, and must fall
//   within the bounds a presigned POST's policy would have set.
import type { Capability } from './capability.ts';
import { UploadProblem } from './upload-problem.ts';

/** How the request framed its body: `contentLength` absent means chunked. */
export interface Framing {
  contentLength?: number | undefined;
}

function tooLarge(limit: number): UploadProblem {
  return new UploadProblem(413, 'too_large', `the body is larger than the ${limit} bytes this upload URL allows`);
}

/** The exact length of a PUT or a part, checked against the capability. */
export function lengthToSend(capability: Capability, framing: Framing): number {
  const { contentLength } = framing;
  const exact = capability.size;
  if (exact !== undefined) {
    if (contentLength === undefined || contentLength === exact) return exact;
    if (contentLength > exact) throw tooLarge(exact);
    throw new UploadProblem(400, 'bad_request', `Content-Length: must be the declared size, ${exact} bytes`);
  }
  if (contentLength === undefined) throw new UploadProblem(411, 'bad_request', 'Content-Length: is required (S3 needs to know the size of a part before it starts)');
  const limit = capability.maxBytes ?? 0;
  if (contentLength > limit) throw tooLarge(limit);
  return contentLength;
}

/** The boundary of a multipart/form-data body (RFC 2046: 1 to 70 characters), or 400. */
export function formBoundary(contentType: string | undefined): string {
  const [essence = '', ...parameters] = (contentType ?? '').split(';');
  let boundary: string | undefined;
  if (essence.trim().toLowerCase() === 'multipart/form-data') {
    for (const parameter of parameters) {
      const match = /^\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^\s"]{1,70}))\s*$/i.exec(parameter);
      if (match) boundary = match[1] ?? match[2];
    }
  }
  if (boundary === undefined) throw new UploadProblem(400, 'bad_request', 'Content-Type: must be multipart/form-data with a boundary (a form with a "file" field)');
  return boundary;
}

/** The bytes after the file: the closing delimiter, as browsers, curl and fetch() write it. */
export function formTrailer(boundary: string): Buffer {
  return Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
}

/** At most this much of a form may come before the file (fields and part headers). */
export const MAX_FORM_HEAD_BYTES = 64 * 1024;

export type FilePartSearch =
  | { found: false }
  | { found: true; /** where the file's bytes start */ dataStart: number };

const nameOf = (headers: string): string | undefined => {
  const disposition = headers.split('\r\n').find((line) => /^content-disposition\s*:/i.test(line));
  return disposition ? /;\s*name="([^"]*)"/i.exec(disposition)?.[1] : undefined;
};

/**
 * Finds the part named "file" in the start of a form body. Parts before it
 * (the fields) are skipped. `{found: false}`: more bytes are needed; a form
 * that cannot have a file part is 400.
 */
export function findFilePart(head: Buffer, boundary: string): FilePartSearch {
  const dash = Buffer.from(`--${boundary}`, 'latin1');
  // the first delimiter may follow a preamble; later ones follow CRLF
  let at = head.indexOf(dash);
  if (at === -1) {
    if (head.length >= MAX_FORM_HEAD_BYTES) throw new UploadProblem(400, 'bad_request', 'the body is not the form its Content-Type says');
    return { found: false };
  }
  for (;;) {
    const afterDash = at + dash.length;
    if (head.length < afterDash + 2) return { found: false };
    const next = head.subarray(afterDash, afterDash + 2).toString('latin1');
    if (next === '--') throw new UploadProblem(400, 'bad_request', 'file: the form has no "file" field');
    if (next !== '\r\n') throw new UploadProblem(400, 'bad_request', 'the body is not the form its Content-Type says');
    const headersEnd = head.indexOf('\r\n\r\n', afterDash + 2, 'latin1');
    if (headersEnd === -1) return { found: false };
    const headers = head.subarray(afterDash + 2, headersEnd).toString('latin1');
    const dataStart = headersEnd + 4;
    if (nameOf(headers) === 'file') return { found: true, dataStart };
    const following = head.indexOf(Buffer.concat([Buffer.from('\r\n', 'latin1'), dash]), dataStart);
    if (following === -1) return { found: false };
    at = following + 2;
  }
}

/** The file's length in a form of `contentLength` bytes whose file starts at `dataStart`, within the POST's bounds. */
export function formFileLength(capability: Capability, contentLength: number | undefined, dataStart: number, trailerLength: number): number {
  if (contentLength === undefined) throw new UploadProblem(411, 'bad_request', 'Content-Length: is required');
  const length = contentLength - dataStart - trailerLength;
  if (length < 0) throw new UploadProblem(400, 'bad_request', 'file: must be the last field of the form');
  const min = capability.minBytes ?? 0;
  const max = capability.maxBytes ?? 0;
  if (length > max) throw tooLarge(max);
  if (length < min) throw new UploadProblem(400, 'bad_request', `file: must be ${min === max ? '' : 'at least '}${min} bytes, as declared`);
  return length;
}
