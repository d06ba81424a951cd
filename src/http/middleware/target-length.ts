// Node only caps the request line together with the headers (431); a long
// request-target on its own gets the status that names it.
import type { Context, Next } from 'koa';
import { HttpProblem } from '../../shared/http-problem.ts';

const maxTargetLength = 8 * 1024;

export function targetLength() {
  return async (ctx: Context, next: Next) => {
    if ((ctx.req.url ?? '').length > maxTargetLength) throw new HttpProblem(414, 'request-target longer than 8 KiB');
    return next();
  };
}
