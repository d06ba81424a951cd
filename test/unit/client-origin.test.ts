import test from 'ava';
import { clientOrigin, isNavigation, originFormTarget } from '../../src/shared/client-origin.ts';

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

test('only top-level navigations count as navigations', (t) => {
  t.true(isNavigation('navigate', '*/*'));
  t.false(isNavigation('cors', 'text/html'));
  t.false(isNavigation('no-cors', undefined));
  t.true(isNavigation(undefined, 'text/html,application/xhtml+xml'));
  t.false(isNavigation(undefined, '*/*'));
});
