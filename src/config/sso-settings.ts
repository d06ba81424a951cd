// How to reach the sign-in server: OIDC_ISSUER (discovery), or SSO_URL and
// SSO_URL_INTERNAL (oauth2 endpoints), plus the client id and secret.

import type { SsoSettings } from './config.ts';
import { baseUrl, errorsOf, get, httpUrl, required } from './env-values.ts';
import type { Env } from './env-values.ts';

export function ssoSettings(env: Env): { value?: SsoSettings; errors: string[] } {
  const clientId = required(env, 'SSO_CLIENT_ID');
  const clientSecret = required(env, 'SSO_CLIENT_SECRET');

  const issuerRaw = get(env, 'OIDC_ISSUER');
  if (issuerRaw !== undefined) {
    // SSO_URL and SSO_URL_INTERNAL are ignored: discovery names the endpoints.
    // The issuer is kept exactly as given: discovery compares it for equality.
    const issuer = httpUrl('OIDC_ISSUER', issuerRaw, { httpOnlyForLoopback: true });
    if (!issuer.ok || !clientId.ok || !clientSecret.ok) return { errors: errorsOf(clientId, clientSecret, issuer) };
    return {
      value: { mode: 'oidc', issuer: issuerRaw, clientId: clientId.value, clientSecret: clientSecret.value },
      errors: [],
    };
  }

  const urlRaw = required(env, 'SSO_URL', 'required when OIDC_ISSUER is not set');
  const url = urlRaw.ok ? baseUrl('SSO_URL', urlRaw.value) : urlRaw;
  const internalRaw = get(env, 'SSO_URL_INTERNAL');
  const internal = internalRaw === undefined ? url : baseUrl('SSO_URL_INTERNAL', internalRaw);
  if (!url.ok || !internal.ok || !clientId.ok || !clientSecret.ok) {
    // when SSO_URL_INTERNAL is unset, `internal` is `url`: report it once
    return { errors: errorsOf(clientId, clientSecret, url, ...(internal === url ? [] : [internal])) };
  }
  return {
    value: {
      mode: 'oauth2',
      url: url.value,
      internalUrl: internal.value,
      clientId: clientId.value,
      clientSecret: clientSecret.value,
    },
    errors: [],
  };
}
