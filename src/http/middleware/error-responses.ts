// Every failure below becomes a short answer: the status, a page or a line
// of text, and the request id; the detail goes to the log only. Headers an
// object response had already set (its type, length, validators) go.
import type { Context, Next } from 'koa';
import type { Logger } from '../../observability/logger.ts';
import { HttpProblem } from '../../shared/http-problem.ts';
import { isNavigation } from '../../shared/client-origin.ts';
import type { RequestState } from '../../shared/request-state.ts';
import { StoreUnavailable } from '../../store/redis-client.ts';
import { htmlProblem, plainTextProblem } from '../problem-pages.ts';

const representationHeaders = ['content-length', 'content-type', 'content-disposition', 'content-encoding', 'etag', 'last-modified', 'content-security-policy'];

export function errorResponses(logger: Logger) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
    } catch (error) {
      const state = ctx.state as RequestState;
      let status = 500;
      let headers: Record<string, string> = {};
      let publicMessage: string | undefined;
      if (error instanceof HttpProblem) {
        ({ status, headers, publicMessage } = error);
        if (status >= 500) logger.error({ requestId: state.requestId, detail: error.message }, 'request failed');
        else logger.debug({ requestId: state.requestId, detail: error.message }, 'request refused');
      } else if (error instanceof StoreUnavailable) {
        status = 503;
        state.storeUnavailable = true;
        logger.error({ requestId: state.requestId }, 'redis unavailable');
      } else {
        logger.error({ requestId: state.requestId, err: error }, 'unexpected error');
      }
      if (status === 499 || ctx.res.headersSent || !ctx.writable) {
        ctx.res.destroy();
        return;
      }
      ctx.status = status;
      for (const header of representationHeaders) {
        if (!(header in headers)) ctx.remove(header);
      }
      ctx.set(headers);
      ctx.set('cache-control', 'no-store');
      if (status === 503 && !('retry-after' in headers)) ctx.set('retry-after', '1');
      const html = isNavigation({ secFetchMode: ctx.get('sec-fetch-mode') || undefined, acceptsHtml: ctx.accepts('html') !== false, authorization: ctx.get('authorization') !== '' });
      ctx.type = html ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8';
      ctx.body = html ? htmlProblem(status, state.requestId, publicMessage) : plainTextProblem(status, state.requestId, publicMessage);
    }
  };
}
