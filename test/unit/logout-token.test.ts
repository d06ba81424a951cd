// Logout token checks (Back-Channel Logout 1.0, section 2.6), without I/O:
// a key set held in memory, tokens signed here.
import test from 'ava';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { backchannelLogoutEvent, LogoutTokenRejected, verifyLogoutToken } from '../../src/auth/backchannel-logout.ts';
import type { LogoutTokenIssuer } from '../../src/auth/sso-client.ts';

const issuerUrl = 'https://login.example.org/realms/staff';
const clientId = 'assets-proxy';
const kid = 'issuer-key-1';

type SigningKey = Parameters<SignJWT['sign']>[0];

let issuerKey: SigningKey;
let strangerKey: SigningKey;
let from: LogoutTokenIssuer;

test.before(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  issuerKey = pair.privateKey;
  strangerKey = (await generateKeyPair('RS256')).privateKey;
  const publicJwk = { ...(await exportJWK(pair.publicKey)), kid, alg: 'RS256', use: 'sig' };
  from = { issuer: issuerUrl, keys: createLocalJWKSet({ keys: [publicJwk] }), algorithms: ['RS256'] };
});

const now = () => Math.floor(Date.now() / 1000);

function claims(overrides: Record<string, unknown> = {}): JWTPayload {
  const base: Record<string, unknown> = {
    iss: issuerUrl,
    aud: clientId,
    iat: now(),
    exp: now() + 120,
    jti: `jti-${Math.random()}`,
    sub: 'alice-sub',
    sid: 'provider-session-1',
    events: { [backchannelLogoutEvent]: {} },
  };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete base[name];
    else base[name] = value;
  }
  return base as JWTPayload;
}

function sign(payload: JWTPayload, key: SigningKey = issuerKey, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid, typ: 'logout+jwt', ...header }).sign(key);
}

async function rejection(token: string): Promise<string> {
  const error = await verifyLogoutToken(token, from, clientId).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof LogoutTokenRejected)) throw new Error(`expected a LogoutTokenRejected, got ${String(error)}`);
  return error.message;
}

test('a logout token of the issuer, for this client, with the event, is accepted with its sub, sid and jti', async (t) => {
  const payload = claims();
  t.deepEqual(await verifyLogoutToken(await sign(payload), from, clientId), { jti: payload.jti!, sub: 'alice-sub', sid: 'provider-session-1' });
  t.deepEqual(await verifyLogoutToken(await sign(claims({ sid: undefined, jti: 'only-sub' })), from, clientId), { jti: 'only-sub', sub: 'alice-sub' });
  t.deepEqual(await verifyLogoutToken(await sign(claims({ sub: undefined, jti: 'only-sid' })), from, clientId), {
    jti: 'only-sid',
    sid: 'provider-session-1',
  });
  // aud may be an array naming this client among others; exp is not required (the 2016 drafts had none)
  t.truthy(await verifyLogoutToken(await sign(claims({ aud: ['other', clientId], exp: undefined })), from, clientId));
});

test('a token signed with a key that is not in the issuer key set is refused, even under the issuer key id', async (t) => {
  t.regex(await rejection(await sign(claims(), strangerKey)), /signature/);
  t.regex(await rejection(await sign(claims(), strangerKey, { kid: 'some-other-kid' })), /no key/);
});

test('a token of another issuer or for another client is refused', async (t) => {
  t.regex(await rejection(await sign(claims({ iss: 'https://evil.example.org' }))), /iss/);
  t.regex(await rejection(await sign(claims({ aud: 'another-client' }))), /aud/);
});

test('a token without iat, issued too long ago or in the future, or expired, is refused', async (t) => {
  t.regex(await rejection(await sign(claims({ iat: undefined }))), /iat/);
  t.regex(await rejection(await sign(claims({ iat: now() - 3600, exp: now() + 60 }))), /iat/);
  t.regex(await rejection(await sign(claims({ iat: now() + 3600 }))), /iat/);
  t.regex(await rejection(await sign(claims({ iat: now() - 200, exp: now() - 100 }))), /expired/);
});

test('a token without the back-channel logout event is refused', async (t) => {
  t.regex(await rejection(await sign(claims({ events: undefined }))), /events/);
  t.regex(await rejection(await sign(claims({ events: { 'http://schemas.openid.net/event/other': {} } }))), /no back-channel logout event/);
  t.regex(await rejection(await sign(claims({ events: [backchannelLogoutEvent] }))), /no back-channel logout event/);
  t.regex(await rejection(await sign(claims({ events: { [backchannelLogoutEvent]: 'yes' } }))), /not a JSON object/);
});

test('a token with a nonce (an ID token, say) is refused', async (t) => {
  t.regex(await rejection(await sign(claims({ nonce: 'n-0S6_WzA2Mj' }))), /nonce/);
});

test('a token naming neither sub nor sid, or without jti, is refused', async (t) => {
  t.regex(await rejection(await sign(claims({ sub: undefined, sid: undefined }))), /neither sub nor sid/);
  t.regex(await rejection(await sign(claims({ jti: undefined }))), /jti/);
  t.regex(await rejection(await sign(claims({ sid: 42 }))), /sid/);
});

test('an unsigned or malformed token is refused', async (t) => {
  const [header, payload] = (await sign(claims())).split('.');
  const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'logout+jwt' })).toString('base64url');
  t.truthy(await rejection(`${none}.${payload}.`));
  t.truthy(await rejection(`${header}.${payload}.`));
  t.truthy(await rejection('not-a-jwt'));
});
