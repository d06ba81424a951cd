import test from 'ava';
import { parseConfig } from '../../src/config/parse-config.ts';
import { formatConfigErrors } from '../../src/config/format-config-errors.ts';
import { uploadSettings, byteSize } from '../../src/config/upload-settings.ts';

type Env = Record<string, string | undefined>;

const minimalEnv = (): Env => ({
  REDIS_URL: 'redis://localhost:6379',
  SSO_URL: 'https://sso.example.com/',
  SSO_CLIENT_ID: 'id',
  SSO_CLIENT_SECRET: 'secret',
  AWS_S3_ENDPOINT: 'https://s3.eu-west-2.amazonaws.com/my-bucket/',
});

function settings(env: Env) {
  const result = uploadSettings(env);
  if (result.errors.length > 0) throw new Error(`expected settings, got:\n${result.errors.join('\n')}`);
  return result.value;
}

function onlyError(env: Env): string {
  const { errors } = uploadSettings(env);
  if (errors.length !== 1) throw new Error(`expected one error, got:\n${errors.join('\n')}`);
  return errors[0]!;
}

test('without UPLOAD_PREFIX uploads are off and the config has no uploads', (t) => {
  t.is(settings({}), undefined);
  const parsed = parseConfig(minimalEnv());
  t.true(parsed.ok);
  if (parsed.ok) t.false('uploads' in parsed.config);
});

test('an empty UPLOAD_PREFIX counts as unset', (t) => {
  t.is(settings({ UPLOAD_PREFIX: '' }), undefined);
});

test('UPLOAD_PREFIX alone turns uploads on with the defaults', (t) => {
  t.deepEqual(settings({ UPLOAD_PREFIX: 'uploads/{user}/' }), {
    prefixTemplate: 'uploads/{user}/',
    maxBytes: 5 * 1024 ** 3,
    urlTtlSeconds: 900,
    overwrite: 'never',
    dataPath: 'direct',
  });
});

test('every setting parses into the config', (t) => {
  const parsed = parseConfig({
    ...minimalEnv(),
    UPLOAD_PREFIX: 'incoming/{user_hash}/',
    UPLOAD_MAX_BYTES: '100MB',
    UPLOAD_ALLOWED_TYPES: 'image/*, application/PDF',
    UPLOAD_URL_TTL: '60',
    UPLOAD_OVERWRITE: 'Rename',
    UPLOAD_DAILY_BYTES: '2GiB',
    UPLOAD_ALLOWED_USERS: 'Ada@Example.org, @Example.com, group:Uploaders',
    UPLOAD_DATA_PATH: 'Proxy',
  });
  if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
  t.deepEqual(parsed.config.uploads, {
    prefixTemplate: 'incoming/{user_hash}/',
    maxBytes: 100_000_000,
    allowedTypes: ['image/*', 'application/pdf'],
    urlTtlSeconds: 60,
    overwrite: 'rename',
    dailyBytes: 2 * 1024 ** 3,
    allowedUsers: { emails: ['ada@example.org'], domains: ['example.com'], groups: ['Uploaders'] },
    dataPath: 'proxy',
  });
});

test('UPLOAD_DATA_PATH is direct or proxy; anything else stops start-up with one line', (t) => {
  t.is(settings({ UPLOAD_PREFIX: 'u/', UPLOAD_DATA_PATH: 'direct' })?.dataPath, 'direct');
  t.is(settings({ UPLOAD_PREFIX: 'u/', UPLOAD_DATA_PATH: 'proxy' })?.dataPath, 'proxy');
  const parsed = parseConfig({ ...minimalEnv(), UPLOAD_PREFIX: 'u/{user}/', UPLOAD_DATA_PATH: 'tunnel' });
  t.false(parsed.ok);
  if (parsed.ok) return;
  t.deepEqual(formatConfigErrors(parsed.errors), ['configuration error: UPLOAD_DATA_PATH: must be direct or proxy, got "tunnel"']);
  t.deepEqual(uploadSettings({ UPLOAD_DATA_PATH: 'proxy' }).errors, ['UPLOAD_DATA_PATH: is set, but uploads are off without UPLOAD_PREFIX']);
});

test('a bad upload setting stops start-up with one line naming the variable', (t) => {
  const parsed = parseConfig({ ...minimalEnv(), UPLOAD_PREFIX: 'u/{user}/', UPLOAD_OVERWRITE: 'sometimes' });
  t.false(parsed.ok);
  if (parsed.ok) return;
  t.deepEqual(formatConfigErrors(parsed.errors), ['configuration error: UPLOAD_OVERWRITE: must be never, rename or allow, got "sometimes"']);
});

test('several bad upload settings give one line each', (t) => {
  const { errors } = uploadSettings({
    UPLOAD_PREFIX: '/abs/',
    UPLOAD_MAX_BYTES: 'lots',
    UPLOAD_URL_TTL: '604801',
    UPLOAD_ALLOWED_TYPES: 'image',
  });
  t.deepEqual(errors.map((e) => e.slice(0, e.indexOf(':'))), ['UPLOAD_PREFIX', 'UPLOAD_MAX_BYTES', 'UPLOAD_ALLOWED_TYPES', 'UPLOAD_URL_TTL']);
});

const prefixCases: Array<[string, string | undefined]> = [
  ['uploads/{user}/', undefined],
  ['uploads/{user_hash}/', undefined],
  ['{user}/', undefined],
  ['shared/', undefined],
  ['uploads/{user_hash}', undefined],
  ['uploads/{user}~', undefined],
  ['uploads/{user}/{user_hash}-', undefined],
  ['uploads', 'must contain {user} or {user_hash}, or end with "/"'],
  ['uploads/{user}', 'needs a "/"'],
  ['uploads/{user}-files', 'needs a "/"'],
  ['uploads/{user}{user_hash}', 'needs a "/"'],
  ['uploads/{email}/', 'unknown placeholder "{email}"'],
  ['uploads/{user/', 'unbalanced'],
  ['uploads/user}/', 'unbalanced'],
  ['/uploads/{user}/', 'without a leading "/"'],
  ['__s3proxy/{user}/', 'must not start with "__s3proxy/"'],
  ['up\nloads/{user}/', 'must not contain control characters'],
];

for (const [prefix, problem] of prefixCases) {
  test(`UPLOAD_PREFIX ${JSON.stringify(prefix)} is ${problem === undefined ? 'accepted' : 'refused'}`, (t) => {
    if (problem === undefined) {
      t.is(settings({ UPLOAD_PREFIX: prefix })?.prefixTemplate, prefix);
    } else {
      const error = onlyError({ UPLOAD_PREFIX: prefix });
      t.true(error.startsWith('UPLOAD_PREFIX: '), error);
      t.true(error.includes(problem), error);
    }
  });
}

test('byte sizes take decimal and binary units', (t) => {
  const cases: Array<[string, number]> = [
    ['1', 1],
    ['1024', 1024],
    ['10KB', 10_000],
    ['10 kB', 10_000],
    ['3MiB', 3 * 1024 ** 2],
    ['5GiB', 5 * 1024 ** 3],
    ['1TB', 1e12],
    ['7b', 7],
  ];
  for (const [raw, bytes] of cases) {
    const result = byteSize({ X: raw }, 'X', 1, 2 ** 50, undefined);
    t.deepEqual(result, { ok: true, value: bytes }, raw);
  }
});

test('malformed or out-of-range byte sizes are refused', (t) => {
  for (const raw of ['-1', '1.5GB', '1e9', 'GB', '10 PB', '0x10', '01', '0']) {
    const error = onlyError({ UPLOAD_PREFIX: 'u/', UPLOAD_MAX_BYTES: raw });
    t.true(error.startsWith('UPLOAD_MAX_BYTES: must be'), `${raw}: ${error}`);
  }
  t.true(onlyError({ UPLOAD_PREFIX: 'u/', UPLOAD_MAX_BYTES: '6TiB' }).includes('from 1 to'));
});

test('UPLOAD_URL_TTL is whole seconds from 1 to 604800', (t) => {
  t.is(settings({ UPLOAD_PREFIX: 'u/', UPLOAD_URL_TTL: '604800' })?.urlTtlSeconds, 604800);
  for (const raw of ['0', '604801', '1.5', 'soon']) {
    t.true(onlyError({ UPLOAD_PREFIX: 'u/', UPLOAD_URL_TTL: raw }).startsWith('UPLOAD_URL_TTL: must be'), raw);
  }
});

test('UPLOAD_ALLOWED_TYPES refuses empty entries, wildcards for everything and non-types', (t) => {
  const cases: Array<[string, string]> = [
    ['image/png,,image/gif', 'empty entry'],
    ['*/*', 'unset it to allow any type'],
    ['image/png; charset=x', 'media types like'],
    ['*/png', 'media types like'],
    ['image/p ng', 'media types like'],
  ];
  for (const [raw, problem] of cases) {
    const error = onlyError({ UPLOAD_PREFIX: 'u/', UPLOAD_ALLOWED_TYPES: raw });
    t.true(error.startsWith('UPLOAD_ALLOWED_TYPES: ') && error.includes(problem), `${raw}: ${error}`);
  }
});

test('UPLOAD_ALLOWED_USERS refuses entries that are no address, domain or group', (t) => {
  const cases: Array<[string, string]> = [
    ['ada', 'e-mail addresses, @domain or group:NAME'],
    ['ada@example.org,', 'empty entry'],
    ['group:', 'without a group name'],
    ['@', 'must name a domain'],
    ['@exa mple.org', 'must name a domain'],
    ['a b@example.org', 'e-mail addresses'],
  ];
  for (const [raw, problem] of cases) {
    const error = onlyError({ UPLOAD_PREFIX: 'u/', UPLOAD_ALLOWED_USERS: raw });
    t.true(error.startsWith('UPLOAD_ALLOWED_USERS: ') && error.includes(problem), `${raw}: ${error}`);
  }
});

test('upload settings without UPLOAD_PREFIX are an error, one line each', (t) => {
  const { errors, value } = uploadSettings({ UPLOAD_MAX_BYTES: '1GB', UPLOAD_OVERWRITE: 'allow' });
  t.is(value, undefined);
  t.deepEqual(errors, [
    'UPLOAD_MAX_BYTES: is set, but uploads are off without UPLOAD_PREFIX',
    'UPLOAD_OVERWRITE: is set, but uploads are off without UPLOAD_PREFIX',
  ]);
});
