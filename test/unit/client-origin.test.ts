import test from 'ava';
import { clientOrigin, isNavigation, originFormTarget, type NavigationSignals } from '../../src/shared/client-origin.ts';

test('x-forwarded-proto decides the scheme of the callback', (t) => {
  t.like(clientOrigin('https', false, 'assets.example.org'), { ok: true, origin: 'https://assets.example.org' });
  t.like(clientOrigin('https, http', false, 'a.example'), { ok: true, proto: 'https' });
  t.like(clientOrigin(undefined, false, '127.0.0.1:8080'), { ok: true, origin: 'http://127.0.0.1:8080' });
  t.like(clientOrigin('gopher', false, 'a.example'), { ok: true, proto: 'http' });
});

test('a Host header that is not a host name is refused', (t) => {
  for (const host of ['evil.example/path', 'a b', 'x@evil', '', 'a.example:99999999', 'évil.example']) {
    t.false(clientOrigin(undefined, false, host).ok, host);
  }
  t.true(clientOrigin(undefined, false, '[::1]:8080').ok);
});

test('the request-target keeps a trailing question mark', (t) => {
  t.deepEqual(originFormTarget('/a/b?'), { path: '/a/b', query: '' });
  t.deepEqual(originFormTarget('/a/b'), { path: '/a/b', query: undefined });
  t.is(originFormTarget('http://x/a'), undefined);
});

const signals = (overrides: Partial<NavigationSignals> = {}): NavigationSignals => ({
  secFetchMode: undefined,
  acceptsHtml: true,
  authorization: false,
  ...overrides,
});

test('a browser that sends fetch metadata is navigating only when it says so', (t) => {
  t.true(isNavigation(signals({ secFetchMode: 'navigate' })));
  t.true(isNavigation(signals({ secFetchMode: 'navigate', acceptsHtml: false })));
  for (const mode of ['cors', 'no-cors', 'same-origin', 'websocket', '']) {
    t.false(isNavigation(signals({ secFetchMode: mode })), mode);
  }
});

test('a client without fetch metadata is navigating unless its Accept rules HTML out', (t) => {
  t.true(isNavigation(signals({ acceptsHtml: true })));
  t.false(isNavigation(signals({ acceptsHtml: false })));
});

test('a request with an Authorization header is never a navigation', (t) => {
  t.false(isNavigation(signals({ authorization: true })));
  t.false(isNavigation(signals({ authorization: true, secFetchMode: 'navigate' })));
});
