// The pages and plain-text bodies of the proxy's own error answers: the
// status line (`403 Forbidden`, as nginx and uktrade's proxy write it, so
// scripts and people who grep for it find it), a friendly title and
// explanation, and the request id; never the detail that was logged.
import { STATUS_CODES } from 'node:http';
import { escapeHtml } from '../shared/html.ts';

const titles: Record<number, string> = {
  400: 'Bad request',
  401: 'Sign-in required',
  403: 'Access denied',
  404: 'Not found',
  405: 'Method not allowed',
  412: 'Precondition failed',
  414: 'URL too long',
  416: 'Range not satisfiable',
  431: 'Request headers too large',
  500: 'Something went wrong',
  502: 'The storage service failed',
  503: 'Temporarily unavailable',
  504: 'The storage service did not answer in time',
};

const explanations: Record<number, string> = {
  401: 'Sign in and try again.',
  403: 'You do not have access to this.',
  404: 'There is nothing at this address.',
  500: 'Please try again in a moment.',
  502: 'Please try again in a moment.',
  503: 'Please try again in a moment.',
  504: 'Please try again in a moment.',
};

export function titleOf(status: number): string {
  return titles[status] ?? 'Error';
}

/** `500 Internal Server Error`: the code and its reason phrase, as node:http knows them. */
export function statusLine(status: number): string {
  const reason = STATUS_CODES[status];
  return reason ? `${status} ${reason}` : String(status);
}

/** The friendly title and explanation, as one or two sentences. */
function sentence(status: number, message: string | undefined): string {
  const explanation = message ?? explanations[status];
  return explanation ? `${titleOf(status)}. ${explanation}` : `${titleOf(status)}.`;
}

export function plainTextProblem(status: number, requestId: string, message?: string): string {
  return [statusLine(status), sentence(status, message), `Request id: ${requestId}`].join('\n') + '\n';
}

export function htmlProblem(status: number, requestId: string, message?: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(statusLine(status))}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#222}small{color:#666}</style>
</head><body>
<h1>${escapeHtml(statusLine(status))}</h1>
<p>${escapeHtml(sentence(status, message))}</p>
<p><small>Request id: ${escapeHtml(requestId)}</small></p>
</body></html>
`;
}
