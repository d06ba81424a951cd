// The upload routes under /__s3proxy: Companion's S3 routes, exactly, so
// that @uppy/aws-s3 with `companionEndpoint: <origin>/__s3proxy` works
// unchanged, plus POST /__s3proxy/uploads (a presigned PUT, for scripts)
// and GET /__s3proxy/uploads (the caller's multipart uploads in progress).
// With UPLOAD_DATA_PATH=proxy the URLs they hand out point at the proxy's
// data path, /__s3proxy/data/<capability>, which is routed here too.
//
// Handlers are thin: who is calling, the same-origin rule for cookies,
// fields read from the query or the JSON body, one call, JSON out. Every
// answer is JSON, errors too ({"error": {"code", "message"}}): nothing a
// failure throws, not Redis being down and not S3's error documents, gets
// past handle() in another shape.
import Router from '@koa/router';
import type { Context } from 'koa';
import { identify, type IdentifyDeps } from '../auth/identify.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { S3Origin } from '../s3/origin.ts';
import { HttpProblem } from '../shared/http-problem.ts';
import { proxyOrigin } from '../shared/proxy-origin.ts';
import { worthDraining } from '../shared/refused-body.ts';
import type { RequestState } from '../shared/request-state.ts';
import { fromSameOrigin } from '../shared/same-origin.ts';
import { StoreUnavailable } from '../store/redis-client.ts';
import { capabilityKey } from './capability.ts';
import { checkOwner, openOrRefuse, receive } from './data-path.ts';
import { readJsonBody } from './json-body.ts';
import { abortMultipart, completeMultipart, createMultipart, listParts, ownedUpload, signParts, uploadsInProgress } from './multipart.ts';
import { presignedPostFor, presignedPutFor } from './single-uploads.ts';
import { dataPathPrefix, directUrls, proxyUrls, type UploadUrls } from './upload-urls.ts';
import { UploadEvents, type UploadFacts } from './upload-events.ts';
import * as field from './upload-input.ts';
import type { UploadKind } from './upload-policy.ts';
import { UploadProblem, type UploadErrorCode } from './upload-problem.ts';
import { admit, type UploadDeps, type Uploader } from './upload-service.ts';

export const uploadBasePath = '/__s3proxy';

export interface UploadRoutesDeps extends IdentifyDeps {
  logger: Logger;
  metrics?: Metrics | undefined;
  uploads: UploadDeps;
  /** streams the bytes to S3 with UPLOAD_DATA_PATH=proxy */
  origin?: S3Origin | undefined;
}

interface Call {
  ctx: Context;
  uploader: Uploader;
  facts: UploadFacts;
  query: URLSearchParams;
  /** where this caller is sent with the bytes */
  urls: UploadUrls;
}

const codeForStatus: Record<number, UploadErrorCode> = {
  400: 'bad_request',
  401: 'unauthenticated',
  403: 'not_allowed',
  404: 'unknown_upload',
  409: 'exists',
  413: 'too_large',
  503: 'unavailable',
};

const messageForStatus: Record<number, string> = {
  400: 'bad request',
  401: 'sign in, or send an Authorization: Bearer token',
  403: 'not allowed',
  503: 'the proxy cannot reach its session store; try again in a moment',
};

/** The path of `key` as the proxy serves it: each segment percent-encoded once. */
function pathForKey(key: string): string {
  return '/' + key.split('/').map(encodeURIComponent).join('/');
}

export function uploadRoutes(deps: UploadRoutesDeps): Router {
  const { logger, uploads } = deps;
  const events = new UploadEvents(logger, deps.metrics);
  const router = new Router({ prefix: uploadBasePath });
  const direct = directUrls(uploads.s3, uploads.location.bucket);
  // the same secret as the sealed sign-in state: every instance opens what another sealed
  const proxied = uploads.settings.dataPath === 'proxy' ? capabilityKey(deps.config.session.secret ?? deps.config.sso.clientSecret) : undefined;
  const urlsFor = (ctx: Context): UploadUrls => (proxied ? proxyUrls(proxied, proxyOrigin(ctx.req, deps.config.publicUrl)) : direct);

  function asProblem(error: unknown, state: RequestState): { problem: UploadProblem; headers: Record<string, string> } {
    if (error instanceof UploadProblem) return { problem: error, headers: {} };
    if (error instanceof HttpProblem) {
      const status = error.status;
      const code = codeForStatus[status] ?? (status >= 500 ? 'internal' : 'bad_request');
      const message = error.publicMessage ?? messageForStatus[status] ?? (status >= 500 ? 'the request could not be handled' : 'refused');
      return { problem: new UploadProblem(status, code, message, error.message), headers: error.headers };
    }
    if (error instanceof StoreUnavailable) {
      state.storeUnavailable = true;
      return { problem: new UploadProblem(503, 'unavailable', messageForStatus[503]!, 'redis unavailable'), headers: { 'retry-after': '1' } };
    }
    logger.error({ requestId: state.requestId, err: error }, 'unexpected error in an upload route');
    return { problem: new UploadProblem(500, 'internal', 'the request could not be handled'), headers: {} };
  }

  /** The error answer and the event's outcome for whatever a handler threw. */
  function fail(ctx: Context, facts: UploadFacts, error: unknown): void {
    const { problem, headers } = asProblem(error, ctx.state as RequestState);
    facts.outcome = problem.status >= 500 ? 'failed' : 'refused';
    facts.status = problem.status;
    facts.reason = problem.detail === undefined ? problem.message : `${problem.message} (${problem.detail})`;
    ctx.status = problem.status;
    ctx.set(headers);
    ctx.body = { error: { code: problem.code, message: problem.message } };
  }

  /**
   * Wraps a handler: identifies the caller, holds cookie callers of
   * state-changing requests to the proxy's own origin, and turns whatever
   * happens into JSON and one upload event.
   */
  function handle(kind: UploadKind, sameOriginOnly: boolean, run: (call: Call) => Promise<unknown>) {
    return async (ctx: Context): Promise<void> => {
      const state = ctx.state as RequestState;
      state.route = 'upload';
      const facts: UploadFacts = { requestId: state.requestId, kind };
      ctx.set('cache-control', 'no-store');
      try {
        const caller = await identify(ctx, deps);
        if (!caller) throw new UploadProblem(401, 'unauthenticated', messageForStatus[401]!);
        state.user = caller.identity;
        facts.user = caller.identity.email || caller.identity.id;
        if (sameOriginOnly && caller.via === 'session' && !fromSameOrigin(ctx.req.headers, proxyOrigin(ctx.req, deps.config.publicUrl))) {
          throw new UploadProblem(403, 'cross_site', 'cookie-authenticated uploads must come from this site', `sec-fetch-site ${ctx.get('sec-fetch-site') || '-'}, origin ${ctx.get('origin') || '-'}`);
        }
        const uploader = admit(uploads, caller.identity, facts);
        const body = await run({ ctx, uploader, facts, query: new URLSearchParams(ctx.querystring), urls: urlsFor(ctx) });
        ctx.status = 200;
        ctx.body = body;
      } catch (error) {
        fail(ctx, facts, error);
        // Node reads and drops a short rest left unread (refused before it was read)
        if (ctx.method === 'POST' && !ctx.req.readableEnded && !worthDraining(ctx.req)) ctx.set('connection', 'close');
      } finally {
        if (facts.key !== undefined) state.s3Key = facts.key;
        events.record(facts);
      }
    };
  }

  const singleInput = (raw: { filename: unknown; type: unknown; size: unknown; md5?: unknown; metadata: unknown }) => ({
    name: field.fileName(raw.filename),
    type: field.mediaType(raw.type),
    size: field.size(raw.size),
    md5: field.md5(raw.md5),
    metadata: field.metadata(raw.metadata),
  });

  const describe = (facts: UploadFacts, input: { type: { value: string }; size?: number | undefined }) => {
    facts.type = input.type.value;
    if (input.size !== undefined) facts.size = input.size;
  };

  /** The caller's upload named by the path and `key`: the owner check, before anything else. */
  const owned = (call: Call) => ownedUpload(uploads, call.uploader, field.uploadId(call.ctx.params.uploadId), field.keyParameter(call.query.get('key')), call.facts);

  // Companion: a POST policy for one file. A GET that hands out a URL and
  // spends daily volume: cookie callers are held to the same origin here too.
  router.get(
    '/s3/params',
    handle('post', true, async ({ uploader, facts, query, urls }) => {
      const input = singleInput({
        filename: query.get('filename'),
        type: query.get('type'),
        size: query.get('size') ?? undefined,
        metadata: field.metadataFromQuery(query),
      });
      describe(facts, input);
      return presignedPostFor(uploads, urls, uploader, input, facts);
    }),
  );

  router.post(
    '/uploads',
    handle('put', true, async ({ ctx, uploader, facts, urls }) => {
      const raw = (await readJsonBody(ctx.req)) as Record<string, unknown>;
      const input = singleInput({ filename: raw.filename, type: raw.type, size: raw.size, md5: raw.md5, metadata: raw.metadata });
      describe(facts, input);
      return presignedPutFor(uploads, urls, uploader, input, facts);
    }),
  );

  router.get(
    '/uploads',
    handle('multipart', false, async ({ uploader }) => ({ uploads: await uploadsInProgress(uploads, uploader) })),
  );

  router.post(
    '/s3/multipart',
    handle('multipart', true, async ({ ctx, uploader, facts }) => {
      const raw = (await readJsonBody(ctx.req)) as Record<string, unknown>;
      const input = {
        name: field.fileName(raw.filename),
        type: field.mediaType(raw.type),
        size: field.size(raw.size),
        metadata: field.metadata(raw.metadata),
      };
      describe(facts, input);
      return createMultipart(uploads, uploader, input, facts);
    }),
  );

  // before /:partNumber, which would take "batch" for a part number
  router.get(
    '/s3/multipart/:uploadId/batch',
    handle('multipart', false, async (call) => {
      const record = await owned(call);
      const signed = await signParts(uploads, call.urls, record, field.partNumbers(call.query.get('partNumbers')));
      return { presignedUrls: Object.fromEntries([...signed].map(([n, part]) => [n, part.url])) };
    }),
  );

  router.get(
    '/s3/multipart/:uploadId/:partNumber',
    handle('multipart', false, async (call) => {
      const record = await owned(call);
      const partNumber = field.partNumber(call.ctx.params.partNumber);
      const md5 = field.md5(call.query.get('md5'));
      const size = field.size(call.query.get('size'));
      const part = (await signParts(uploads, call.urls, record, [partNumber], { md5, size })).get(partNumber)!;
      return {
        url: part.url,
        expires: uploads.settings.urlTtlSeconds,
        ...(Object.keys(part.headers).length === 0 ? {} : { headers: part.headers }),
      };
    }),
  );

  router.get(
    '/s3/multipart/:uploadId',
    handle('multipart', false, async (call) => listParts(uploads, await owned(call))),
  );

  router.post(
    '/s3/multipart/:uploadId/complete',
    handle('multipart', true, async (call) => {
      const record = await owned(call);
      const parts = field.completedParts(await readJsonBody(call.ctx.req));
      const done = await completeMultipart(uploads, record, parts, call.facts);
      return { location: proxyOrigin(call.ctx.req, deps.config.publicUrl) + pathForKey(done.key), key: done.key };
    }),
  );

  router.delete(
    '/s3/multipart/:uploadId',
    handle('multipart', true, async (call) => {
      await abortMultipart(uploads, await owned(call), call.facts);
      return {};
    }),
  );

  // The data path: each request's body streamed to S3 (data-path.ts). No
  // same-origin rule: the capability, which no other site can know, is the
  // credential, as a presigned URL's signature is.
  const origin = deps.origin;
  if (proxied && origin) {
    const dataPath = { uploads, origin, key: proxied };
    router.all([`${dataPathPrefix.slice(uploadBasePath.length)}:capability`, `${dataPathPrefix.slice(uploadBasePath.length)}:capability/`], async (ctx) => {
      const state = ctx.state as RequestState;
      state.route = 'upload-data';
      const token = ctx.params.capability;
      // the capability is a credential for UPLOAD_URL_TTL: kept out of the log line
      ctx.path = `${dataPathPrefix}…`;
      const facts: UploadFacts = { requestId: state.requestId, kind: 'put' };
      ctx.set('cache-control', 'no-store');
      let receiving = false;
      try {
        const capability = await openOrRefuse(proxied, token, facts);
        const caller = await identify(ctx, deps);
        checkOwner(capability, caller);
        if (caller) state.user = caller.identity;
        receiving = true;
        const received = await receive(ctx, dataPath, capability, facts);
        ctx.status = received.status;
        if (received.etag !== undefined) ctx.set('etag', received.etag);
        ctx.body = received.body;
      } catch (error) {
        fail(ctx, facts, error);
        // refused before anything was read, Node reads and drops a short rest
        // (receive() decides for itself once it has begun)
        if (!receiving && !ctx.req.complete && !worthDraining(ctx.req)) ctx.set('connection', 'close');
      } finally {
        if (facts.key !== undefined) state.s3Key = facts.key;
        events.record(facts);
      }
    });
  }

  return router;
}
