/**
 * A cookie-keeping HTTP client playing the role of one browser in integration tests.
 *
 * - Never follows redirects by itself: `request()` returns the raw response
 *   (a fetch `Response`, built from undici's `request()` because fetch() always
 *   overwrites Sec-Fetch-Mode; `response.url` is therefore empty);
 *   `follow()` walks the redirect chain and records it.
 * - Stores Set-Cookie per RFC 6265 (tough-cookie; 127.0.0.1/localhost count as
 *   secure contexts, as in browsers, so Secure cookies work over http there)
 *   and sends them back, honouring SameSite as browsers do: a request whose
 *   `fetchSite` is 'cross-site' (a simulated foreign page) carries Lax
 *   cookies only on a top-level GET/HEAD navigation, Strict cookies never,
 *   and its response cannot set SameSite cookies unless it is such a
 *   navigation. Every other request is same-site (all test servers share the
 *   site 127.0.0.1, ports aside, as browsers see it).
 * - GET/HEAD requests carry a top-level navigation's headers by default
 *   (`Sec-Fetch-Mode: navigate`, `Accept: text/html,...`); pass
 *   `navigation: false` to send neither (like curl). Without fetch metadata
 *   an Accept that admits anything counts as a navigation to the proxy, so
 *   a test of a page's fetch() says so itself (`sec-fetch-mode: cors`).
 *   `fetchSite` on a request that is not a navigation sends
 *   Sec-Fetch-Site alone.
 */
import { CookieJar, type Cookie } from 'tough-cookie';
import { request as undiciRequest, type Dispatcher } from 'undici';

export interface UserAgentRequestInit extends RequestInit {
  /** Send a browser top-level navigation's headers. Default: true for GET/HEAD, false otherwise. */
  navigation?: boolean;
  /**
   * Where the request comes from: the Sec-Fetch-Site value (sent on
   * navigations, default 'none': typed in the address bar; on other requests
   * only when given), and for 'cross-site' the SameSite rules of cookies.
   */
  fetchSite?: 'none' | 'same-origin' | 'same-site' | 'cross-site';
}

export interface FollowOptions {
  /** Default 10. Exceeding it throws. */
  maxRedirects?: number;
  /** Stop (without requesting it) when the next location matches; the last response is then the redirect. */
  stopAt?: (url: URL) => boolean;
}

export interface ChainEntry {
  url: string;
  method: string;
  status: number;
  /** Absolute URL of the Location header, for redirects. */
  location: string | undefined;
}

export interface FollowResult {
  /** The last response (its body unread). */
  response: Response;
  /** Every request made, in order, including the last one. */
  chain: ChainEntry[];
  /** URL of the last response. */
  url: string;
}

export interface CookieInfo {
  name: string;
  value: string;
  domain: string | null;
  path: string | null;
  httpOnly: boolean;
  secure: boolean;
  /** 'strict' | 'lax' | 'none' | undefined when not set. */
  sameSite: string | undefined;
  /** Max-Age in seconds when set. */
  maxAge: number | undefined;
  /** Expiry date when Expires was set. */
  expires: Date | undefined;
  hostOnly: boolean | null;
}

export interface ParsedForm {
  id: string | undefined;
  /** Absolute URL. */
  action: string;
  method: string;
  /** Named inputs with their (default) values, hidden ones included. */
  fields: Record<string, string>;
}

export interface SignInResult extends FollowResult {
  /** Number of login forms submitted (OIDC). */
  loginSubmissions: number;
  /** True when the issuer showed its login page again (wrong password); the sign-in stopped there. */
  loginRejected: boolean;
}

/** Headers a browser sends on a top-level navigation. */
export function navigationHeaders(fetchSite: NonNullable<UserAgentRequestInit['fetchSite']> = 'none'): Record<string, string> {
  return {
    accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8',
    'accept-language': 'en-GB,en;q=0.9',
    'sec-fetch-mode': 'navigate',
    'sec-fetch-dest': 'document',
    'sec-fetch-site': fetchSite,
    'sec-fetch-user': '?1',
    'upgrade-insecure-requests': '1',
  };
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) s3proxy-test-user-agent/1.0';

function decodeEntities(value: string): string {
  return value
    .replace(/&#(\d+);/g, (_, code: string) => String.fromCodePoint(Number(code)))
    .replace(/&#x([0-9a-f]+);/gi, (_, code: string) => String.fromCodePoint(Number.parseInt(code, 16)))
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
}

function attributes(tag: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const match of tag.matchAll(/([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g)) {
    const name = match[1]?.toLowerCase();
    if (!name || name.startsWith('<')) continue;
    result[name] = decodeEntities(match[2] ?? match[3] ?? match[4] ?? '');
  }
  return result;
}

/**
 * Minimal HTML form extraction (good for the simple, known pages of the test
 * issuers, not for arbitrary HTML). Submit buttons are not included in fields.
 */
export function parseForms(html: string, pageUrl: string): ParsedForm[] {
  const forms: ParsedForm[] = [];
  for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attrs = attributes(match[1] ?? '');
    const fields: Record<string, string> = {};
    for (const input of (match[2] ?? '').matchAll(/<input\b([^>]*)>/gi)) {
      const inputAttrs = attributes(input[1] ?? '');
      const type = (inputAttrs.type ?? 'text').toLowerCase();
      if (!inputAttrs.name || type === 'submit' || type === 'button' || type === 'image') continue;
      if ((type === 'checkbox' || type === 'radio') && !('checked' in inputAttrs)) continue;
      fields[inputAttrs.name] = inputAttrs.value ?? (type === 'checkbox' ? 'on' : '');
    }
    forms.push({
      id: attrs.id,
      action: new URL(attrs.action || pageUrl, pageUrl).href,
      method: (attrs.method || 'get').toUpperCase(),
      fields,
    });
  }
  return forms;
}

function toCookieInfo(cookie: Cookie): CookieInfo {
  return {
    name: cookie.key,
    value: cookie.value,
    domain: cookie.domain,
    path: cookie.path,
    httpOnly: cookie.httpOnly,
    secure: cookie.secure,
    sameSite: cookie.sameSite,
    maxAge: typeof cookie.maxAge === 'number' ? cookie.maxAge : undefined,
    expires: cookie.expires instanceof Date ? cookie.expires : undefined,
    hostOnly: cookie.hostOnly,
  };
}

function siteRelation(from: URL, to: URL): 'same-origin' | 'same-site' | 'cross-site' {
  if (from.origin === to.origin) return 'same-origin';
  // Good enough for tests: a site is scheme + host (ports ignored); no public-suffix logic.
  return from.protocol === to.protocol && from.hostname === to.hostname ? 'same-site' : 'cross-site';
}

const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/** One HTTP exchange through undici's dispatcher API, as a fetch Response (body unread). */
async function send(url: URL, method: string, headers: Headers, body: RequestInit['body'], signal: AbortSignal): Promise<Response> {
  let payload: Buffer | undefined;
  if (body !== null && body !== undefined && method !== 'GET' && method !== 'HEAD') {
    // Let the fetch Request normalise any BodyInit (URLSearchParams, FormData, string...) and its content type.
    const normalised = new Request(url, { method, body, headers });
    payload = Buffer.from(await normalised.arrayBuffer());
    const type = normalised.headers.get('content-type');
    if (type && !headers.has('content-type')) headers.set('content-type', type);
  }
  const result = await undiciRequest(url, {
    method: method as Dispatcher.HttpMethod,
    headers: Object.fromEntries(headers),
    body: payload,
    signal,
  });
  const responseHeaders = new Headers();
  for (const [name, value] of Object.entries(result.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) responseHeaders.append(name, item);
  }
  const noBody = method === 'HEAD' || NULL_BODY_STATUSES.has(result.statusCode);
  if (noBody) await result.body.dump();
  // ReadableStream.from: cancelling the web stream destroys the socket stream (Readable.toWeb can throw there).
  return new Response(noBody ? null : ReadableStream.from(result.body), {
    status: result.statusCode,
    headers: responseHeaders,
  });
}

type FetchSite = NonNullable<UserAgentRequestInit['fetchSite']>;

/**
 * tough-cookie's SameSite context: what a browser would send and store.
 * Cross-site, only a top-level navigation with a safe method gets Lax
 * cookies (RFC 6265bis "lax-allowing-unsafe" aside); anything else gets
 * SameSite=None cookies only.
 */
function sameSiteContext(site: FetchSite | undefined, navigation: boolean, method: string): 'strict' | 'lax' | 'none' {
  if (site !== 'cross-site') return 'strict';
  return navigation && (method === 'GET' || method === 'HEAD') ? 'lax' : 'none';
}
const SITE_RANK: Record<FetchSite, number> = { none: 0, 'same-origin': 1, 'same-site': 2, 'cross-site': 3 };

function worstSite(previous: FetchSite | undefined, next: FetchSite): FetchSite {
  if (previous === undefined || previous === 'none') return 'none';
  return SITE_RANK[next] > SITE_RANK[previous] ? next : previous;
}

export class UserAgent {
  readonly jar = new CookieJar();
  /** Default request timeout in milliseconds (per request). */
  timeoutMs = 10_000;

  /** One request, no redirect following. Stores Set-Cookie, sends matching cookies. */
  async request(url: string | URL, init: UserAgentRequestInit = {}): Promise<Response> {
    const target = new URL(url);
    const { navigation, fetchSite, ...rest } = init;
    const method = (rest.method ?? 'GET').toUpperCase();
    const headers = new Headers();
    headers.set('user-agent', USER_AGENT);
    const isNavigation = navigation ?? (method === 'GET' || method === 'HEAD');
    if (isNavigation) {
      for (const [name, value] of Object.entries(navigationHeaders(fetchSite))) headers.set(name, value);
    } else if (fetchSite !== undefined) {
      headers.set('sec-fetch-site', fetchSite);
    }
    for (const [name, value] of new Headers(rest.headers)) headers.set(name, value);
    const sameSite = sameSiteContext(fetchSite, isNavigation, method);
    if (!headers.has('cookie')) {
      const cookie = await this.jar.getCookieString(target.href, { sameSiteContext: sameSite });
      if (cookie) headers.set('cookie', cookie);
    }

    // Not fetch(): it always overwrites Sec-Fetch-Mode with the request mode ('cors').
    const response = await send(target, method, headers, rest.body ?? null, rest.signal ?? AbortSignal.timeout(this.timeoutMs));
    for (const setCookie of response.headers.getSetCookie()) {
      // Ignore cookies a browser would reject, as a browser does.
      await this.jar.setCookie(setCookie, target.href, { ignoreError: true, sameSiteContext: sameSite });
    }
    return response;
  }

  /**
   * Requests `url` and follows redirects like a browser: 301/302 turn a POST
   * into a GET, 303 always does, 307/308 keep method and body. Intermediate
   * bodies are discarded.
   */
  async follow(url: string | URL, init: UserAgentRequestInit = {}, options: FollowOptions = {}): Promise<FollowResult> {
    const maxRedirects = options.maxRedirects ?? 10;
    const chain: ChainEntry[] = [];
    let current = new URL(url);
    let currentInit: UserAgentRequestInit = { ...init };
    const navigation = init.navigation ?? ((init.method ?? 'GET').toUpperCase() === 'GET');

    for (let redirects = 0; ; redirects++) {
      const method = (currentInit.method ?? 'GET').toUpperCase();
      const response = await this.request(current, currentInit);
      const locationHeader = response.headers.get('location');
      const isRedirect = REDIRECT_STATUSES.has(response.status) && locationHeader !== null;
      const location = isRedirect ? new URL(locationHeader, current) : undefined;
      chain.push({ url: current.href, method, status: response.status, location: location?.href });

      if (!location || options.stopAt?.(location)) return { response, chain, url: current.href };
      if (redirects >= maxRedirects) {
        await response.body?.cancel();
        throw new Error(`too many redirects (${maxRedirects}): ${chain.map((entry) => `${entry.status} ${entry.url}`).join(' -> ')}`);
      }
      await response.body?.cancel();

      const keepMethod = response.status === 307 || response.status === 308 || (method !== 'POST' && response.status !== 303);
      const headers = new Headers(currentInit.headers);
      if (!keepMethod) {
        for (const name of ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location']) headers.delete(name);
      }
      if (current.origin !== location.origin) headers.delete('authorization');
      headers.delete('cookie'); // recomputed from the jar for the new URL
      currentInit = {
        ...currentInit,
        method: keepMethod ? method : (method === 'HEAD' ? 'HEAD' : 'GET'),
        body: keepMethod ? currentInit.body : undefined,
        headers,
        navigation,
        // A user-initiated navigation stays 'none' through redirects; otherwise the relation only gets worse.
        fetchSite: worstSite(currentInit.fetchSite, siteRelation(current, location)),
      };
      current = location;
    }
  }

  /** Submits a parsed form like a browser (urlencoded; GET forms put fields in the query), following redirects. */
  async submitForm(form: ParsedForm, values: Record<string, string> = {}, options: FollowOptions = {}): Promise<FollowResult> {
    const fields = new URLSearchParams({ ...form.fields, ...values });
    const action = new URL(form.action);
    if (form.method === 'GET') {
      action.search = fields.toString();
      return this.follow(action, { navigation: true, fetchSite: 'same-origin' }, options);
    }
    return this.follow(
      action,
      {
        method: 'POST',
        body: fields,
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: action.origin },
        navigation: true,
        fetchSite: 'same-origin',
      },
      options,
    );
  }

  /** Cookies that would be sent to `url`, with their attributes. */
  async cookies(url: string | URL): Promise<CookieInfo[]> {
    const cookies = await this.jar.getCookies(new URL(url).href);
    return cookies.map(toCookieInfo);
  }

  /** One cookie by name that would be sent to `url`. */
  async cookie(url: string | URL, name: string): Promise<CookieInfo | undefined> {
    return (await this.cookies(url)).find((cookie) => cookie.name === name);
  }

  /** Every stored cookie, for any URL. */
  async allCookies(): Promise<CookieInfo[]> {
    return (await this.jar.store.getAllCookies()).map(toCookieInfo);
  }

  /** Stores a cookie as if `url` had answered with this Set-Cookie value (e.g. `'session=abc; Path=/'`). */
  async setCookie(setCookie: string, url: string | URL): Promise<void> {
    await this.jar.setCookie(setCookie, new URL(url).href);
  }

  async clearCookies(): Promise<void> {
    await this.jar.removeAllCookies();
  }

  /**
   * Plain OAuth2 (SSO_URL mode): requests the object through the proxy and
   * follows proxy -> SSO authorize (auto-approved) -> proxy callback -> object.
   */
  async signInOAuth2(objectUrl: string | URL, options: FollowOptions = {}): Promise<FollowResult> {
    return this.follow(objectUrl, {}, options);
  }

  /**
   * OpenID Connect mode: requests the object, follows redirects, and on
   * landing on the issuer's login page submits `username`/`password`; on a
   * consent page (issuer started with `consent: 'page'`) clicks Allow; then
   * follows back through the proxy's callback to the object. If the issuer
   * shows the login page again (wrong password) it stops there with
   * `loginRejected: true`. Also works when the issuer session already exists
   * (no login page appears).
   */
  async signInOidc(
    objectUrl: string | URL,
    credentials: { username: string; password: string },
    options: FollowOptions = {},
  ): Promise<SignInResult> {
    let result = await this.follow(objectUrl, {}, options);
    const chain = [...result.chain];
    let loginSubmissions = 0;

    for (let step = 0; step < 5; step++) {
      const type = result.response.headers.get('content-type') ?? '';
      if (result.response.status !== 200 || !type.includes('text/html')) break;
      const html = await result.response.clone().text();
      const forms = parseForms(html, result.url);
      const login = forms.find((form) => form.id === 'login-form');
      const consent = forms.find((form) => form.id === 'consent-form');
      if (login) {
        if (loginSubmissions > 0) {
          return { ...result, chain, loginSubmissions, loginRejected: true };
        }
        loginSubmissions += 1;
        result = await this.submitForm(login, { username: credentials.username, password: credentials.password }, options);
      } else if (consent) {
        result = await this.submitForm(consent, { decision: 'allow' }, options);
      } else {
        break;
      }
      chain.push(...result.chain);
    }
    return { ...result, chain, loginSubmissions, loginRejected: false };
  }
}

/** Signs a fresh user agent in through the proxy's OAuth2 SSO and returns its Cookie header for `cookieUrl`. */
export async function signedInCookie(objectUrl: string, cookieUrl: string): Promise<string> {
  const user = new UserAgent();
  const signedIn = await user.signInOAuth2(objectUrl);
  if (signedIn.response.status !== 200) throw new Error(`sign-in failed: ${signedIn.response.status}`);
  return (await user.jar.getCookieString(cookieUrl)) ?? '';
}
