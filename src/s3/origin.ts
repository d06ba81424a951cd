// The S3 server as seen by the proxy: signed requests over one keep-alive
// pool, with bodies handed back as streams and never buffered.
import { Pool, errors as undiciErrors } from 'undici';
import type { Readable } from 'node:stream';
import type { SignRequest } from './signer.ts';

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
    const search = query ? '?' + new URLSearchParams(query).toString().replace(/\+/g, '%20') : '';
    // undici's headersTimeout starts only once a connection is free, and a
    // queued request's abort signal is only looked at then, so a request
    // behind a full pool would wait for ever: it gets the same time limit
    // here, and a 503 (not a 504) when it runs out. Its abort makes undici
    // drop it as soon as it would be dispatched.
    const queueTimer = this.#saturated() ? new AbortController() : undefined;
    const signals = [signal, queueTimer?.signal].filter((s): s is AbortSignal => s !== undefined);
    const pending = this.#pool.request({
      method,
      path: path + search,
      headers: signedHeaders,
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

function failureOf(error: unknown): OriginFailure {
  if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.ConnectTimeoutError) return 'timeout';
  if (error instanceof undiciErrors.RequestAbortedError || (error as { name?: string })?.name === 'AbortError') return 'aborted';
  return 'unreachable';
}
