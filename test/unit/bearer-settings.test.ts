// API_PUBLIC_KEYS_DIR and API_AUDIENCE, as parseConfig reads them.
import test from 'ava';
import { parseConfig } from '../../src/config/parse-config.ts';

const base = {
  REDIS_URL: 'redis://localhost:6379',
  SSO_URL: 'https://sso.example.com/',
  SSO_CLIENT_ID: 'id',
  SSO_CLIENT_SECRET: 'secret',
  AWS_S3_ENDPOINT: 'https://s3.eu-west-2.amazonaws.com/my-bucket/',
};

function parsed(extra: Record<string, string>) {
  return parseConfig({ ...base, ...extra });
}

test('without either variable there are no API settings', (t) => {
  const result = parsed({});
  t.true(result.ok);
  if (result.ok) t.is(result.config.api, undefined);
});

test('a key directory and an audience are taken as given', (t) => {
  const result = parsed({ API_PUBLIC_KEYS_DIR: '/etc/s3proxy/keys', API_AUDIENCE: 'https://assets.example.org' });
  t.true(result.ok);
  if (result.ok) t.deepEqual(result.config.api, { publicKeysDir: '/etc/s3proxy/keys', audience: 'https://assets.example.org' });
});

test('API_AUDIENCE alone (for OIDC access tokens) is kept', (t) => {
  const result = parsed({ API_AUDIENCE: 'urn:assets' });
  t.true(result.ok);
  if (result.ok) t.deepEqual(result.config.api, { audience: 'urn:assets' });
});

test('a key directory without API_AUDIENCE stops start-up with one line naming API_AUDIENCE', (t) => {
  const result = parsed({ API_PUBLIC_KEYS_DIR: '/etc/s3proxy/keys' });
  t.false(result.ok);
  if (!result.ok) {
    t.is(result.errors.length, 1);
    t.regex(result.errors[0]!, /^API_AUDIENCE: required when API_PUBLIC_KEYS_DIR is set/);
  }
});

test('an audience with whitespace and a directory with a control character are refused', (t) => {
  const result = parsed({ API_PUBLIC_KEYS_DIR: '/etc/keys\n', API_AUDIENCE: 'two words' });
  t.false(result.ok);
  if (!result.ok) {
    t.is(result.errors.length, 2);
    t.regex(result.errors.find((e) => e.startsWith('API_PUBLIC_KEYS_DIR'))!, /control characters/);
    t.regex(result.errors.find((e) => e.startsWith('API_AUDIENCE'))!, /whitespace/);
  }
});
