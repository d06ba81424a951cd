// UPLOAD_DATA_PATH=proxy: the proxy receives the bytes of a PUT, a part or
// a form POST at /__s3proxy/data/<capability> and streams them to S3
// (PutObject or UploadPart, signed with the proxy's own credentials) as
// they arrive: one chunk at a time, read from the client only as fast as S3
// takes them (backpressure end to end), nothing kept in memory or on disk.
//
// - The capability (capability.ts) is what a presigned URL's signature is:
//   it alone lets its bearer send these bytes until it expires. A caller
//   who also shows a session cookie or a bearer token must be its owner.
// - S3 is told the Content-Length first, so the size is checked before
//   anything is sent (body-rules.ts) and again as the bytes flow
//   (exact-length.ts): a body that runs longer or ends short never makes an
//   object or a part.
// - S3 is sent what the capability binds (Content-Type, Content-MD5,
//   If-None-Match, metadata), so that S3 enforces them as it would for a
//   presigned URL; and its ETag is relayed.
// - A client that goes away mid-body aborts the request to S3 (S3 keeps
//   nothing of it); S3 failing mid-body is a JSON 502 or 504, and the same
//   URL can be used again.
import { Readable } from 'node:stream';
import type { Context } from 'koa';
import type { Caller } from '../auth/identify.ts';
import { HttpProblem } from '../shared/http-problem.ts';
import { worthDraining } from '../shared/refused-body.ts';
import { readBounded } from '../s3/bounded-body.ts';
import { errorCodeFromBody } from '../s3/s3-errors.ts';
import { OriginUnavailable, type OriginResponse, type S3Origin } from '../s3/origin.ts';
import { objectTarget } from '../s3/s3-target.ts';
import { formBoundary, formFileLength, findFilePart, formTrailer, lengthToSend, MAX_FORM_HEAD_BYTES } from './body-rules.ts';
import { openCapability, type OpenedCapability } from './capability.ts';
import { BodyRefused, ExactLength } from './exact-length.ts';
import { s3Problem } from './s3-failures.ts';
import type { UploadFacts } from './upload-events.ts';
import * as field from './upload-input.ts';
import { UploadProblem } from './upload-problem.ts';
import type { UploadDeps } from './upload-service.ts';

export interface DataPathDeps {
  uploads: UploadDeps;
  origin: S3Origin;
  /** capabilityKey() of the shared secret */
  key: Uint8Array;
}

export interface Received {
  status: number;
  etag: string | undefined;
  body: Record<string, unknown>;
}

/** The capability in the path, or 403: forged, made with another secret, expired or malformed. */
export async function openOrRefuse(key: Uint8Array, token: string | undefined, facts: UploadFacts): Promise<OpenedCapability> {
  const capability = token === undefined ? undefined : await openCapability(key, token);
  if (!capability) {
    throw new UploadProblem(403, 'not_allowed', 'this upload URL is not valid or has expired; ask for a new one', 'capability refused');
  }
  facts.kind = capability.kind === 'part' ? 'multipart' : capability.kind;
  facts.user = capability.owner;
  facts.key = capability.key;
  if (capability.uploadId !== undefined) facts.uploadId = capability.uploadId;
  if (capability.type !== undefined) facts.type = capability.type;
  if (capability.size !== undefined) facts.size = capability.size;
  return capability;
}

/** Whoever else the request proves it is (a cookie, a bearer token) must be the capability's owner. */
export function checkOwner(capability: OpenedCapability, caller: Caller | undefined): void {
  if (caller === undefined) return;
  const who = caller.identity.email.toLowerCase();
  if (who !== capability.owner) {
    throw new UploadProblem(403, 'not_owner', 'this upload URL was handed to somebody else', `signed in as ${who || caller.identity.id}, URL of ${capability.owner}`);
  }
}

/** The client went away before its body was all there. */
class ClientGone extends Error {}

function contentLengthOf(ctx: Context): number | undefined {
  // Node has checked the header's syntax, and refuses it next to Transfer-Encoding
  const raw = ctx.req.headers['content-length'];
  return raw === undefined ? undefined : Number(raw);
}

/** What S3 is sent besides the bytes: what the capability binds. */
function s3Headers(ctx: Context, capability: OpenedCapability): Record<string, string> {
  const headers: Record<string, string> = {};
  if (capability.type !== undefined) headers['content-type'] = capability.type;
  // an MD5 the capability does not bind is the client's own check: S3 makes it too
  const md5 = capability.md5 ?? field.md5(ctx.get('content-md5') || undefined);
  if (md5 !== undefined) headers['content-md5'] = md5;
  if (capability.ifNoneMatch) headers['if-none-match'] = '*';
  for (const [name, value] of Object.entries(capability.metadata ?? {})) headers[`x-amz-meta-${name}`] = value;
  return headers;
}

/**
 * Reads a request's body chunk by chunk into `meter`, honouring its
 * backpressure, without ever destroying the request: when the upload ends
 * early (refused, or S3 failed), the rest of the body is read and dropped,
 * so that the client, once it has sent it, reads the answer.
 */
class Pump {
  readonly #ctx: Context;
  readonly #source: AsyncIterator<Buffer>;
  #stopped = false;
  gone = false;
  /** bytes of the body read so far */
  received = 0;

  constructor(ctx: Context) {
    this.#ctx = ctx;
    this.#source = ctx.req.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer>;
    ctx.req.once('close', () => {
      if (!ctx.req.complete) this.gone = true;
    });
  }

  /** The next chunk of the body, or undefined at its end. */
  async next(): Promise<Buffer | undefined> {
    try {
      const { value, done } = await this.#source.next();
      if (done) return undefined;
      this.received += value.length;
      return value;
    } catch (error) {
      this.gone = true;
      throw new ClientGone('the client went away', { cause: error });
    }
  }

  /** Copies the rest of the body (after `first`) into `meter`, then ends it; a failure destroys it. */
  async into(meter: ExactLength, first?: Buffer): Promise<void> {
    const write = async (chunk: Buffer) => {
      if (meter.write(chunk) || meter.destroyed) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          meter.off('drain', done);
          meter.off('close', done);
          resolve();
        };
        meter.on('drain', done);
        meter.on('close', done);
      });
    };
    try {
      if (first && first.length > 0) await write(first);
      for (;;) {
        if (this.#stopped || meter.destroyed) return;
        const chunk = await this.next();
        if (chunk === undefined) break;
        if (this.#stopped || meter.destroyed) return;
        await write(chunk);
      }
      meter.end();
    } catch (error) {
      meter.destroy(error as Error);
    }
  }

  /**
   * No more of the body is wanted: once the copying has stopped (it may be
   * waiting for the client's next chunk), what is left is read and dropped.
   */
  release(copying: Promise<void>): void {
    this.#stopped = true;
    void copying.then(async () => {
      await this.#source.return?.();
      const { req } = this.#ctx;
      // after the iterator's own listeners are gone, or resume() would not take
      setImmediate(() => {
        if (!req.complete && !req.destroyed) req.resume();
      });
    });
  }
}

/** Reads a form up to its file's first byte: where the file starts, and what of it has come already. */
async function readFormHead(pump: Pump, boundary: string): Promise<{ dataStart: number; rest: Buffer }> {
  let head = Buffer.alloc(0);
  for (;;) {
    const chunk = await pump.next();
    if (chunk === undefined) throw new UploadProblem(400, 'bad_request', 'file: the form ended before its "file" field');
    head = Buffer.concat([head, chunk]);
    const search = findFilePart(head, boundary);
    if (search.found) return { dataStart: search.dataStart, rest: head.subarray(search.dataStart) };
    if (head.length > MAX_FORM_HEAD_BYTES) throw new UploadProblem(400, 'bad_request', `the form's fields before the file are larger than ${MAX_FORM_HEAD_BYTES} bytes`);
  }
}

function bodyProblem(error: BodyRefused): UploadProblem {
  if (error.fault === 'too_long') return new UploadProblem(413, 'too_large', 'the body is longer than this upload URL allows; nothing was stored', error.message);
  return new UploadProblem(400, 'bad_request', error.fault === 'too_short' ? 'the body ended before its declared size; nothing was stored' : `${error.message}; nothing was stored`, error.message);
}

function originProblem(error: OriginUnavailable): Error {
  if (error.failure === 'saturated') {
    return new HttpProblem(503, 'S3 connections all busy', { 'retry-after': '1' }, 'the proxy has no free connection to S3; try again in a moment');
  }
  if (error.failure === 'timeout') return new UploadProblem(504, 's3_error', 'S3 did not take the bytes in time; nothing was stored, send them again', `S3 ${error.failure}`);
  return new UploadProblem(502, 's3_error', 'the connection to S3 failed during the upload; nothing was stored, send them again', `S3 ${error.failure}`);
}

/** S3's refusal in the proxy's words (its error document stays in the log). */
async function refusal(response: OriginResponse, operation: string): Promise<UploadProblem> {
  const code = errorCodeFromBody(await readBounded(response.body)) ?? 'unknown';
  if (code === 'BadDigest' || code === 'InvalidDigest') {
    return new UploadProblem(400, 'bad_request', 'md5: the bytes S3 received do not match it; nothing was stored', `${operation}: S3 ${response.status} ${code}`);
  }
  if (code === 'EntityTooLarge' || response.status === 413) return new UploadProblem(413, 'too_large', 'S3 refused the body as too large', `${operation}: S3 ${response.status} ${code}`);
  return s3Problem({ name: code, $metadata: { httpStatusCode: response.status } }, operation);
}

/** Streams the request's body to S3 as the capability says; what to answer. */
export async function receive(ctx: Context, deps: DataPathDeps, capability: OpenedCapability, facts: UploadFacts): Promise<Received> {
  const wantMethod = capability.kind === 'post' ? 'POST' : 'PUT';
  if (ctx.method !== wantMethod) throw new HttpProblem(405, `${capability.kind} URL used with ${ctx.method}`, { allow: wantMethod }, `this upload URL takes ${wantMethod}`);
  const { location } = deps.uploads;
  const contentLength = contentLengthOf(ctx);
  const pump = new Pump(ctx);
  let headers: Record<string, string>;
  let length: number;
  let trailer: Buffer | undefined;
  let delimiter: Buffer | undefined;
  let first: Buffer | undefined;
  try {
    headers = s3Headers(ctx, capability);
    if (capability.kind === 'post') {
      const boundary = formBoundary(ctx.get('content-type'));
      if (contentLength === undefined) throw new UploadProblem(411, 'bad_request', 'Content-Length: is required');
      trailer = formTrailer(boundary);
      delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
      const head = await readFormHead(pump, boundary);
      length = formFileLength(capability, contentLength, head.dataStart, trailer.length);
      first = head.rest;
    } else {
      length = lengthToSend(capability, { contentLength });
    }
  } catch (error) {
    // refused before a byte went to S3
    if (!ctx.req.complete) {
      if (worthDraining(ctx.req, pump.received)) pump.release(Promise.resolve());
      else ctx.set('connection', 'close');
    }
    throw error;
  }
  const meter = new ExactLength(length, trailer, delimiter);
  // its failures reach whoever reads it (the request to S3), even one before the reading starts
  meter.on('error', () => undefined);
  const target = objectTarget(location, capability.key);
  const query = capability.kind === 'part' ? { partNumber: String(capability.partNumber), uploadId: capability.uploadId! } : undefined;
  const operation = capability.kind === 'part' ? `UploadPart ${capability.partNumber}` : 'PutObject';
  const abort = new AbortController();
  const onClose = () => {
    if (!ctx.req.complete) abort.abort(new ClientGone('the client went away'));
  };
  ctx.req.once('close', onClose);
  const pumping = pump.into(meter, first);
  let response: OriginResponse;
  try {
    // Nothing to stream: the whole (empty) body is checked before S3 makes the object.
    let body: Readable = meter;
    if (length === 0) {
      for await (const chunk of meter) void chunk;
      body = Readable.from([]);
    }
    response = await deps.origin.send({ method: 'PUT', path: target.path, query, headers, contentLength: length, body, signal: abort.signal });
  } catch (error) {
    if (pump.gone || error instanceof ClientGone) throw new UploadProblem(400, 'bad_request', 'the client went away before the body was sent; nothing was stored', 'client gone mid-body');
    if (error instanceof BodyRefused) throw bodyProblem(error);
    if (error instanceof UploadProblem || error instanceof HttpProblem) throw error;
    if (error instanceof OriginUnavailable) throw originProblem(error);
    throw error;
  } finally {
    ctx.req.off('close', onClose);
    if (!meter.destroyed && !meter.writableFinished) meter.destroy();
    pump.release(pumping);
  }
  if (response.status < 200 || response.status > 299) throw await refusal(response, operation);
  await response.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
  const raw = response.headers.etag;
  const etag = Array.isArray(raw) ? raw[0] : raw;
  if (capability.kind === 'part') return { status: 200, etag, body: { partNumber: capability.partNumber, etag: etag ?? null } };
  // (its bytes were counted when its URL was handed out)
  facts.outcome = 'completed';
  return { status: capability.kind === 'post' ? 201 : 200, etag, body: { key: capability.key, etag: etag ?? null } };
}
