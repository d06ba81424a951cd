// The S3 server as seen by the proxy: signed requests over one keep-alive
// pool, with bodies handed back as streams and never buffered, and (for
// uploads through the proxy) request bodies streamed to S3 the same way.
import { Pool, errors as undiciErrors } from 'undici';
import type { Readable } from 'node:stream';
import type { SignRequest } from './signer.ts';
import { RelayHandler, type RelayHead } from './relay-handler.ts';

export interface OriginResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** a Node stream with backpressure: reading slowly slows S3 down */
  body: Readable & { text(): Promise<string>; dump(opts?: { limit: number }): Promise<void> };
}

/** `saturated`: every connection to S3 stayed busy for the whole response timeout */
export type OriginFailure = 'timeout' | 'unreachable' | 'aborted' | 'saturated';

/** Thrown when S3 did not answer with headers; the status says which way. */
export class OriginUnavailable extends Error {
  readonly failure: OriginFailure;
  constructor(failure: OriginFailure, cause: unknown) {
    super(`S3 request failed: ${failure}`, { cause });
    this.name = 'OriginUnavailable';
    this.failure = failure;
  }
}

export interface OriginOptions {
  origin: string;
  sign: SignRequest;
  /** how long to wait for response headers */
  headersTimeoutMs: number;
  /** how long a body may stay silent while the client is reading */
  bodyTimeoutMs?: number;
  /** at most this many connections to S3; unlimited by default */
  connections?: number | null;
}

class QueuedTooLong extends Error {}
class Stalled extends Error {}

/** A request whose body is streamed to S3 as it arrives (PutObject, UploadPart). */
export interface StreamedRequest {
  method: 'PUT';
  /** already encoded; signed and sent exactly as it is */
  path: string;
  query?: Record<string, string>;
  /** signed and sent as they are (content-length is added) */
  headers: Record<string, string>;
  /** sent as Content-Length: S3 keeps nothing unless exactly this many bytes arrive */
  contentLength: number;
  /** read only as fast as S3 takes it in: backpressure from S3 to the client */
  body: Readable;
  /** aborting it aborts the request, so that S3 keeps nothing */
  signal?: AbortSignal;
}

export class S3Origin {
  readonly origin: URL;
  readonly #pool: Pool;
  readonly #sign: SignRequest;
  readonly #connections: number | null;
  readonly #headersTimeoutMs: number;

  constructor(options: OriginOptions) {
    this.origin = new URL(options.origin);
    this.#sign = options.sign;
    this.#connections = options.connections ?? null;
    this.#headersTimeoutMs = options.headersTimeoutMs;
    this.#pool = new Pool(this.origin.origin, {
      // A download holds its connection for as long as the client reads: the
      // cap protects S3 and the proxy's sockets, and stalled readers are
      // dropped by the server's idle timeout so that the queue moves.
      connections: this.#connections,
      pipelining: 1,
      // An aborted download makes undici open a fresh connection that then
      // sits idle: this bounds how long those (and any idle one) stay open,
      // and stays below the idle timeouts S3 servers close connections at.
      keepAliveTimeout: 10_000,
      headersTimeout: options.headersTimeoutMs,
      bodyTimeout: options.bodyTimeoutMs ?? Math.max(60_000, options.headersTimeoutMs),
    });
  }

  async request(
    method: 'GET' | 'HEAD',
    path: string,
    headers: Record<string, string>,
    signal?: AbortSignal,
    query?: Record<string, string>,
  ): Promise<OriginResponse> {
    const signedHeaders = await this.#sign({ method, origin: this.origin, path, headers, query });
    return this.#dispatch({ method, path: path + searchOf(query), headers: signedHeaders }, signal);
  }

  /**
   * A GET or HEAD whose body is relayed rather than read: the answer's head,
   * and a handler that writes the body into the client's socket (or reads
   * its start, or drops it). See relay-handler.ts.
   */
  async open(
    method: 'GET' | 'HEAD',
    path: string,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<RelayHead & { body: RelayHandler }> {
    const signedHeaders = await this.#sign({ method, origin: this.origin, path, headers });
    let handler!: RelayHandler;
    const head = new Promise<RelayHead>((resolve, reject) => {
      handler = new RelayHandler(resolve, reject);
    });
    const onAbort = () => handler.abort(new OriginUnavailable('aborted', signal?.reason));
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    // As in #dispatch: a request behind a full pool gets the response timeout, then a 503.
    const queueTimer = this.#saturated()
      ? setTimeout(() => handler.abort(new OriginUnavailable('saturated', new QueuedTooLong())), this.#headersTimeoutMs)
      : undefined;
    this.#pool.dispatch({ method, path, headers: signedHeaders }, handler);
    try {
      return { ...(await head), body: handler };
    } catch (error) {
      throw error instanceof OriginUnavailable ? error : new OriginUnavailable(failureOf(error), error);
    } finally {
      clearTimeout(queueTimer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Sends a streamed body, signed with UNSIGNED-PAYLOAD (the bytes are not
   * read ahead to hash them). The response timeout cannot run from the
   * start, as it does for downloads: S3 answers only after the last byte,
   * and a client may take an hour to send a part. Instead S3 fails the
   * request with a 'timeout' when it leaves bytes that are ready untaken,
   * or does not answer after the last one, for the response timeout. A
   * failing body (the client went away, or sent too much) aborts the
   * request and is thrown as it is.
   */
  async send(request: StreamedRequest): Promise<OriginResponse> {
    const headers = { ...request.headers, 'content-length': String(request.contentLength) };
    const signedHeaders = await this.#sign({ method: request.method, origin: this.origin, path: request.path, headers, query: request.query });
    const stall = new AbortController();
    const limitMs = this.#headersTimeoutMs;
    // since when S3 has left a chunk untaken, or has not answered the last byte
    let waitingSince: number | undefined;
    let bodyFailure: unknown;
    const watchdog = setInterval(
      () => {
        if (waitingSince !== undefined && Date.now() - waitingSince > limitMs) stall.abort(new Stalled());
      },
      Math.max(50, Math.min(1000, limitMs / 4)),
    );
    async function* body(): AsyncGenerator<Buffer> {
      try {
        for await (const chunk of request.body) {
          waitingSince = Date.now();
          yield chunk as Buffer;
          waitingSince = undefined;
        }
      } catch (error) {
        bodyFailure = error;
        throw error;
      }
      waitingSince = Date.now();
    }
    const signals = [request.signal, stall.signal].filter((s): s is AbortSignal => s !== undefined);
    try {
      return await this.#dispatch(
        // undici takes an async iterable as a body (its types do not say so) and
        // asks it for the next chunk only once the last one is on the wire
        { method: request.method, path: request.path + searchOf(request.query), headers: signedHeaders, body: body() as unknown as Readable, headersTimeout: 0 },
        AbortSignal.any(signals),
      );
    } catch (error) {
      if (bodyFailure !== undefined) throw bodyFailure;
      if (stall.signal.aborted) throw new OriginUnavailable('timeout', error);
      throw error;
    } finally {
      clearInterval(watchdog);
      // S3 failed before the body was all sent: nothing reads it any more
      if (!request.body.destroyed && !request.body.readableEnded) request.body.destroy();
    }
  }

  async #dispatch(
    options: { method: 'GET' | 'HEAD' | 'PUT'; path: string; headers: Record<string, string>; body?: Readable; headersTimeout?: number },
    signal: AbortSignal | undefined,
  ): Promise<OriginResponse> {
    // undici's headersTimeout starts only once a connection is free, and a
    // queued request's abort signal is only looked at then, so a request
    // behind a full pool would wait for ever: it gets the same time limit
    // here, and a 503 (not a 504) when it runs out. Its abort makes undici
    // drop it as soon as it would be dispatched.
    const queueTimer = this.#saturated() ? new AbortController() : undefined;
    const signals = [signal, queueTimer?.signal].filter((s): s is AbortSignal => s !== undefined);
    const pending = this.#pool.request({
      ...options,
      signal: signals.length > 1 ? AbortSignal.any(signals) : signals[0],
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      const response = queueTimer
        ? await Promise.race([
            pending,
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => {
                queueTimer.abort(new QueuedTooLong());
                reject(new QueuedTooLong());
              }, this.#headersTimeoutMs);
            }),
          ])
        : await pending;
      return { status: response.statusCode, headers: response.headers, body: response.body as OriginResponse['body'] };
    } catch (error) {
      if (error instanceof QueuedTooLong) {
        // An answer that still arrives has nobody to read it.
        pending.then((late) => late.body.destroy(), () => undefined);
        throw new OriginUnavailable('saturated', error);
      }
      throw new OriginUnavailable(failureOf(error), error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** every allowed connection is open and busy: a new request would queue */
  #saturated(): boolean {
    if (this.#connections === null) return false;
    const stats = this.#pool.stats;
    return stats.connected >= this.#connections && stats.free === 0;
  }

  /** connections open to S3 now, for tests and metrics */
  get openConnections(): number {
    return this.#pool.stats.connected;
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }
}

function searchOf(query: Record<string, string> | undefined): string {
  return query ? '?' + new URLSearchParams(query).toString().replace(/\+/g, '%20') : '';
}

function failureOf(error: unknown): OriginFailure {
  if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.ConnectTimeoutError) return 'timeout';
  if (error instanceof undiciErrors.RequestAbortedError || (error as { name?: string })?.name === 'AbortError') return 'aborted';
  return 'unreachable';
}
