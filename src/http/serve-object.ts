// GET and HEAD of one object: a signed request to S3, whose body is relayed
// into the client's socket (s3/relay-handler.ts), so a slow client slows S3,
// a client that leaves ends the upstream request, and an upstream that fails
// mid-body destroys the client's connection (a broken transfer, never a short
// body that looks complete).
import type { Context } from 'koa';
import type { BucketLocation } from '../config/config.ts';
import type { Logger } from '../observability/logger.ts';
import { OriginUnavailable, type S3Origin } from '../s3/origin.ts';
import { objectTarget } from '../s3/s3-target.ts';
import { pickRequestHeaders, pickResponseHeaders } from '../s3/forwarded-headers.ts';
import { classifyS3Response, errorCodeFromBody } from '../s3/s3-errors.ts';
import { errorBodyLimit } from '../s3/bounded-body.ts';
import { HttpProblem } from '../shared/http-problem.ts';
import { ifRangeHolds } from './if-range.ts';
import { objectHeaders } from './object-headers.ts';
import type { RequestState } from '../shared/request-state.ts';
import type { SdkAccess } from '../s3/sdk-access.ts';
import type { DownloadRedirectSettings } from '../config/download-settings.ts';
import { redirectHeaders } from './download-redirect.ts';

export interface ServeObjectDeps {
  origin: S3Origin;
  location: BucketLocation;
  logger: Logger;
  /** DOWNLOAD_REDIRECT_*: large objects are answered with a 307 to a presigned GET */
  redirect?: DownloadRedirectSettings & { s3: SdkAccess };
}

/** `signedIn`: false only for the healthcheck key, served without sign-in. */
export async function serveObject(ctx: Context, key: string, deps: ServeObjectDeps, signedIn: boolean): Promise<void> {
  const state = ctx.state as RequestState;
  const method = ctx.method === 'HEAD' ? 'HEAD' : 'GET';
  const target = objectTarget(deps.location, key);
  state.s3Key = target.fullKey;

  // Until the body is relayed, a client that leaves must cancel the S3 request itself.
  const abort = new AbortController();
  const onClose = () => abort.abort();
  ctx.res.once('close', onClose);
  let upstream: Opened;
  const forwarded = pickRequestHeaders(ctx.req.headers);
  const sentAt = process.hrtime.bigint();
  try {
    upstream = await deps.origin.open(method, target.path, forwarded, abort.signal);
    const ifRange = forwarded['if-range'];
    if (upstream.status === 206 && ifRange !== undefined && !ifRangeHolds(ifRange, text(upstream, 'etag'), text(upstream, 'last-modified'))) {
      // The object changed since the client's copy: it gets the whole new one.
      upstream.body.discard();
      const { range: _range, 'if-range': _ifRange, ...rest } = forwarded;
      upstream = await deps.origin.open(method, target.path, rest, abort.signal);
    }
  } catch (error) {
    if (error instanceof OriginUnavailable) state.s3 = { method, failure: error.failure };
    throw originProblem(error);
  } finally {
    ctx.res.off('close', onClose);
  }
  state.s3 = { method, status: upstream.status, latencyMs: Number(process.hrtime.bigint() - sentAt) / 1e6 };

  const code = upstream.status >= 400 && method === 'GET' ? errorCodeFromBody(await upstream.body.text(errorBodyLimit)) : undefined;
  if (code !== undefined) state.s3.code = code;
  const outcome = classifyS3Response(upstream.status, code);
  if (outcome.kind === 'error') {
    if (method === 'HEAD') await upstream.body.drain(errorBodyLimit);
    const log = { requestId: state.requestId, s3Status: upstream.status, s3Code: code, key: target.fullKey };
    if (outcome.logAs === 'error') deps.logger.error(log, outcome.reason);
    throw new HttpProblem(outcome.status, outcome.reason);
  }

  // Known only now, from S3's answer to the GET itself: small objects cost no
  // extra round trip, large ones one GET that is dropped (its connection too).
  if (method === 'GET' && signedIn && deps.redirect && (upstream.status === 200 || upstream.status === 206)) {
    const headers = redirectHeaders({ key, querystring: ctx.querystring, status: upstream.status, headers: upstream.headers, minBytes: deps.redirect.minBytes });
    if (headers !== undefined) {
      upstream.body.discard();
      let url: string;
      try {
        // the presigner (and the SDK) are loaded by the first redirect
        const [{ presignDownload }, s3] = await Promise.all([import('../s3/presigned-download.ts'), deps.redirect.s3.client()]);
        url = await presignDownload(s3, { bucket: deps.location.bucket, fullKey: target.fullKey, ttlSeconds: deps.redirect.ttlSeconds, ...headers });
      } catch (error) {
        throw originProblem(error);
      }
      // The URL is a bearer capability: no cache may keep the answer that carries it.
      ctx.status = 307;
      ctx.set({ location: url, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
      ctx.body = '';
      return;
    }
  }

  ctx.status = upstream.status;
  ctx.set(pickResponseHeaders(upstream.headers));
  ctx.set(
    objectHeaders({
      key,
      querystring: ctx.querystring,
      cacheControl: ctx.response.get('cache-control') || undefined,
      notModified: upstream.status === 304,
      signedIn,
    }),
  );

  if (upstream.status === 200 || upstream.status === 206) {
    if (method === 'HEAD') {
      await upstream.body.drain(errorBodyLimit);
      return;
    }
    if (!ctx.response.get('content-type')) ctx.type = 'application/octet-stream';
    // The body goes from S3's socket to the client's, chunk by chunk, S3
    // paused while the client's socket is full. Koa steps aside: an S3 that
    // fails mid-body must break the client's connection (never a short body
    // that looks complete), and a client that leaves ends the S3 request.
    ctx.respond = false;
    void upstream.body.relayTo(ctx.res, state).then((end) => {
      // A client that left (or was dropped as idle) is not S3 failing.
      if (end.ok || end.cause === 'client') return;
      const error = end.error as (Error & { code?: string }) | undefined;
      deps.logger.warn({ requestId: state.requestId, key: target.fullKey, cause: error?.code ?? error?.name }, 'S3 failed mid-body');
    });
    return;
  }

  // 304, 412, 416: S3's own body, if any, is an XML error document that stays here.
  await upstream.body.drain(errorBodyLimit);
  ctx.remove('content-length');
  ctx.remove('content-type');
  // Some S3 servers leave out what HTTP requires here: the size on a 416,
  // the validators on a 304. One HEAD, on these rare answers only, fills it in.
  const needsSize = upstream.status === 416 && !ctx.response.get('content-range');
  const needsValidators = upstream.status === 304 && !ctx.response.get('etag');
  if (needsSize || needsValidators) {
    const head = await headOf(deps.origin, target.path);
    if (needsSize && head?.size !== undefined) ctx.set('content-range', `bytes */${head.size}`);
    if (needsValidators && head?.etag) ctx.set('etag', head.etag);
    if (needsValidators && head?.lastModified && !ctx.response.get('last-modified')) ctx.set('last-modified', head.lastModified);
  }
  if (upstream.status === 304) {
    ctx.body = null;
  } else {
    throw new HttpProblem(upstream.status, `S3 answered ${upstream.status}`, headersOf(ctx));
  }
}

type Opened = Awaited<ReturnType<S3Origin['open']>>;

function text(response: Opened, name: string): string | undefined {
  const value = response.headers[name];
  return typeof value === 'string' ? value : undefined;
}

function headersOf(ctx: Context): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of ['content-range', 'etag', 'last-modified', 'accept-ranges']) {
    const value = ctx.response.get(name);
    if (value) kept[name] = value;
  }
  return kept;
}

async function headOf(origin: S3Origin, path: string): Promise<{ size?: number; etag?: string; lastModified?: string } | undefined> {
  try {
    const head = await origin.request('HEAD', path, {});
    await head.body.dump();
    if (head.status !== 200) return undefined;
    const length = Number(head.headers['content-length']);
    const text = (name: string) => (typeof head.headers[name] === 'string' ? (head.headers[name] as string) : undefined);
    return {
      ...(Number.isSafeInteger(length) ? { size: length } : {}),
      ...(text('etag') ? { etag: text('etag') } : {}),
      ...(text('last-modified') ? { lastModified: text('last-modified') } : {}),
    };
  } catch {
    return undefined;
  }
}

function originProblem(error: unknown): HttpProblem {
  if (error instanceof OriginUnavailable) {
    if (error.failure === 'timeout') return new HttpProblem(504, 'S3 did not answer in time');
    if (error.failure === 'saturated') return new HttpProblem(503, 'every connection to S3 stayed busy', { 'retry-after': '5' });
    if (error.failure === 'aborted') return new HttpProblem(499, 'the client went away before S3 answered');
    return new HttpProblem(502, `S3 could not be reached: ${(error.cause as Error)?.message ?? 'unknown'}`);
  }
  return new HttpProblem(500, `signing failed: ${(error as Error)?.message ?? 'unknown'}`);
}
