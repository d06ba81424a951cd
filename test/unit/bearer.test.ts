// The bearer-token rules for API keys, as a table: what is accepted, what is
// refused and for which reason. Real keys in a real directory (a temporary
// one), real jose signatures; the verifier is the one the proxy runs.
import test from 'ava';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';
import { BearerVerifier, type BearerVerdict } from '../../src/auth/bearer.ts';

const audience = 'https://assets.example.org';
const ada = 'ada@example.org';
let dir: string;

interface Pair {
  publicKey: KeyObject;
  privateKey: KeyObject;
}
const rsa = (): Pair => generateKeyPairSync('rsa', { modulusLength: 2048 });
const keys = {
  ada: rsa(),
  other: rsa(),
  ec: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  ed: generateKeyPairSync('ed25519'),
};
/** jose will not sign with an RSA key under 2048 bits, so this one is signed with node:crypto */
const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
function rs256ByHand(claims: JWTPayload, key: KeyObject): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}
const pem = (key: KeyObject): string => key.export({ type: key.type === 'private' ? 'pkcs8' : 'spki', format: 'pem' }).toString();

async function writeKey(user: string, key: KeyObject | string): Promise<void> {
  await writeFile(path.join(dir, `${user}_public.pem`), typeof key === 'string' ? key : pem(key));
}

test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'bearer-keys-'));
  await writeKey(ada, keys.ada.publicKey);
  await writeKey('eve@example.org', keys.ec.publicKey);
  await writeKey('ed@example.org', keys.ed.publicKey);
  await writeKey('small@example.org', small.publicKey);
  await writeKey('leaky@example.org', pem(keys.other.privateKey));
  await writeKey('junk@example.org', 'not a key\n');
  await writeFile(path.join(dir, 'README.txt'), 'not a key file');
});

test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

const verifier = (): BearerVerifier =>
  new BearerVerifier({
    api: { publicKeysDir: dir, audience },
    sso: { mode: 'oauth2', url: 'https://sso.example.org/', internalUrl: 'https://sso.example.org/', clientId: 'c', clientSecret: 's' },
    ssoClient: { jwksUri: async () => undefined },
  });

const now = (): number => Math.floor(Date.now() / 1000);

interface TokenSpec {
  alg?: string;
  key?: KeyObject | Uint8Array;
  claims?: JWTPayload;
  /** claims to leave out of the defaults */
  omit?: Array<'sub' | 'aud' | 'exp' | 'iat'>;
}

async function token(spec: TokenSpec = {}): Promise<string> {
  const t = now();
  const defaults: JWTPayload = { sub: ada, aud: audience, iat: t, exp: t + 300 };
  for (const claim of spec.omit ?? []) delete defaults[claim];
  return new SignJWT({ ...defaults, ...spec.claims })
    .setProtectedHeader({ alg: spec.alg ?? 'RS256', typ: 'JWT' })
    .sign(spec.key ?? keys.ada.privateKey);
}

async function verdict(jwt: string): Promise<BearerVerdict> {
  return verifier().verify(jwt);
}

function refusedFor(t: import('ava').ExecutionContext, v: BearerVerdict, reason: RegExp): void {
  if (v.ok) {
    t.fail(`accepted as ${v.identity.email}, expected a refusal matching ${reason}`);
    return;
  }
  t.regex(v.reason, reason);
}

// --- accepted ---------------------------------------------------------------

const accepted: Array<[string, () => Promise<string>, string]> = [
  ['RS256 with the user\'s RSA key', () => token(), ada],
  ['PS256 with the user\'s RSA key', () => token({ alg: 'PS256' }), ada],
  ['ES256 with the user\'s P-256 key', () => token({ alg: 'ES256', key: keys.ec.privateKey, claims: { sub: 'eve@example.org' } }), 'eve@example.org'],
  ['EdDSA with the user\'s Ed25519 key', () => token({ alg: 'EdDSA', key: keys.ed.privateKey, claims: { sub: 'ed@example.org' } }), 'ed@example.org'],
  ['exp exactly 10 minutes after iat', () => token({ claims: { exp: now() + 600 } }), ada],
  ['an aud list that contains API_AUDIENCE', () => token({ claims: { aud: ['https://other.example.org', audience] } }), ada],
];

for (const [name, make, email] of accepted) {
  test(`accepted: ${name}`, async (t) => {
    const v = await verdict(await make());
    t.true(v.ok, v.ok ? '' : v.reason);
    if (v.ok) {
      t.is(v.identity.email, email);
      t.is(v.kind, 'api-key');
    }
  });
}

// --- refused ----------------------------------------------------------------

const refused: Array<[string, () => Promise<string>, RegExp]> = [
  ['a token signed by another key', () => token({ key: keys.other.privateKey }), /signature does not verify/],
  ['alg none (no signature)', async () => new UnsecuredJWT({ sub: ada, aud: audience, iat: now(), exp: now() + 60 }).encode(), /not a signed JWT/],
  [
    'alg none with something in the signature part',
    async () => `${new UnsecuredJWT({ sub: ada, aud: audience, iat: now(), exp: now() + 60 }).encode()}AAAA`,
    /alg "none" is not one of/,
  ],
  ['HS256 with the user\'s public key as the secret', () => token({ alg: 'HS256', key: new TextEncoder().encode(pem(keys.ada.publicKey)) }), /alg "HS256" is not one of/],
  ['HS512 with the user\'s public key as the secret', () => token({ alg: 'HS512', key: new TextEncoder().encode(pem(keys.ada.publicKey)) }), /alg "HS512" is not one of/],
  ['an algorithm that does not fit the key (ES256 header, RSA key file)', () => token({ alg: 'ES256', key: keys.ec.privateKey }), /ES256/],
  ['expired', () => token({ claims: { iat: now() - 400, exp: now() - 60 } }), /^expired$/],
  ['no exp', () => token({ omit: ['exp'] }), /^no exp$/],
  ['no iat', () => token({ omit: ['iat'] }), /^no iat$/],
  ['iat in the future', () => token({ claims: { iat: now() + 300, exp: now() + 600 } }), /iat is in the future/],
  ['exp more than 10 minutes after iat', () => token({ claims: { exp: now() + 601 } }), /more than 600 s after iat/],
  ['a long-lived token (exp a day after iat)', () => token({ claims: { exp: now() + 86_400 } }), /more than 600 s after iat/],
  ['iat more than 10 minutes ago', () => token({ claims: { iat: now() - 700, exp: now() + 60 } }), /too old/],
  ['nbf in the future', () => token({ claims: { nbf: now() + 300 } }), /nbf/],
  ['wrong aud', () => token({ claims: { aud: 'https://other.example.org' } }), /^wrong aud$/],
  ['no aud', () => token({ omit: ['aud'] }), /^no aud$/],
  ['no sub', () => token({ omit: ['sub'] }), /^no sub$/],
  ['an unknown user', () => token({ claims: { sub: 'mallory@example.org' } }), /no key file for mallory@example.org/],
  ['a sub that names another user\'s file by case', () => token({ claims: { sub: 'ADA@example.org' } }), /no key file/],
  ['a sub with ../', () => token({ claims: { sub: '../ada@example.org' } }), /sub is not an email/],
  ['a sub with a slash', () => token({ claims: { sub: 'x/../ada@example.org' } }), /sub is not an email/],
  ['a sub with a backslash', () => token({ claims: { sub: 'x\\ada@example.org' } }), /sub is not an email/],
  ['a sub with a NUL', () => token({ claims: { sub: 'ada@example.org\u0000' } }), /sub is not an email/],
  ['a sub that is a dot file', () => token({ claims: { sub: '.ada@example.org' } }), /sub is not an email/],
  ['a sub that is not an email', () => token({ claims: { sub: 'README.txt' } }), /sub is not an email/],
  ['a sub that is not a string', () => token({ claims: { sub: 42 as unknown as string } }), /no sub|sub/],
  ['a key file under 2048 bits', async () => rs256ByHand({ sub: 'small@example.org', aud: audience, iat: now(), exp: now() + 60 }, small.privateKey), /at least 2048/],
  ['a key file that holds a private key', () => token({ claims: { sub: 'leaky@example.org' }, key: keys.other.privateKey }), /holds a private key/],
  ['a key file that is not a key', () => token({ claims: { sub: 'junk@example.org' } }), /not a PEM public key/],
  ['something that is not a JWT', async () => 'not-a-jwt', /not a signed JWT/],
  ['a JWE-shaped token (five parts)', async () => 'a.b.c.d.e', /not a signed JWT/],
  ['garbage in JWT shape', async () => 'e30.e30.AAAA', /alg/],
];

for (const [name, make, reason] of refused) {
  test(`refused: ${name}`, async (t) => {
    refusedFor(t, await verdict(await make()), reason);
  });
}

// --- the directory is read as it is now ------------------------------------

test('a key file added while running is picked up, a replaced one counts at once, a removed one stops counting', async (t) => {
  const v = verifier();
  const carol = 'carol@example.org';
  const first = rsa();
  const second = rsa();
  const byFirst = await token({ key: first.privateKey, claims: { sub: carol } });
  const bySecond = await token({ key: second.privateKey, claims: { sub: carol } });

  refusedFor(t, await v.verify(byFirst), /no key file for carol/);
  await writeKey(carol, first.publicKey);
  t.true((await v.verify(byFirst)).ok, 'the new key file is read without a restart');

  await writeKey(carol, second.publicKey);
  refusedFor(t, await v.verify(byFirst), /signature does not verify/);
  t.true((await v.verify(bySecond)).ok, 'the replaced key file is read again');

  await unlink(path.join(dir, `${carol}_public.pem`));
  refusedFor(t, await v.verify(bySecond), /no key file for carol/);
});

test('without API_PUBLIC_KEYS_DIR no API-key token is accepted', async (t) => {
  const v = new BearerVerifier({
    sso: { mode: 'oauth2', url: 'https://sso.example.org/', internalUrl: 'https://sso.example.org/', clientId: 'c', clientSecret: 's' },
    ssoClient: { jwksUri: async () => undefined },
  });
  t.false(v.enabled);
  refusedFor(t, await v.verify(await token()), /API_PUBLIC_KEYS_DIR is not set/);
});
