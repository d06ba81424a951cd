// What an S3 answer means for the client. Pure: status and error code in,
// the proxy's own status out, so no S3 error body ever reaches a client.

export type Outcome =
  /** pass S3's status and representation headers through */
  | { kind: 'pass' }
  | { kind: 'error'; status: 400 | 403 | 404 | 500 | 502; logAs: 'info' | 'error'; reason: string };

/** S3 codes that mean the proxy's own credentials or signing are wrong. */
const credentialCodes = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'AuthorizationHeaderMalformed',
  'InvalidSecurity',
  'AccountProblem',
  'RequestTimeTooSkewed',
]);

const passedStatuses = new Set([200, 206, 304, 412, 416]);

/** The code says the proxy's own credentials or signing are wrong. */
export function isCredentialError(code: string | undefined): boolean {
  return code !== undefined && credentialCodes.has(code);
}

export function classifyS3Response(status: number, code: string | undefined): Outcome {
  if (passedStatuses.has(status)) return { kind: 'pass' };
  if (code !== undefined && credentialCodes.has(code)) {
    return { kind: 'error', status: 500, logAs: 'error', reason: `S3 refused the proxy's credentials: ${code}` };
  }
  if (status === 404) return { kind: 'error', status: 404, logAs: 'info', reason: code ?? 'NotFound' };
  if (status === 403) return { kind: 'error', status: 403, logAs: 'info', reason: code ?? 'Forbidden' };
  if (status >= 500) return { kind: 'error', status: 502, logAs: 'error', reason: `S3 answered ${status} ${code ?? ''}`.trim() };
  if (status === 400) return { kind: 'error', status: 400, logAs: 'info', reason: code ?? 'BadRequest' };
  return { kind: 'error', status: 502, logAs: 'error', reason: `unexpected S3 status ${status} ${code ?? ''}`.trim() };
}

/** The `<Code>` of an S3 error document; S3 error bodies are small and flat. */
export function errorCodeFromBody(body: string): string | undefined {
  const match = /<Code>([A-Za-z0-9.]{1,64})<\/Code>/.exec(body);
  return match?.[1];
}
