// The proxy's settings after parsing and validation. Everything the running
// service needs is here, already typed and defaulted, so nothing past start-up
// reads process.env.

import type { UploadSettings } from './upload-settings.ts';
import type { DownloadRedirectSettings } from './download-settings.ts';

export type AddressingStyle = 'path' | 'virtual-host';

export interface BucketLocation {
  /** scheme://host[:port] of the S3 server, no trailing slash */
  origin: string;
  bucket: string;
  /** how the bucket is named in requests to `origin` */
  style: AddressingStyle;
  /** prepended to every key; empty, or ends with '/' unless the operator chose otherwise */
  keyPrefix: string;
}

export interface StaticCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export type SsoSettings =
  | {
      /** uktrade-compatible plain OAuth2 server (staff-sso) */
      mode: 'oauth2';
      /** public base URL, always ends with '/' */
      url: string;
      /** base URL for server-to-server calls, always ends with '/' */
      internalUrl: string;
      clientId: string;
      clientSecret: string;
    }
  | {
      /** OpenID Connect issuer with discovery */
      mode: 'oidc';
      issuer: string;
      clientId: string;
      clientSecret: string;
    };

export type SameSite = 'lax' | 'strict' | 'none';

export interface SessionSettings {
  cookieName: string;
  maxAgeSeconds: number;
  sameSite: SameSite;
  /** SESSION_COOKIE_SECURE: every cookie is Secure, whatever scheme a request came by */
  forceSecure: boolean;
  /** SESSION_SECRET: keys the sealed login state (else SSO_CLIENT_SECRET does); never logged */
  secret?: string;
}

/** Bearer tokens of API clients (api-settings.ts); present when either variable is set. */
export interface ApiSettings {
  /** API_PUBLIC_KEYS_DIR: `<user>_public.pem` files; absent: no API keys */
  publicKeysDir?: string;
  /** API_AUDIENCE: the `aud` tokens must carry; required with publicKeysDir */
  audience?: string;
}

export interface RedisNode {
  host: string;
  port: number;
}

/** Credentials and TLS shared by every data node (never logged: they hold a password). */
export interface RedisAuth {
  username?: string;
  password?: string;
  /** rediss: URLs */
  tls: boolean;
}

/**
 * Where sessions live. Standalone keeps the whole URI for ioredis to parse;
 * Sentinel and Cluster are handed to ioredis's own support for them.
 */
export type RedisConnection =
  | { mode: 'standalone'; url: string }
  | {
      mode: 'sentinel';
      masterName: string;
      sentinels: RedisNode[];
      /** credentials and TLS of the sentinels themselves */
      sentinelAuth: RedisAuth;
      /** credentials and TLS of the master the sentinels name */
      auth: RedisAuth;
    }
  | { mode: 'cluster'; nodes: RedisNode[]; auth: RedisAuth };

export interface Config {
  port: number;
  redis: RedisConnection;
  /** prefix of every Redis key this service writes */
  redisKeyPrefix: string;
  sso: SsoSettings;
  /** seconds between checks of the user's token with SSO; 0 means every request */
  tokenCheckGracePeriodSeconds: number;
  /** PUBLIC_URL's origin (scheme://host[:port]); absent: taken from each request's Host */
  publicUrl?: string;
  /** seconds a login (state, PKCE verifier, nonce) stays valid */
  loginStateTtlSeconds: number;
  session: SessionSettings;
  s3: {
    location: BucketLocation;
    region: string;
    /** absent: use the AWS default credential provider chain */
    credentials?: StaticCredentials;
    /** milliseconds to wait for S3's response headers before answering 504 */
    upstreamTimeoutMs: number;
    /** at most this many connections to S3; requests beyond wait, then 503 */
    maxConnections: number;
  };
  /** the one key (relative to the prefix) served without sign-in; absent: none */
  healthcheckKey?: string;
  /** milliseconds SIGTERM waits for in-flight responses before cutting them */
  shutdownTimeoutMs: number;
  /** milliseconds a client has to send a request's headers (Node's headersTimeout) */
  headersTimeoutMs: number;
  /** milliseconds a client may read nothing (or send nothing) before it is dropped */
  clientIdleTimeoutMs: number;
  logLevel: string;
  /** port of the Prometheus /metrics listener (0: any free port); absent: no metrics */
  metricsPort?: number;
  /** UPLOAD_*; absent: uploads are off and every upload route answers 404 */
  uploads?: UploadSettings;
  /** DOWNLOAD_REDIRECT_*; absent: every object is streamed through the proxy */
  downloadRedirect?: DownloadRedirectSettings;
  /** bearer tokens for API clients; absent: neither API_PUBLIC_KEYS_DIR nor API_AUDIENCE is set */
  api?: ApiSettings;
}

export type ConfigResult =
  | { ok: true; config: Config }
  | { ok: false; errors: string[] };
