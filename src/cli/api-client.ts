// The proxy's JSON routes, as the command-line client calls them: a fresh
// bearer token on every request, and every refusal turned into one line
// with the proxy's own message (`{"error":{"code","message"}}`).
import { CliError } from './cli-error.ts';
import type { TokenSource } from './tokens.ts';

export class ApiError extends CliError {
  readonly status: number;
  readonly code: string | undefined;
  constructor(status: number, code: string | undefined, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** One line for a refused request: the JSON error's message, else the first line of the body. */
export async function refusal(response: Response, what: string): Promise<ApiError> {
  const text = await response.text().catch(() => '');
  let code: string | undefined;
  let message: string | undefined;
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.message === 'string') message = body.error.message;
    if (typeof body.error?.code === 'string') code = body.error.code;
  } catch {
    // not JSON: the proxy's plain-text error answer starts with its status line
  }
  message ??= text.split('\n').find((line) => line.trim() !== '')?.trim().slice(0, 200) ?? '';
  const hint =
    response.status === 401
      ? ' (the proxy did not accept the token: check --user and --private-key, that the operator has your _public.pem, and that API_AUDIENCE is the --audience)'
      : '';
  return new ApiError(response.status, code, `${what}: ${response.status}${code ? ` ${code}` : ''}: ${message}${hint}`);
}

export class ApiClient {
  readonly base: URL;
  readonly #tokens: TokenSource;

  constructor(base: URL, tokens: TokenSource) {
    this.base = base;
    this.#tokens = tokens;
  }

  async authorization(): Promise<string> {
    return `Bearer ${await this.#tokens.token()}`;
  }

  url(path: string, query: Record<string, string> = {}): URL {
    const url = new URL(path, this.base);
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
    return url;
  }

  async json<T>(method: 'GET' | 'POST' | 'DELETE', path: string, options: { query?: Record<string, string>; body?: unknown; what: string }): Promise<T> {
    let response: Response;
    try {
      response = await fetch(this.url(path, options.query), {
        method,
        headers: {
          authorization: await this.authorization(),
          accept: 'application/json',
          ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        redirect: 'manual',
      });
    } catch (error) {
      throw new CliError(`${options.what}: cannot reach ${this.base.origin}: ${causeOf(error)}`);
    }
    if (!response.ok) throw await refusal(response, options.what);
    try {
      return (await response.json()) as T;
    } catch {
      throw new CliError(`${options.what}: the answer is not JSON (is ${this.base.origin} an s3proxy?)`);
    }
  }
}

export function causeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (error as Error)?.message ?? String(error);
}
