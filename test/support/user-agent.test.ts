// The test user agent sends and stores cookies as a browser does with
// SameSite, so that cross-site request forgery can be tested against it.
import test from 'ava';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { UserAgent } from './user-agent.ts';

let base: string;
let server: http.Server;
const seen: Array<{ path: string; cookie: string | undefined; fetchSite: string | undefined; fetchMode: string | undefined }> = [];

test.before(async () => {
  server = http.createServer((req, res) => {
    seen.push({ path: req.url ?? '', cookie: req.headers.cookie, fetchSite: req.headers['sec-fetch-site'] as string | undefined, fetchMode: req.headers['sec-fetch-mode'] as string | undefined });
    if (req.url === '/set') {
      res.writeHead(200, {
        'set-cookie': ['lax=1; Path=/; SameSite=Lax', 'strict=2; Path=/; SameSite=Strict', 'none=3; Path=/; SameSite=None; Secure'],
      });
    } else if (req.url === '/set-more') {
      res.writeHead(200, { 'set-cookie': ['later_lax=4; Path=/; SameSite=Lax', 'later_none=5; Path=/; SameSite=None; Secure'] });
    } else {
      res.writeHead(200);
    }
    res.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

test.after.always(() => server?.close());

async function sentCookies(ua: UserAgent, path: string, init: Parameters<UserAgent['request']>[1]): Promise<string[]> {
  const response = await ua.request(`${base}${path}`, init);
  await response.arrayBuffer();
  const request = seen.findLast((entry) => entry.path === path)!;
  return (request.cookie ?? '').split('; ').filter(Boolean).sort();
}

async function browserWithCookies(): Promise<UserAgent> {
  const ua = new UserAgent();
  await (await ua.request(`${base}/set`)).arrayBuffer();
  return ua;
}

test('same-site requests carry every cookie', async (t) => {
  const ua = await browserWithCookies();
  t.deepEqual(await sentCookies(ua, '/a', {}), ['lax=1', 'none=3', 'strict=2']);
  t.deepEqual(await sentCookies(ua, '/b', { method: 'POST', navigation: true, fetchSite: 'same-origin' }), ['lax=1', 'none=3', 'strict=2']);
  t.deepEqual(await sentCookies(ua, '/c', { navigation: false }), ['lax=1', 'none=3', 'strict=2']);
});

test('a cross-site top-level GET navigation carries Lax and None cookies, not Strict ones', async (t) => {
  const ua = await browserWithCookies();
  t.deepEqual(await sentCookies(ua, '/d', { fetchSite: 'cross-site' }), ['lax=1', 'none=3']);
});

test('a cross-site POST, even a navigation, and a cross-site fetch carry only SameSite=None cookies', async (t) => {
  const ua = await browserWithCookies();
  t.deepEqual(await sentCookies(ua, '/e', { method: 'POST', navigation: true, fetchSite: 'cross-site', body: 'x' }), ['none=3']);
  t.deepEqual(await sentCookies(ua, '/f', { navigation: false, fetchSite: 'cross-site' }), ['none=3']);
});

test('a cross-site fetch cannot set SameSite cookies; a cross-site navigation can', async (t) => {
  const fetched = new UserAgent();
  await (await fetched.request(`${base}/set-more`, { navigation: false, fetchSite: 'cross-site' })).arrayBuffer();
  t.deepEqual((await fetched.cookies(base)).map((cookie) => cookie.name), ['later_none']);
  const navigated = new UserAgent();
  await (await navigated.request(`${base}/set-more`, { fetchSite: 'cross-site' })).arrayBuffer();
  t.deepEqual((await navigated.cookies(base)).map((cookie) => cookie.name).sort(), ['later_lax', 'later_none']);
});

test('fetch metadata: navigations say navigate; other requests say nothing unless told where they come from', async (t) => {
  const ua = new UserAgent();
  await (await ua.request(`${base}/g`)).arrayBuffer();
  t.like(seen.findLast((entry) => entry.path === '/g'), { fetchMode: 'navigate', fetchSite: 'none' });
  await (await ua.request(`${base}/h`, { navigation: false })).arrayBuffer();
  t.like(seen.findLast((entry) => entry.path === '/h'), { fetchMode: undefined, fetchSite: undefined });
  await (await ua.request(`${base}/i`, { method: 'POST', body: 'x' })).arrayBuffer();
  t.like(seen.findLast((entry) => entry.path === '/i'), { fetchMode: undefined, fetchSite: undefined });
  await (await ua.request(`${base}/j`, { method: 'POST', body: 'x', fetchSite: 'cross-site' })).arrayBuffer();
  t.like(seen.findLast((entry) => entry.path === '/j'), { fetchMode: undefined, fetchSite: 'cross-site' });
});
