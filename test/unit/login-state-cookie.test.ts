import test from 'ava';
import { EncryptJWT } from 'jose';
import {
  admitFlow,
  flowCookieName,
  flowId,
  formatFlowIndex,
  indexCookieName,
  loginStateKey,
  maxFlowBytes,
  maxFlows,
  openLoginState,
  parseFlowIndex,
  returnCandidates,
  sealLoginState,
  withoutFlow,
  type FlowEntry,
  type LoginState,
} from '../../src/auth/login-state-cookie.ts';

const key = loginStateKey('sso-client-secret-for-unit-tests');
const login: LoginState = {
  state: 'Zk3v1xQ8mR2pL0aB7cD9eF4gH6iJ5kL1mN3oP8qR2sT',
  codeVerifier: 'verifier-9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8',
  nonce: 'nonce-1a2b3c4d5e6f7a8b9c0d',
  redirectUri: 'https://assets.example.org/__redirect_from_sso',
  returnTo: 'https://assets.example.org/reports/q3.pdf?download',
};
const now = Date.UTC(2026, 0, 1);

test('a sealed login state opens with the same key, whole, expiring after the TTL', async (t) => {
  const sealed = await sealLoginState(key, login, 600, now);
  t.deepEqual(await openLoginState(key, sealed, now), { ...login, expiresAt: now + 600_000 });
  t.deepEqual(await openLoginState(loginStateKey('sso-client-secret-for-unit-tests'), sealed, now), { ...login, expiresAt: now + 600_000 }, 'every instance derives the same key');
});

test('a login state without a nonce opens without one', async (t) => {
  const { nonce: _nonce, ...plain } = login;
  const opened = await openLoginState(key, await sealLoginState(key, plain, 60, now), now);
  t.truthy(opened);
  t.false('nonce' in opened!);
});

test('a login state does not open with another secret\'s key', async (t) => {
  const sealed = await sealLoginState(key, login, 600, now);
  t.is(await openLoginState(loginStateKey('another-secret'), sealed, now), undefined);
});

test('a tampered login state does not open, whichever part was changed', async (t) => {
  const sealed = await sealLoginState(key, login, 600, now);
  const parts = sealed.split('.');
  for (let index = 0; index < parts.length; index += 1) {
    if (parts[index] === '') continue; // dir: the encrypted key part is empty
    const changed = [...parts];
    const part = changed[index]!;
    changed[index] = part.slice(0, 4) + (part[4] === 'A' ? 'B' : 'A') + part.slice(5);
    t.is(await openLoginState(key, changed.join('.'), now), undefined, `part ${index}`);
  }
});

test('an expired login state does not open', async (t) => {
  const sealed = await sealLoginState(key, login, 600, now);
  t.truthy(await openLoginState(key, sealed, now + 599_000));
  t.is(await openLoginState(key, sealed, now + 600_000), undefined);
  t.is(await openLoginState(key, sealed, now + 3_600_000), undefined);
});

test('junk, and a well-sealed token that is not a login state, do not open and do not throw', async (t) => {
  for (const junk of ['', 'x', 'a.b.c.d.e', '....', 'eyJhbGciOiJkaXIifQ....']) t.is(await openLoginState(key, junk, now), undefined, junk);
  const notLogin = await new EncryptJWT({ state: 1 }).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).setExpirationTime(Math.floor(now / 1000) + 60).encrypt(key);
  t.is(await openLoginState(key, notLogin, now), undefined);
  const noExpiry = await new EncryptJWT({ ...login }).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).encrypt(key);
  t.is(await openLoginState(key, noExpiry, now), undefined, 'a state without an expiry would live for ever');
});

test('the sealed form reveals nothing of the state: no part decodes to any secret or to the return URL', async (t) => {
  const sealed = await sealLoginState(key, login, 600, now);
  const decoded = sealed.split('.').map((part) => Buffer.from(part, 'base64url'));
  for (const secret of [login.codeVerifier, login.nonce!, login.state, 'reports/q3.pdf', 'assets.example.org']) {
    for (const part of decoded) {
      for (const encoding of ['utf8', 'latin1', 'hex', 'base64', 'base64url'] as const) t.false(part.toString(encoding).includes(secret), `${secret} in ${encoding}`);
    }
    t.false(sealed.includes(secret), secret);
  }
});

test('flow cookies are named by the first 16 characters of the state, beside the index cookie', (t) => {
  t.is(flowId(login.state), 'Zk3v1xQ8mR2pL0aB');
  t.is(flowCookieName('assets_session_id', flowId(login.state)), 'assets_session_id_login_Zk3v1xQ8mR2pL0aB');
  t.is(indexCookieName('assets_session_id'), 'assets_session_id_logins');
});

test('return candidates: the whole URL, then without the query, then the root', (t) => {
  t.deepEqual(returnCandidates('https://a.example', '/x/y.pdf?download&b=%20'), ['https://a.example/x/y.pdf?download&b=%20', 'https://a.example/x/y.pdf', 'https://a.example/']);
  t.deepEqual(returnCandidates('https://a.example', '/x?'), ['https://a.example/x?', 'https://a.example/x', 'https://a.example/']);
  t.deepEqual(returnCandidates('https://a.example', '/'), ['https://a.example/']);
});

const entry = (n: number, size = 700): FlowEntry => ({ id: `flow${String(n).padStart(12, '0')}`, size });

test('the flow index survives formatting and parsing', (t) => {
  const entries = [entry(1, 650), entry(2, 3999), entry(3, 1)];
  t.deepEqual(parseFlowIndex(formatFlowIndex(entries)), entries);
  t.deepEqual(parseFlowIndex(undefined), []);
  t.deepEqual(parseFlowIndex(''), []);
});

test('a malformed or overlong flow index is read as far as it is well-formed, never more than ten entries', (t) => {
  const good = formatFlowIndex([entry(1), entry(2)]);
  t.deepEqual(parseFlowIndex(`${good}.junk.${formatFlowIndex([entry(1)])}.;x`), [entry(1), entry(2)], 'junk and repeats are skipped');
  const many = formatFlowIndex(Array.from({ length: 25 }, (_, n) => entry(n, 10)));
  t.deepEqual(parseFlowIndex(many), Array.from({ length: 10 }, (_, n) => entry(n + 15, 10)), 'the newest ten');
});

test('an eleventh flow drops the oldest, so a browser never holds more than ten', (t) => {
  let entries: FlowEntry[] = [];
  const dropped: FlowEntry[] = [];
  for (let n = 0; n < 13; n += 1) {
    const admitted = admitFlow(entries, entry(n, 500));
    entries = admitted.kept;
    dropped.push(...admitted.dropped);
    t.true(entries.length <= maxFlows);
  }
  t.deepEqual(entries.map((e) => e.id), Array.from({ length: 10 }, (_, n) => entry(n + 3).id));
  t.deepEqual(dropped.map((e) => e.id), [entry(0).id, entry(1).id, entry(2).id]);
});

test('flows also go, oldest first, while their cookies together exceed the byte budget', (t) => {
  const entries = [entry(1, 3000), entry(2, 3000), entry(3, 1000)];
  const { kept, dropped } = admitFlow(entries, entry(4, 3000));
  t.deepEqual(dropped.map((e) => e.id), [entry(1).id]);
  t.deepEqual(kept.map((e) => e.id), [entry(2).id, entry(3).id, entry(4).id]);
  t.true(kept.reduce((sum, e) => sum + e.size, 0) <= maxFlowBytes);
  // The new flow is always kept, even alone.
  t.deepEqual(admitFlow(entries, entry(5, 9000)).kept, [entry(5, 9000)]);
});

test('a finished flow leaves the index', (t) => {
  t.deepEqual(withoutFlow([entry(1), entry(2), entry(3)], entry(2).id), [entry(1), entry(3)]);
});
