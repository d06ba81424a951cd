import test from 'ava';
import { EncryptJWT } from 'jose';
import { capabilityKey, openCapability, sealCapability, type Capability } from '../../src/uploads/capability.ts';
import { loginStateKey, sealLoginState } from '../../src/auth/login-state-cookie.ts';

const key = capabilityKey('a shared secret of the proxy instances');
const now = Date.UTC(2025, 0, 1, 12, 0, 0);

const part: Capability = {
  kind: 'part',
  owner: 'ada@example.org',
  key: 'uploads/ada@example.org/big.bin',
  uploadId: '2~abc.DEF-ghi_jkl',
  partNumber: 7,
  maxBytes: 5 * 1024 ** 3,
  md5: 'XUFAKrxLKna5cZ2REBfFkg==',
};
const put: Capability = {
  kind: 'put',
  owner: 'ada@example.org',
  key: 'uploads/ada@example.org/notes.txt',
  size: 12,
  type: 'text/plain; charset=utf-8',
  ifNoneMatch: true,
  metadata: { project: 'apollo' },
};
const post: Capability = { kind: 'post', owner: 'bob@example.org', key: 'uploads/bob@example.org/a.png', minBytes: 0, maxBytes: 1000, type: 'image/png' };

test('a capability opens to exactly what was sealed, with its expiry, until it expires', async (t) => {
  for (const capability of [part, put, post]) {
    const sealed = await sealCapability(key, capability, 900, now);
    t.regex(sealed, /^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'a compact JWE, safe in a URL path');
    t.deepEqual(await openCapability(key, sealed, now + 899_000), { ...capability, expiresAt: Math.floor(now / 1000) * 1000 + 900_000 });
    t.is(await openCapability(key, sealed, now + 901_000), undefined, `${capability.kind}: expired`);
  }
});

test('nothing in a capability can be read or changed without the key', async (t) => {
  const sealed = await sealCapability(key, put, 900, now);
  t.false(sealed.includes('ada'), 'the owner is not in clear text');
  t.false(Buffer.from(sealed.split('.')[3]!, 'base64url').toString('latin1').includes('notes.txt'));
  for (let i = 0; i < sealed.length; i += 7) {
    if (sealed[i] === '.') continue;
    const altered = sealed.slice(0, i) + (sealed[i] === 'A' ? 'B' : 'A') + sealed.slice(i + 1);
    t.is(await openCapability(key, altered, now), undefined, `changed at ${i}`);
  }
  t.is(await openCapability(capabilityKey('another secret'), sealed, now), undefined, 'another instance secret');
});

test('the key is domain-separated: a sealed sign-in state made from the same secret is no capability', async (t) => {
  const secret = 'a shared secret of the proxy instances';
  const login = await sealLoginState(loginStateKey(secret), { state: 's'.repeat(43), codeVerifier: 'v', redirectUri: 'https://p/cb', returnTo: 'https://p/' }, 900, now);
  t.is(await openCapability(capabilityKey(secret), login, now), undefined);
});

test('claims that do not make a capability of their kind are refused even when sealed with the key', async (t) => {
  const seal = (claims: Record<string, unknown>) =>
    new EncryptJWT(claims).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).setIssuedAt(now / 1000).setExpirationTime(now / 1000 + 60).encrypt(key);
  const cases: Array<[string, Record<string, unknown>]> = [
    ['unknown kind', { k: 'delete', o: 'ada@example.org', key: 'k' }],
    ['a part without an upload id', { k: 'part', o: 'ada@example.org', key: 'k', n: 1, hi: 10 }],
    ['a part without its limit', { k: 'part', o: 'ada@example.org', key: 'k', u: 'id', n: 1 }],
    ['a PUT without a size', { k: 'put', o: 'ada@example.org', key: 'k', t: 'text/plain' }],
    ['a POST without bounds', { k: 'post', o: 'ada@example.org', key: 'k', t: 'text/plain' }],
    ['a negative size', { k: 'put', o: 'ada@example.org', key: 'k', t: 'text/plain', s: -1 }],
    ['no owner', { k: 'put', o: '', key: 'k', t: 'text/plain', s: 1 }],
    ['metadata that is not text', { k: 'put', o: 'ada@example.org', key: 'k', t: 'text/plain', s: 1, meta: { a: 1 } }],
  ];
  for (const [what, claims] of cases) t.is(await openCapability(key, await seal(claims), now), undefined, what);
  t.truthy(await openCapability(key, await seal({ k: 'put', o: 'ada@example.org', key: 'k', t: 'text/plain', s: 1 }), now), 'the control');
  const noExpiry = await new EncryptJWT({ k: 'put', o: 'ada@example.org', key: 'k', t: 'text/plain', s: 1 }).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).encrypt(key);
  t.is(await openCapability(key, noExpiry, now), undefined, 'no expiry');
});

test('what is not a compact JWE is refused without decrypting', async (t) => {
  for (const bad of ['', 'x', 'a.b.c', 'a..b.c.d.e', `${'a'.repeat(9000)}..b.c.d`, 'eyJ..a.b.c%2F']) t.is(await openCapability(key, bad, now), undefined, bad);
});
