// The environment a test proxy starts with: uktrade's variable names, a
// bucket of the test's own and a Redis key prefix of its own.
import { randomBytes } from 'node:crypto';
import type { S3Stack } from './s3-fixtures.ts';

export type SsoForTest =
  | { mode: 'oauth2'; url: string; clientId: string; clientSecret: string }
  | { mode: 'oidc'; issuer: string; clientId: string; clientSecret: string };

/** The SSO_URL-mode settings that point a proxy at a test OAuth2 server. */
export function oauth2Sso(server: { url: string; clientId: string; clientSecret: string }): SsoForTest {
  return { mode: 'oauth2', url: server.url, clientId: server.clientId, clientSecret: server.clientSecret };
}

export interface ProxyEnvOptions {
  bucket: string;
  keyPrefix?: string;
  sso: SsoForTest;
  healthcheckKey?: string;
  credentials?: { accessKey: string; secretKey: string };
  redisUrl?: string;
  extra?: Record<string, string>;
}

export function proxyEnv(stack: S3Stack, options: ProxyEnvOptions): Record<string, string> {
  const credentials = options.credentials ?? stack;
  const endpoint = stack.endpoint.origin;
  return {
    AWS_S3_ENDPOINT: `${endpoint}/${options.bucket}/${options.keyPrefix ?? ''}`,
    AWS_S3_REGION: stack.region,
    AWS_ACCESS_KEY_ID: credentials.accessKey,
    AWS_SECRET_ACCESS_KEY: credentials.secretKey,
    REDIS_URL: options.redisUrl ?? stack.redisUrl,
    REDIS_KEY_PREFIX: `test-${randomBytes(4).toString('hex')}:`,
    SSO_CLIENT_ID: options.sso.clientId,
    SSO_CLIENT_SECRET: options.sso.clientSecret,
    ...(options.sso.mode === 'oauth2' ? { SSO_URL: options.sso.url } : { OIDC_ISSUER: options.sso.issuer }),
    ...(options.healthcheckKey ? { AWS_S3_HEALTHCHECK_KEY: options.healthcheckKey } : {}),
    LOG_LEVEL: 'info',
    ...options.extra,
  };
}
