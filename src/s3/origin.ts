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

export type OriginFailure = 'timeout' | 'unreachable' | 'aborted';

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

export class S3Origin {
  readonly origin: URL;
  readonly #pool: Pool;
  readonly #sign: SignRequest;

  constructor(options: OriginOptions) {
    this.origin = new URL(options.origin);
    this.#sign = options.sign;
    this.#pool = new Pool(this.origin.origin, {
      // A download holds its connection for as long as the client reads, so
      // a cap here would queue the next viewer behind the slowest ones.
      connections: options.connections ?? null,
      pipelining: 1,
      keepAliveTimeout: 30_000,
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
    try {
      const response = await this.#pool.request({
        method,
        path: path + search,
        headers: signedHeaders,
        signal,
      });
      return { status: response.statusCode, headers: response.headers, body: response.body as OriginResponse['body'] };
    } catch (error) {
      throw new OriginUnavailable(failureOf(error), error);
    }
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
