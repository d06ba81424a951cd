// A small application/x-www-form-urlencoded body, read to a bound: the
// proxy has no general body parser, and a POST it does not expect must not
// be able to make it buffer without limit.
import type { Context } from 'koa';
import { HttpProblem } from '../shared/http-problem.ts';

/** undefined when the body is not form-encoded; 413 past `limitBytes`. */
export async function readForm(ctx: Context, limitBytes: number): Promise<URLSearchParams | undefined> {
  if (!ctx.is('application/x-www-form-urlencoded')) return undefined;
  const declared = Number(ctx.get('content-length') || '0');
  if (declared > limitBytes) throw new HttpProblem(413, `form body of ${declared} bytes`);
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > limitBytes) throw new HttpProblem(413, `form body over ${limitBytes} bytes`);
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
