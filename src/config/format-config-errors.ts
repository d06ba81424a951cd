// Start-up output for a configuration that did not parse: one line per
// problem, e.g. `configuration error: SSO_URL: required when OIDC_ISSUER is not set`.

/** one line per problem; any line break or control character inside a problem is escaped */
export function formatConfigErrors(errors: readonly string[]): string[] {
  return errors.map((error) => `configuration error: ${oneLine(error)}`);
}

function oneLine(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
