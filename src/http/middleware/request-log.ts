// A request id and one log line (and the metrics) per request, written when
// the response closes, whichever way it ends.
import type { Context, Next } from 'koa';
import type { Logger } from '../../observability/logger.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { observeRequest } from '../../observability/request-metrics.ts';
import type { RequestState } from '../../shared/request-state.ts';
import { requestIdFrom } from '../request-id.ts';

export function requestLog(logger: Logger, metrics: Metrics | undefined) {
  return async (ctx: Context, next: Next) => {
    const requestId = requestIdFrom(ctx.req.headers['x-request-id']);
    const state: RequestState = { requestId, startedAt: process.hrtime.bigint(), bytesSent: 0, route: 'other' };
    ctx.state = state;
    ctx.set('x-request-id', requestId);
    metrics?.httpInFlight.inc();
    ctx.res.once('close', () => {
      const durationMs = Number(process.hrtime.bigint() - state.startedAt) / 1e6;
      // A response torn down before its headers went out was never answered:
      // 499 (nginx's "client closed request"), not Koa's placeholder 404.
      const status = ctx.res.headersSent ? ctx.res.statusCode : 499;
      const completed = ctx.res.writableFinished;
      logger.info(
        {
          requestId,
          method: ctx.method,
          path: ctx.path,
          route: state.route,
          status,
          key: state.s3Key,
          user: state.user?.email,
          bytesSent: state.bytesSent,
          durationMs: Math.round(durationMs * 10) / 10,
          completed,
          s3Status: state.s3?.status,
          s3Code: state.s3?.code ?? state.s3?.failure,
          s3LatencyMs: state.s3?.latencyMs === undefined ? undefined : Math.round(state.s3.latencyMs * 10) / 10,
        },
        'request',
      );
      if (metrics) {
        metrics.httpInFlight.dec();
        observeRequest(metrics, { method: ctx.method, status, completed, durationSeconds: durationMs / 1000, state });
      }
    });
    await next();
  };
}
