// Start-up: a configuration that does not parse stops the built proxy with
// exit status 1 and one line per problem, naming the variable and never a
// secret; the two uktrade-style environments (old and newer variable names)
// start it and serve the healthcheck.
import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { runProxyExpectingExit, startProxy } from '../support/proxy-process.ts';
import { createBucket, putObject, s3Stack } from '../support/s3-fixtures.ts';
import { startOAuth2Sso, type OAuth2Sso } from '../support/oauth2-sso-server.ts';
import { freePort } from '../support/free-port.ts';
import { UserAgent } from '../support/user-agent.ts';
import { startTcpRelay } from '../support/tcp-relay.ts';

const stack = s3Stack();
const problemLine = /^configuration error: ([A-Z][A-Z0-9_]*): \S/;

let bucket: string;
let sso: OAuth2Sso;

test.before(async () => {
  bucket = await createBucket(stack, 'startup');
  await putObject(stack, bucket, 'assets/health.txt', 'healthy', 'text/plain');
  await putObject(stack, bucket, 'assets/file.txt', 'content of file.txt', 'text/plain');
  sso = await startOAuth2Sso();
});

test.after.always(async () => {
  await sso?.close();
});

/** The variables named by the output, which must be nothing but problem lines. */
function namedVariables(t: ExecutionContext, output: { stderr: string; stdout: string }): string[] {
  const lines = output.stderr.split('\n').filter((line) => line !== '');
  t.true(lines.length > 0, 'some problem is reported');
  for (const line of lines) t.regex(line, problemLine);
  t.false(/\n\s+at /.test(output.stderr + output.stdout), 'no stack trace');
  t.is(output.stdout, '', 'nothing on stdout (no log lines, no half start)');
  return lines.map((line) => problemLine.exec(line)![1]!);
}

test('with no settings at all, start-up stops with status 1 and names every missing variable', async (t) => {
  const result = await runProxyExpectingExit({});
  t.is(result.code, 1);
  const named = namedVariables(t, result);
  for (const name of ['REDIS_URL', 'SSO_URL', 'SSO_CLIENT_ID', 'SSO_CLIENT_SECRET', 'AWS_S3_ENDPOINT', 'AWS_S3_REGION']) {
    t.true(named.includes(name), `${name} in ${named.join(', ')}`);
  }
  t.is(new Set(named).size, named.length, 'one line per problem');
});

test('malformed settings stop start-up with one line each and no secret in the output', async (t) => {
  const secrets = {
    sso: `sso-secret-${randomBytes(6).toString('hex')}`,
    aws: `aws-secret-${randomBytes(6).toString('hex')}`,
    redis: `redis-password-${randomBytes(6).toString('hex')}`,
    url: `url-password-${randomBytes(6).toString('hex')}`,
  };
  const good = {
    SSO_URL: sso.url,
    SSO_CLIENT_ID: 'client',
    SSO_CLIENT_SECRET: secrets.sso,
    AWS_S3_ENDPOINT: `${stack.endpoint.origin}/${bucket}/assets/`,
    AWS_S3_REGION: stack.region,
    AWS_ACCESS_KEY_ID: stack.accessKey,
    AWS_SECRET_ACCESS_KEY: secrets.aws,
    VCAP_SERVICES: JSON.stringify({ redis: [{ credentials: { uri: `redis://user:${secrets.redis}@127.0.0.1:6379` } }] }),
  };
  const cases: Array<[string, Record<string, string>, string[]]> = [
    ['a malformed port and SameSite beside good secrets', { ...good, PORT: 'eighty', SESSION_COOKIE_SAMESITE: 'sideways' }, ['PORT', 'SESSION_COOKIE_SAMESITE']],
    [
      'VCAP_SERVICES that is not JSON',
      { ...good, VCAP_SERVICES: `{"redis":[{"credentials":{"uri":"redis://:${secrets.redis}@h:1"}}]` },
      ['VCAP_SERVICES'],
    ],
    [
      'a Redis URI of the wrong scheme',
      { ...good, VCAP_SERVICES: JSON.stringify({ redis: [{ credentials: { uri: `http://user:${secrets.redis}@h:1` } }] }) },
      ['VCAP_SERVICES'],
    ],
    ['credentials in SSO_URL', { ...good, SSO_URL: `https://user:${secrets.url}@sso.example.org/` }, ['SSO_URL']],
    ['a secret key without its key id', { ...good, AWS_ACCESS_KEY_ID: '', LOG_LEVEL: 'loud' }, ['AWS_ACCESS_KEY_ID', 'LOG_LEVEL']],
  ];
  for (const [name, env, expected] of cases) {
    const result = await runProxyExpectingExit(env);
    t.is(result.code, 1, name);
    t.deepEqual(namedVariables(t, result).sort(), [...expected].sort(), name);
    for (const secret of Object.values(secrets)) {
      t.false(result.stderr.includes(secret) || result.stdout.includes(secret), `${name}: a secret leaked`);
    }
  }
});

test('an old-style uktrade environment starts and serves the healthcheck', async (t) => {
  const port = await freePort();
  const proxy = await startProxy({
    SSO_URL: sso.url,
    SSO_CLIENT_ID: sso.clientId,
    SSO_CLIENT_SECRET: sso.clientSecret,
    AWS_S3_REGION: stack.region,
    AWS_S3_ENDPOINT: `${stack.endpoint.origin}/${bucket}/assets/`,
    AWS_ACCESS_KEY_ID: stack.accessKey,
    AWS_SECRET_ACCESS_KEY: stack.secretKey,
    AWS_S3_HEALTHCHECK_KEY: 'health.txt',
    PORT: String(port),
    VCAP_SERVICES: JSON.stringify({ redis: [{ credentials: { uri: stack.redisUrl } }] }),
    // The test Redis is shared: keep this proxy's keys apart.
    REDIS_KEY_PREFIX: `test-${randomBytes(4).toString('hex')}:`,
  });
  t.teardown(() => proxy.stop());
  t.is(proxy.port, port);

  const ua = new UserAgent();
  const health = await ua.request(`${proxy.url}/health.txt`);
  t.is(health.status, 200);
  t.is(await health.text(), 'healthy');
  const object = await ua.request(`${proxy.url}/file.txt`);
  t.is(object.status, 302);
  t.true(object.headers.get('location')!.startsWith(sso.authorizeUrl));
  t.is(proxy.stderr(), '');
});

test('a newer-style environment starts, serves the healthcheck, and calls SSO at SSO_URL_INTERNAL', async (t) => {
  // The browser reaches SSO through a relay named "localhost"; the proxy is
  // told to call the server itself at 127.0.0.1. Closing the relay once the
  // browser has its code shows which way the proxy's own calls go.
  const relay = await startTcpRelay({ host: '127.0.0.1', port: sso.port });
  t.teardown(() => relay.close());
  const publicUrl = `http://localhost:${relay.port}/`;
  const proxy = await startProxy({
    AWS_S3_BUCKET: bucket,
    KEY_PREFIX: 'assets',
    S3_USE_LOCAL: 'true',
    S3_ENDPOINT_URL: stack.endpoint.origin,
    AWS_DEFAULT_REGION: stack.region,
    AWS_ACCESS_KEY_ID: stack.accessKey,
    AWS_SECRET_ACCESS_KEY: stack.secretKey,
    AWS_S3_HEALTHCHECK_KEY: 'health.txt',
    REDIS_ENDPOINT: stack.redisUrl,
    SSO_URL: publicUrl,
    SSO_URL_INTERNAL: sso.url,
    SSO_CLIENT_ID: sso.clientId,
    SSO_CLIENT_SECRET: sso.clientSecret,
    REDIS_KEY_PREFIX: `test-${randomBytes(4).toString('hex')}:`,
  });
  t.teardown(() => proxy.stop());

  const ua = new UserAgent();
  const health = await ua.request(`${proxy.url}/health.txt`);
  t.is(health.status, 200);
  t.is(await health.text(), 'healthy');

  const toSso = await ua.follow(`${proxy.url}/file.txt`, {}, { stopAt: (url) => url.pathname === '/__redirect_from_sso' });
  await toSso.response.body?.cancel();
  t.true(toSso.chain[0]!.location!.startsWith(`${publicUrl}o/authorize/`), toSso.chain[0]!.location);
  const callback = toSso.chain.at(-1)!.location!;
  await relay.close();

  const tokenCalls = sso.tokenCalls;
  const result = await ua.follow(callback);
  t.is(result.response.status, 200);
  t.is(await result.response.text(), 'content of file.txt');
  t.is(sso.tokenCalls - tokenCalls, 1, 'the code was exchanged at SSO_URL_INTERNAL');
});
