// A request's JSON body, read whole but bounded: a complete request for
// 10,000 parts is about 600 KB, so 1 MiB is room enough and no more.
import type { IncomingMessage } from 'node:http';
import { UploadProblem, badInput } from './upload-problem.ts';

export const MAX_JSON_BODY_BYTES = 1024 * 1024;

export async function readJsonBody(req: IncomingMessage, limit = MAX_JSON_BODY_BYTES): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new UploadProblem(413, 'too_large', `the request body is larger than ${limit} bytes`);
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of req) {
    length += (chunk as Buffer).length;
    if (length > limit) throw new UploadProblem(413, 'too_large', `the request body is larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (length === 0) throw badInput('body', 'must be a JSON object');
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw badInput('body', 'is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badInput('body', 'must be a JSON object');
  return body;
}
