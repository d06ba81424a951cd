// Signing out. GET shows a page with a sign-out button; only its POST, sent
// from the proxy's own origin, ends the session: another site can neither
// sign a user out nor send them through the provider's logout. Then the
// session goes from Redis, the cookie expires, and the browser goes to the
// provider's end-session endpoint where it has one (OIDC RP-initiated
// logout), else to a short "signed out" page.
import { HttpProblem } from '../shared/http-problem.ts';
import { escapeHtml } from '../shared/html.ts';
import { fromSameOrigin } from '../shared/same-origin.ts';
import type { SignInDeps } from './sign-in.ts';
import { expired, proxyCookie } from './cookies.ts';
import type { AuthOutcome, AuthRequest } from './outcome.ts';

export const signOutPath = '/__s3proxy/logout';
export const signedOutPath = '/__s3proxy/signed-out';

// A page with a button must not be framed by another site, which could
// trick a click on it (the click would then be same-origin).
const pageHeaders = { 'content-security-policy': "frame-ancestors 'none'", 'x-frame-options': 'DENY' };

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#222}button{font:inherit;padding:.4rem 1rem}</style>
</head><body>
${body}
</body></html>
`;
}

export function signOutPage(): AuthOutcome {
  return {
    kind: 'page',
    cookies: [],
    headers: pageHeaders,
    html: page(
      'Sign out',
      `<h1>Sign out</h1>
<form method="post" action="${signOutPath}"><button id="sign-out" type="submit">Sign out</button></form>`,
    ),
  };
}

export async function signOut(request: AuthRequest, deps: SignInDeps): Promise<AuthOutcome> {
  const { config } = deps;
  if (!fromSameOrigin(request.headers, request.origin)) {
    return {
      kind: 'refused',
      cookies: [],
      problem: new HttpProblem(403, 'sign-out not sent from this site', {}, `Please sign out with the button on ${signOutPath}.`),
    };
  }
  await deps.sessions.destroy(request.cookie(config.session.cookieName));
  const cookies = [expired(proxyCookie(config, request.origin, config.session.cookieName, '', { maxAgeSeconds: 0 }))];
  const signedOut = request.origin + signedOutPath;
  let endSession: URL | undefined;
  try {
    endSession = await deps.sso.endSessionUrl(signedOut);
  } catch {
    // The provider being away must not keep anyone signed in here.
    endSession = undefined;
  }
  // 303: the browser follows a POST's answer with a GET.
  return { kind: 'redirect', location: endSession?.href ?? signedOut, status: 303, cookies };
}

export function signedOutPage(): AuthOutcome {
  return {
    kind: 'page',
    cookies: [],
    headers: pageHeaders,
    html: page('Signed out', `<h1>${escapeHtml('You have signed out')}</h1>\n<p><a href="/">Sign in again</a></p>`),
  };
}
