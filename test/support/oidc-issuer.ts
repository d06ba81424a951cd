/**
 * A real OpenID Provider (oidc-provider v9) for tests, on plain http://127.0.0.1:PORT.
 *
 * - One confidential client: client_secret_post, authorization_code only, PKCE (S256) required.
 * - Accounts with real password checking, through our own minimal login page
 *   (devInteractions, which accept any password, are disabled).
 * - Consent: by default granted automatically (the browser passes through
 *   /interaction/:uid once more and is redirected on); with `consent: 'page'`
 *   a page with an "Allow" button is shown instead.
 * - RP-initiated logout (end_session_endpoint) enabled.
 * - Back-Channel Logout enabled: with `backchannelLogoutUri` the client is
 *   registered for it, and ending a session at the issuer posts a logout
 *   token there (with `sid` unless `backchannelLogoutSessionRequired: false`).
 * - An in-process adapter we own, so tests can revoke access tokens/grants
 *   (the userinfo endpoint then answers 401 to tokens already issued).
 *
 * Cookies: oidc-provider marks its cookies Secure only when the request is
 * secure (ctx.secure), so over plain http they are not Secure; no configuration needed.
 */
import { generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

// oidc-provider ships no type declarations; the small surface we use is typed below.
// @ts-ignore -- untyped module
import ProviderCtor from 'oidc-provider';

import { listenRestartable } from './free-port.ts';

export interface OidcAccount {
  username: string;
  password: string;
  sub: string;
  email: string;
  email_verified?: boolean;
  name: string;
  /** the `groups` claim (in the profile scope, as identity providers with a groups mapper send it) */
  groups?: string[];
}

export const defaultAccounts: readonly OidcAccount[] = [
  { username: 'alice', password: 'wonderland', sub: 'alice-sub', email: 'alice@example.org', name: 'Alice Example' },
  { username: 'bob', password: 'builder', sub: 'bob-sub', email: 'bob@example.org', name: 'Bob Example' },
];

export interface OidcIssuerOptions {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
  /** Port on 127.0.0.1; a free one by default. */
  port?: number;
  /** Defaults to `defaultAccounts` (alice/wonderland, bob/builder). */
  accounts?: readonly OidcAccount[];
  /** 'auto' (default): consent is granted without a page. 'page': an "Allow"/"Deny" page. */
  consent?: 'auto' | 'page';
  /** Access token lifetime in seconds (default 3600). */
  accessTokenTtl?: number;
  /**
   * Access tokens asked for this resource indicator (RFC 8707: `resource` at
   * the authorization and token endpoints) are JWTs (RFC 9068) with this
   * `aud`, carrying the account's email and groups. Without it every access
   * token is opaque.
   */
  jwtAccessTokens?: { resource: string; audience: string };
  /** The client's backchannel_logout_uri. */
  backchannelLogoutUri?: string;
  /** backchannel_logout_session_required (default true): logout tokens and ID tokens carry sid. */
  backchannelLogoutSessionRequired?: boolean;
}

export interface BackchannelDelivery {
  sub: string;
  sid: string | undefined;
  /** the client answered 200 */
  ok: boolean;
  error?: string;
}

export interface LoginAttempt {
  username: string;
  ok: boolean;
}

export interface OidcIssuer {
  /** `http://127.0.0.1:PORT` (no trailing slash, as in the discovery document). */
  readonly issuer: string;
  readonly port: number;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly accounts: readonly OidcAccount[];
  /** The oidc-provider instance (untyped), for anything not covered here. */
  readonly provider: unknown;

  /** Query of every initial GET /auth request (not the internal /auth/:uid resumes). */
  readonly authorizeRequests: Array<Record<string, string>>;
  readonly loginAttempts: LoginAttempt[];
  /** Every access token issued, in order. */
  readonly issuedTokens: string[];
  readonly tokenCalls: number;
  readonly userInfoCalls: number;
  /** Completed RP-initiated logouts (POST /session/end/confirm). */
  readonly endSessionCalls: number;
  /** Every logout token posted to the client's backchannel_logout_uri, with how it was answered. */
  readonly backchannelDeliveries: BackchannelDelivery[];
  /** The private signing key (JWK, with the kid the issuer publishes), for tests that forge the issuer's tokens. */
  readonly signingKey: Record<string, unknown>;

  /** Destroys one access token: userinfo answers 401 for it. */
  revoke(accessToken: string): Promise<void>;
  /** Destroys every access token, authorization code and grant: userinfo answers 401 for all tokens issued so far. Sign-in sessions at the issuer survive. */
  revokeAll(): Promise<void>;
  /** Stops listening and destroys open connections (ECONNREFUSED); state is kept. */
  goDown(): Promise<void>;
  /** Listens again on the same port. */
  comeBack(): Promise<void>;
  close(): Promise<void>;
}

// ---- minimal typing of the oidc-provider surface used here ----

interface KoaContext {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  status: number;
  type: string;
  body: unknown;
  respond?: boolean;
  host: string;
  set(name: string, value: string): void;
  oidc?: { client?: { clientId: string; clientName?: string } };
}

type Middleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;

interface Interaction {
  uid: string;
  prompt: { name: string; details: Record<string, unknown> };
  params: Record<string, string | undefined>;
  session?: { accountId?: string };
  grantId?: string;
}

interface Grant {
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  addResourceScope(indicator: string, scope: string): void;
  save(): Promise<string>;
  destroy(): Promise<void>;
}

interface Provider {
  issuer: string;
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  use(middleware: Middleware): void;
  on(event: string, listener: (...args: never[]) => void): void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>;
  interactionFinished(
    req: IncomingMessage,
    res: ServerResponse,
    result: Record<string, unknown>,
    options?: { mergeWithLastSubmission?: boolean },
  ): Promise<void>;
  Grant: {
    new (init: { accountId: string; clientId: string }): Grant;
    find(id: string): Promise<Grant | undefined>;
  };
  AccessToken: { find(value: string): Promise<{ destroy(): Promise<void> } | undefined> };
}

// ---- an in-memory adapter we own (no LRU eviction, and lets tests revoke) ----

interface Stored {
  payload: Record<string, unknown>;
  expiresAt: number;
}

function createAdapterFactory(): { factory: (model: string) => unknown; store: Map<string, Stored> } {
  const store = new Map<string, Stored>();

  const live = (key: string): Stored | undefined => {
    const entry = store.get(key);
    if (entry && entry.expiresAt <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return entry;
  };

  class TestAdapter {
    readonly model: string;
    constructor(model: string) {
      this.model = model;
    }
    key(id: string): string {
      return `${this.model}:${id}`;
    }
    async upsert(id: string, payload: Record<string, unknown>, expiresIn?: number): Promise<void> {
      const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
      store.set(this.key(id), { payload, expiresAt });
    }
    async find(id: string): Promise<Record<string, unknown> | undefined> {
      return live(this.key(id))?.payload;
    }
    async findByUid(uid: string): Promise<Record<string, unknown> | undefined> {
      return this.findBy((payload) => payload.uid === uid);
    }
    async findByUserCode(userCode: string): Promise<Record<string, unknown> | undefined> {
      return this.findBy((payload) => payload.userCode === userCode);
    }
    async consume(id: string): Promise<void> {
      const entry = live(this.key(id));
      if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string): Promise<void> {
      store.delete(this.key(id));
    }
    async revokeByGrantId(grantId: string): Promise<void> {
      for (const [key, entry] of store) {
        if (key.startsWith(`${this.model}:`) && entry.payload.grantId === grantId) store.delete(key);
      }
    }
    private findBy(predicate: (payload: Record<string, unknown>) => boolean): Record<string, unknown> | undefined {
      for (const key of store.keys()) {
        if (!key.startsWith(`${this.model}:`)) continue;
        const entry = live(key);
        if (entry && predicate(entry.payload)) return entry.payload;
      }
      return undefined;
    }
  }

  return { factory: (model: string) => new TestAdapter(model), store };
}

// ---- pages ----

function escapeHtml(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font-family:sans-serif;max-width:24rem;margin:3rem auto}label,input,button{display:block;margin:.4rem 0}.error{color:#b00020}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>`;
}

function loginPage(uid: string, clientId: string, username: string, error: boolean): string {
  return page(
    'Sign in - test OIDC issuer',
    `<h1>Sign in</h1>
<p>to continue to <strong>${escapeHtml(clientId)}</strong></p>
${error ? '<p id="login-error" class="error" role="alert">Invalid username or password.</p>' : ''}
<form id="login-form" method="post" action="/interaction/${escapeHtml(uid)}/login" autocomplete="off">
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" value="${escapeHtml(username)}" required ${username ? '' : 'autofocus'}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required ${username ? 'autofocus' : ''}>
<button id="sign-in" type="submit">Sign in</button>
</form>`,
  );
}

function consentPage(uid: string, clientId: string, scope: string): string {
  return page(
    'Authorize - test OIDC issuer',
    `<h1>Authorize ${escapeHtml(clientId)}</h1>
<p>Requested scopes: <code>${escapeHtml(scope)}</code></p>
<form id="consent-form" method="post" action="/interaction/${escapeHtml(uid)}/confirm">
<button id="allow" type="submit" name="decision" value="allow">Allow</button>
<button id="deny" type="submit" name="decision" value="deny">Deny</button>
</form>`,
  );
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function passwordMatches(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

// ---- JWT access tokens for one resource ----

function jwtResourceIndicators(jwt: { resource: string; audience: string }) {
  return {
    enabled: true,
    // the grant's resource is used at the token endpoint without repeating it
    useGrantedResource: async () => true,
    async getResourceServerInfo(_ctx: unknown, indicator: string) {
      if (indicator !== jwt.resource) throw new Error(`unknown resource indicator ${indicator}`);
      return { scope: 'api', audience: jwt.audience, accessTokenFormat: 'jwt', accessTokenTTL: 300, jwt: { sign: { alg: 'RS256' } } };
    },
  };
}

// ---- the issuer ----

export async function startOidcIssuer(options: OidcIssuerOptions): Promise<OidcIssuer> {
  const accounts = options.accounts ?? defaultAccounts;
  const consentMode = options.consent ?? 'auto';

  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const listener = await listenRestartable((req, res) => {
    if (handler) handler(req, res);
    else res.writeHead(503).end();
  }, options.port);
  const issuer = `http://127.0.0.1:${listener.port}`;

  const { factory: adapter, store } = createAdapterFactory();
  const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const signingKid = randomBytes(8).toString('hex');

  const provider = new (ProviderCtor as new (issuer: string, configuration: unknown) => Provider)(issuer, {
    adapter,
    clients: [
      {
        client_id: options.clientId,
        client_secret: options.clientSecret,
        redirect_uris: options.redirectUris,
        post_logout_redirect_uris: options.postLogoutRedirectUris ?? [],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
        ...(options.backchannelLogoutUri
          ? {
              backchannel_logout_uri: options.backchannelLogoutUri,
              backchannel_logout_session_required: options.backchannelLogoutSessionRequired ?? true,
            }
          : {}),
      },
    ],
    // oidc-provider refuses to post to special-use addresses (its SSRF guard,
    // through the dispatcher it passes); every test host here is loopback.
    async fetch(url: string, init: RequestInit & { dispatcher?: unknown }) {
      const { dispatcher: _, ...rest } = init;
      return globalThis.fetch(url, rest);
    },
    async findAccount(_ctx: unknown, sub: string) {
      const account = accounts.find((candidate) => candidate.sub === sub);
      if (!account) return undefined;
      return {
        accountId: account.sub,
        async claims() {
          return {
            sub: account.sub,
            email: account.email,
            email_verified: account.email_verified ?? true,
            name: account.name,
            ...(account.groups ? { groups: account.groups } : {}),
          };
        },
      };
    },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'groups'],
    },
    pkce: { required: () => true },
    interactions: {
      url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}`,
    },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      ...(options.jwtAccessTokens ? { resourceIndicators: jwtResourceIndicators(options.jwtAccessTokens) } : {}),
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx: KoaContext, form: string) {
          // The default page puts its buttons outside the form; put "Yes" inside so any client can submit it.
          const withButton = form.replace(
            '</form>',
            '<button id="logout-yes" type="submit" name="logout" value="yes">Yes, sign me out</button></form>',
          );
          ctx.body = page('Sign out - test OIDC issuer', `<h1>Sign out of ${escapeHtml(ctx.host)}?</h1>\n${withButton}`);
        },
        async postLogoutSuccessSource(ctx: KoaContext) {
          ctx.body = page('Signed out - test OIDC issuer', '<h1 id="signed-out">You are signed out</h1>');
        },
      },
    },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    jwks: { keys: [{ ...signingKey, kid: signingKid, use: 'sig', alg: 'RS256' }] },
    ttl: {
      AccessToken: options.accessTokenTtl ?? 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 600,
      Session: 24 * 3600,
      Grant: 24 * 3600,
    },
    clientBasedCORS: () => false,
    // JWT access tokens name their user by sub only; an API wants the email and groups too.
    async extraTokenClaims(_ctx: unknown, token: { accountId?: string; resourceServer?: unknown }) {
      const account = token.resourceServer ? accounts.find((candidate) => candidate.sub === token.accountId) : undefined;
      return account ? { email: account.email, ...(account.groups ? { groups: account.groups } : {}) } : undefined;
    },
    async renderError(ctx: KoaContext, out: Record<string, string>) {
      ctx.type = 'html';
      const rows = Object.entries(out)
        .map(([key, value]) => `<p><strong>${escapeHtml(key)}</strong>: <span class="${escapeHtml(key)}">${escapeHtml(String(value))}</span></p>`)
        .join('\n');
      ctx.body = page('Error - test OIDC issuer', `<h1>Something went wrong</h1>\n${rows}`);
    },
  });

  const authorizeRequests: Array<Record<string, string>> = [];
  const loginAttempts: LoginAttempt[] = [];
  const issuedTokens: string[] = [];
  let tokenCalls = 0;
  let userInfoCalls = 0;
  let endSessionCalls = 0;
  const backchannelDeliveries: BackchannelDelivery[] = [];

  provider.on('backchannel.success', ((_ctx: unknown, _client: unknown, sub: string, sid: string | undefined) => {
    backchannelDeliveries.push({ sub, sid, ok: true });
  }) as (...args: never[]) => void);
  provider.on('backchannel.error', ((_ctx: unknown, error: Error, _client: unknown, sub: string, sid: string | undefined) => {
    backchannelDeliveries.push({ sub, sid, ok: false, error: error.message });
  }) as (...args: never[]) => void);

  provider.on('access_token.saved', ((token: { jti: string }) => {
    issuedTokens.push(token.jti);
  }) as (...args: never[]) => void);

  // Counters (runs before oidc-provider's own routes).
  provider.use(async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path === '/auth') {
      authorizeRequests.push(
        Object.fromEntries(Object.entries(ctx.query).map(([key, value]) => [key, Array.isArray(value) ? value.join(' ') : String(value)])),
      );
    } else if (ctx.path === '/token') {
      tokenCalls += 1;
    } else if (ctx.path === '/me') {
      userInfoCalls += 1;
    } else if (ctx.method === 'POST' && ctx.path === '/session/end/confirm') {
      endSessionCalls += 1;
    }
    await next();
  });

  // Interactions: login with a real password check, then consent.
  provider.use(async (ctx, next) => {
    const match = /^\/interaction\/([^/]+)(?:\/(login|confirm))?$/.exec(ctx.path);
    if (!match) return next();
    const action = match[2];
    ctx.set('cache-control', 'no-store');

    let details: Interaction;
    try {
      details = await provider.interactionDetails(ctx.req, ctx.res);
    } catch (error) {
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = page('Error - test OIDC issuer', `<h1>Sign-in request expired or unknown</h1><p class="error">${escapeHtml(String(error))}</p>`);
      return;
    }
    const clientId = details.params.client_id ?? '';

    const finish = async (result: Record<string, unknown>, mergeWithLastSubmission: boolean): Promise<void> => {
      ctx.respond = false; // interactionFinished writes the 303 itself
      await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission });
    };

    const grantConsent = async (): Promise<void> => {
      const { prompt, params, session } = details;
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: session?.accountId ?? '', clientId: params.client_id ?? '' });
      if (!grant) throw new Error('grant not found');
      const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details as {
        missingOIDCScope?: string[];
        missingOIDCClaims?: string[];
        missingResourceScopes?: Record<string, string[]>;
      };
      if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
      if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      const grantId = await grant.save();
      await finish({ consent: details.grantId ? {} : { grantId } }, true);
    };

    if (ctx.method === 'GET' && action === undefined) {
      ctx.type = 'html';
      if (details.prompt.name === 'login') {
        ctx.body = loginPage(details.uid, clientId, details.params.login_hint ?? '', false);
        return;
      }
      if (details.prompt.name === 'consent') {
        if (consentMode === 'auto') return grantConsent();
        ctx.body = consentPage(details.uid, clientId, details.params.scope ?? '');
        return;
      }
      ctx.status = 400;
      ctx.body = page('Error - test OIDC issuer', `<h1>Unsupported prompt ${escapeHtml(details.prompt.name)}</h1>`);
      return;
    }

    if (ctx.method === 'POST' && action === 'login' && details.prompt.name === 'login') {
      const form = await readForm(ctx.req);
      const username = form.get('username') ?? '';
      const account = accounts.find((candidate) => candidate.username === username);
      const ok = account !== undefined && passwordMatches(form.get('password') ?? '', account.password);
      loginAttempts.push({ username, ok });
      if (!account || !ok) {
        ctx.type = 'html';
        ctx.status = 200;
        ctx.body = loginPage(details.uid, clientId, username, true);
        return;
      }
      return finish({ login: { accountId: account.sub } }, false);
    }

    if (ctx.method === 'POST' && action === 'confirm' && details.prompt.name === 'consent') {
      const form = await readForm(ctx.req);
      if (form.get('decision') === 'deny') {
        return finish({ error: 'access_denied', error_description: 'End-User denied the authorization' }, false);
      }
      return grantConsent();
    }

    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = page('Error - test OIDC issuer', '<h1>Unexpected interaction request</h1>');
  });

  handler = provider.callback();

  const destroyWhere = (predicate: (key: string, payload: Record<string, unknown>) => boolean): void => {
    for (const [key, entry] of store) if (predicate(key, entry.payload)) store.delete(key);
  };

  return {
    issuer,
    port: listener.port,
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    accounts,
    provider,
    authorizeRequests,
    loginAttempts,
    issuedTokens,
    get tokenCalls() {
      return tokenCalls;
    },
    get userInfoCalls() {
      return userInfoCalls;
    },
    get endSessionCalls() {
      return endSessionCalls;
    },
    backchannelDeliveries,
    signingKey: { ...signingKey, kid: signingKid, alg: 'RS256' },
    async revoke(accessToken) {
      const token = await provider.AccessToken.find(accessToken);
      await token?.destroy();
    },
    async revokeAll() {
      destroyWhere((key) => /^(AccessToken|AuthorizationCode|RefreshToken|Grant):/.test(key));
    },
    goDown: () => listener.goDown(),
    comeBack: () => listener.comeBack(),
    close: () => listener.close(),
  };
}
