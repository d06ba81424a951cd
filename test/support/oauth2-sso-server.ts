/**
 * A small plain OAuth 2.0 authorization server mimicking uktrade's staff-sso
 * (django-oauth-toolkit), for the proxy's "SSO_URL mode":
 *
 *   GET  /o/authorize/        auto-approves as the current user, 302 to redirect_uri?code&state
 *   POST /o/token/            authorization_code grant, client_secret_post, PKCE S256 required
 *   GET  /api/v1/user/me/     Bearer token -> the user's profile
 *
 * Plus controls for tests to make it misbehave (refuse codes, fail, revoke tokens,
 * go down and come back on the same port).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { listenRestartable } from './free-port.ts';

export interface SsoUser {
  email: string;
  user_id: string;
  first_name: string;
  last_name: string;
  /** Defaults to `email`. */
  contact_email?: string;
  related_emails?: string[];
  groups?: string[];
  permitted_applications?: unknown[];
}

export const defaultSsoUser: SsoUser = {
  email: 'alice@example.org',
  user_id: 'a1b2c3',
  first_name: 'Alice',
  last_name: 'Example',
};

export interface OAuth2SsoOptions {
  /** Port to listen on (127.0.0.1); a free one by default. */
  port?: number;
  clientId?: string;
  clientSecret?: string;
  /** If given, authorize refuses any other redirect_uri. Otherwise any is accepted. */
  redirectUris?: string[];
  /** The user approved at /o/authorize/ (see setUser). */
  user?: SsoUser;
  /** Whether authorize requires code_challenge + S256 (default true). */
  requirePkce?: boolean;
}

/** One recorded /o/authorize/ request: its query parameters. */
export type AuthorizeRequest = Record<string, string>;

export interface OAuth2Sso {
  /** `http://127.0.0.1:PORT/`, with a trailing slash (the proxy appends `o/authorize/` etc.). */
  readonly url: string;
  readonly port: number;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly authorizeUrl: string;
  readonly tokenUrl: string;
  readonly userInfoUrl: string;

  /** Query of every /o/authorize/ request, in order. */
  readonly authorizeRequests: AuthorizeRequest[];
  /** Form body of every /o/token/ request, in order (includes client_secret). */
  readonly tokenRequests: Array<Record<string, string>>;
  /** Every access token issued, in order (so tests can grep logs for them). */
  readonly issuedTokens: string[];
  readonly tokenCalls: number;
  readonly userInfoCalls: number;

  /** While true the token endpoint answers 400 {error:'invalid_grant'} to every code. */
  refuseCodes(refuse: boolean): void;
  /** Forces the token endpoint to answer this status with a JSON error; null restores. */
  tokenStatus(status: number | null): void;
  /** Forces /api/v1/user/me/ to answer this status; null restores. */
  userInfoStatus(status: number | null): void;
  /** /api/v1/user/me/ answers only after this many milliseconds (0 restores), so that calls overlap. */
  userInfoDelay(ms: number): void;
  /** Makes user/me answer 401 for this token. */
  revoke(token: string): void;
  /** Makes user/me answer 401 for every token issued so far. */
  revokeAll(): void;
  /** The user approved by subsequent authorizations (existing tokens keep their user). */
  setUser(user: SsoUser): void;
  /** Stops listening and destroys open connections (clients get ECONNREFUSED). */
  goDown(): Promise<void>;
  /** Listens again on the same port; state (tokens, counters) is kept. */
  comeBack(): Promise<void>;
  close(): Promise<void>;
}

interface PendingCode {
  clientId: string;
  redirectUri: string;
  codeChallenge: string | undefined;
  codeChallengeMethod: string | undefined;
  scope: string;
  user: SsoUser;
  expiresAt: number;
}

const CODE_TTL_MS = 60_000;

function randomToken(): string {
  return randomBytes(24).toString('base64url');
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startOAuth2Sso(options: OAuth2SsoOptions = {}): Promise<OAuth2Sso> {
  const clientId = options.clientId ?? 'sso-client-id';
  const clientSecret = options.clientSecret ?? 'sso-client-secret';
  const requirePkce = options.requirePkce ?? true;

  let currentUser: SsoUser = options.user ?? defaultSsoUser;
  let refusingCodes = false;
  let forcedTokenStatus: number | null = null;
  let forcedUserInfoStatus: number | null = null;
  let userInfoDelayMs = 0;
  let tokenCalls = 0;
  let userInfoCalls = 0;

  const authorizeRequests: AuthorizeRequest[] = [];
  const tokenRequests: Array<Record<string, string>> = [];
  const issuedTokens: string[] = [];
  const codes = new Map<string, PendingCode>();
  const tokens = new Map<string, SsoUser>();

  function authorize(url: URL, res: ServerResponse): void {
    const query = Object.fromEntries(url.searchParams);
    authorizeRequests.push(query);

    if (query.client_id !== clientId) return sendText(res, 400, 'invalid client_id');
    const redirectUri = query.redirect_uri;
    if (!redirectUri || !URL.canParse(redirectUri)) return sendText(res, 400, 'missing or invalid redirect_uri');
    if (options.redirectUris && !options.redirectUris.includes(redirectUri)) {
      return sendText(res, 400, 'redirect_uri not registered');
    }

    // From here on errors go back to the client, as in RFC 6749 section 4.1.2.1.
    const back = new URL(redirectUri);
    const redirect = (params: Record<string, string>): void => {
      for (const [key, value] of Object.entries(params)) back.searchParams.set(key, value);
      if (query.state !== undefined) back.searchParams.set('state', query.state);
      res.writeHead(302, { location: back.href, 'content-length': 0 });
      res.end();
    };

    if (query.response_type !== 'code') return redirect({ error: 'unsupported_response_type' });
    if (requirePkce && (!query.code_challenge || query.code_challenge_method !== 'S256')) {
      return redirect({ error: 'invalid_request', error_description: 'PKCE with S256 is required' });
    }

    const code = randomToken();
    codes.set(code, {
      clientId,
      redirectUri,
      codeChallenge: query.code_challenge,
      codeChallengeMethod: query.code_challenge_method,
      scope: query.scope ?? '',
      user: currentUser,
      expiresAt: Date.now() + CODE_TTL_MS,
    });
    redirect({ code });
  }

  async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    tokenCalls += 1;
    const form = Object.fromEntries(new URLSearchParams(await readBody(req)));
    tokenRequests.push(form);

    if (forcedTokenStatus !== null) {
      return sendJson(res, forcedTokenStatus, { error: 'server_error', error_description: 'forced by test' });
    }
    if (form.client_id !== clientId || form.client_secret === undefined || !safeEqual(form.client_secret, clientSecret)) {
      return sendJson(res, 401, { error: 'invalid_client' });
    }
    if (form.grant_type !== 'authorization_code') return sendJson(res, 400, { error: 'unsupported_grant_type' });

    const invalidGrant = (): void => sendJson(res, 400, { error: 'invalid_grant' });
    if (refusingCodes || !form.code) return invalidGrant();

    const pending = codes.get(form.code);
    codes.delete(form.code); // single use, whatever the outcome
    if (!pending || pending.expiresAt < Date.now()) return invalidGrant();
    if (pending.redirectUri !== form.redirect_uri) return invalidGrant();
    if (pending.codeChallenge !== undefined) {
      if (!form.code_verifier) return invalidGrant();
      const computed = createHash('sha256').update(form.code_verifier).digest('base64url');
      if (!safeEqual(computed, pending.codeChallenge)) return invalidGrant();
    }

    const accessToken = randomToken();
    tokens.set(accessToken, pending.user);
    issuedTokens.push(accessToken);
    sendJson(res, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: 36000, scope: 'read write' });
  }

  async function userMe(req: IncomingMessage, res: ServerResponse): Promise<void> {
    userInfoCalls += 1;
    if (userInfoDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, userInfoDelayMs));
    if (forcedUserInfoStatus !== null) {
      return sendJson(res, forcedUserInfoStatus, { detail: `forced ${forcedUserInfoStatus} by test` });
    }
    const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    const user = match?.[1] ? tokens.get(match[1]) : undefined;
    if (!user) {
      return sendJson(res, 401, { detail: 'Authentication credentials were not provided.' }, {
        'www-authenticate': 'Bearer realm="api"',
      });
    }
    sendJson(res, 200, {
      email: user.email,
      user_id: user.user_id,
      first_name: user.first_name,
      last_name: user.last_name,
      related_emails: user.related_emails ?? [],
      contact_email: user.contact_email ?? user.email,
      groups: user.groups ?? [],
      permitted_applications: user.permitted_applications ?? [],
    });
  }

  const listener = await listenRestartable((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const route = `${req.method} ${url.pathname}`;
    const handle = async (): Promise<void> => {
      switch (route) {
        case 'GET /o/authorize/':
          return authorize(url, res);
        case 'POST /o/token/':
          return token(req, res);
        case 'GET /api/v1/user/me/':
          return userMe(req, res);
        default:
          return sendText(res, 404, 'not found');
      }
    };
    handle().catch((error: unknown) => {
      if (!res.headersSent) sendText(res, 500, String(error));
      else res.destroy();
    });
  }, options.port);

  const base = `http://127.0.0.1:${listener.port}/`;

  return {
    url: base,
    port: listener.port,
    clientId,
    clientSecret,
    authorizeUrl: `${base}o/authorize/`,
    tokenUrl: `${base}o/token/`,
    userInfoUrl: `${base}api/v1/user/me/`,
    authorizeRequests,
    tokenRequests,
    issuedTokens,
    get tokenCalls() {
      return tokenCalls;
    },
    get userInfoCalls() {
      return userInfoCalls;
    },
    refuseCodes(refuse) {
      refusingCodes = refuse;
    },
    tokenStatus(status) {
      forcedTokenStatus = status;
    },
    userInfoStatus(status) {
      forcedUserInfoStatus = status;
    },
    userInfoDelay(ms) {
      userInfoDelayMs = ms;
    },
    revoke(accessToken) {
      tokens.delete(accessToken);
    },
    revokeAll() {
      tokens.clear();
    },
    setUser(user) {
      currentUser = user;
    },
    goDown: () => listener.goDown(),
    comeBack: () => listener.comeBack(),
    close: () => listener.close(),
  };
}
