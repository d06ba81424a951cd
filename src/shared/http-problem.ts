// The one error type the proxy answers on purpose. Anything below the edge
// may throw it; only the edge turns it into a response. It carries the
// public status and a detail for the log only; clients see a short generic
// text and the request id.

export class HttpProblem extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** shown to the user in place of the generic explanation; never echoes input */
  readonly publicMessage: string | undefined;
  constructor(status: number, detail: string, headers: Record<string, string> = {}, publicMessage?: string) {
    super(detail);
    this.name = 'HttpProblem';
    this.status = status;
    this.headers = headers;
    this.publicMessage = publicMessage;
  }
}
