import test from 'ava';
import { htmlProblem, plainTextProblem, statusLine } from '../../src/http/problem-pages.ts';

test('the status line is the code and its reason phrase', (t) => {
  t.is(statusLine(500), '500 Internal Server Error');
  t.is(statusLine(403), '403 Forbidden');
  t.is(statusLine(404), '404 Not Found');
  t.is(statusLine(401), '401 Unauthorized');
  t.is(statusLine(502), '502 Bad Gateway');
  t.is(statusLine(599), '599');
});

test('a plain-text error states the status line before the friendly sentence', (t) => {
  const text = plainTextProblem(403, 'req-1');
  t.is(text, '403 Forbidden\nAccess denied. You do not have access to this.\nRequest id: req-1\n');
  t.true(plainTextProblem(500, 'r').startsWith('500 Internal Server Error\nSomething went wrong. Please try again in a moment.\n'));
  t.true(plainTextProblem(400, 'r').startsWith('400 Bad Request\nBad request.\n'));
});

test('an HTML error page states the status line in its title and heading, before the friendly sentence', (t) => {
  const page = htmlProblem(500, 'req-2');
  t.true(page.includes('<title>500 Internal Server Error</title>'));
  const heading = page.indexOf('<h1>500 Internal Server Error</h1>');
  const friendly = page.indexOf('<p>Something went wrong. Please try again in a moment.</p>');
  t.true(heading > 0, 'the status line is the heading');
  t.true(friendly > heading, 'the friendly sentence follows it');
  t.true(page.includes('Request id: req-2'));
});

test('a message shown in place of the explanation, and the request id, are text, never markup', (t) => {
  const page = htmlProblem(400, '<b>id</b>', 'The <link> has expired.');
  t.true(page.includes('<p>Bad request. The &lt;link&gt; has expired.</p>'));
  t.true(page.includes('&lt;b&gt;id&lt;/b&gt;'));
  t.false(page.includes('<b>'));
});
