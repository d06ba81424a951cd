#!/usr/bin/env node
// s3proxy: the proxy's command-line client. `keygen` makes a user's key
// pair; `upload` and `get` talk to a running proxy with bearer tokens signed
// by that key. Results go to standard output, progress and errors to
// standard error; the exit status is 0 when everything worked, 1 when
// something failed, 2 for a usage mistake and 130 when interrupted.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ApiClient } from './api-client.ts';
import { CliError, usageError } from './cli-error.ts';
import { download } from './get.ts';
import { keygen, keyTypes, type KeyType } from './keygen.ts';
import { maxPartSize, minPartSize } from './part-plan.ts';
import { progressFor } from './progress.ts';
import { formatBytes, parseSize } from './sizes.ts';
import { readPrivateKey, TokenSource } from './tokens.ts';
import { uploadFile } from './upload.ts';

const usage = `usage:
  s3proxy keygen --user EMAIL [--type ed25519|rsa|ec] [--dir DIR] [--force]
  s3proxy upload --url URL --user EMAIL --private-key FILE [options] FILE...
  s3proxy get URL --user EMAIL --private-key FILE [-o FILE]

keygen writes EMAIL_private.pem (mode 600) and EMAIL_public.pem; give the
public one to the proxy's operator for API_PUBLIC_KEYS_DIR. Ed25519 unless
--type says rsa (3072 bits) or ec (P-256).

upload options:
  --type TYPE                 media type of every file (default: from its extension)
  --multipart-threshold SIZE  files larger than this go in parts (default 100MiB)
  --part-size SIZE            size of each part (default 16MiB, at least 5MiB)
  --concurrency N             parts sent at once (default 4)
Run an interrupted upload again with the same file to resume it.

common options (or the environment variables in brackets):
  --url URL              the proxy, e.g. https://assets.example.org [S3PROXY_URL]
  --user EMAIL           who you are [S3PROXY_USER]
  --private-key FILE     your private key [S3PROXY_PRIVATE_KEY]
  --audience AUD         the proxy's API_AUDIENCE (default: the URL's origin) [S3PROXY_AUDIENCE]

SIZE: bytes, or with KiB, MiB, GiB (KB, MB, GB mean the same here).`;

const options = {
  url: { type: 'string' },
  user: { type: 'string' },
  'private-key': { type: 'string' },
  audience: { type: 'string' },
  type: { type: 'string' },
  dir: { type: 'string' },
  force: { type: 'boolean' },
  output: { type: 'string', short: 'o' },
  'multipart-threshold': { type: 'string' },
  'part-size': { type: 'string' },
  concurrency: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

type Values = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

const warn = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

function setting(values: Values, name: 'url' | 'user' | 'private-key' | 'audience', env: string): string | undefined {
  return values[name] ?? (process.env[env] || undefined);
}

function need(value: string | undefined, flag: string, env: string): string {
  if (value === undefined || value === '') throw usageError(`${flag} is required (or ${env})`);
  return value;
}

function proxyUrl(raw: string, flag: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usageError(`${flag}: not a URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw usageError(`${flag}: must be an http or https URL`);
  return url;
}

function size(values: Values, name: 'multipart-threshold' | 'part-size', fallback: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const bytes = parseSize(raw);
  if (bytes === undefined) throw usageError(`--${name}: not a size: ${JSON.stringify(raw)} (like 16MiB)`);
  return bytes;
}

async function tokensFor(values: Values, url: URL): Promise<TokenSource> {
  const user = need(setting(values, 'user', 'S3PROXY_USER'), '--user', 'S3PROXY_USER');
  const keyFile = need(setting(values, 'private-key', 'S3PROXY_PRIVATE_KEY'), '--private-key', 'S3PROXY_PRIVATE_KEY');
  const audience = setting(values, 'audience', 'S3PROXY_AUDIENCE') ?? url.origin;
  return new TokenSource(user, audience, await readPrivateKey(keyFile, warn));
}

async function runKeygen(values: Values): Promise<number> {
  const user = need(values.user, '--user', 'S3PROXY_USER');
  const type = (values.type ?? 'ed25519').toLowerCase();
  if (!(keyTypes as readonly string[]).includes(type)) throw usageError(`--type must be one of ${keyTypes.join(', ')}`);
  const { privateFile, publicFile } = await keygen({ user, type: type as KeyType, dir: values.dir ?? '.', force: values.force ?? false });
  process.stdout.write(`${privateFile}\n${publicFile}\n`);
  warn(`keep ${privateFile} to yourself; send ${publicFile} to the proxy's operator (API_PUBLIC_KEYS_DIR)`);
  return 0;
}

async function runUpload(values: Values, files: string[]): Promise<number> {
  if (files.length === 0) throw usageError('upload: name at least one FILE');
  const url = proxyUrl(need(setting(values, 'url', 'S3PROXY_URL'), '--url', 'S3PROXY_URL'), '--url');
  const partSize = size(values, 'part-size', 16 * 1024 ** 2);
  if (partSize < minPartSize || partSize > maxPartSize) throw usageError(`--part-size must be from ${formatBytes(minPartSize)} to ${formatBytes(maxPartSize)} (S3's limits)`);
  const multipartThreshold = size(values, 'multipart-threshold', 100 * 1024 ** 2);
  const concurrency = values.concurrency === undefined ? 4 : Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw usageError('--concurrency must be a whole number from 1 to 64');
  const api = new ApiClient(new URL(url.origin), await tokensFor(values, url));
  const progress = progressFor(process.stderr);
  let failed = 0;
  for (const file of files) {
    try {
      const result = await uploadFile(file, { api, progress, multipartThreshold, partSize, concurrency, ...(values.type ? { type: values.type } : {}) });
      const resumed = result.partsKept > 0 ? ` (resumed: ${result.partsKept} parts were at S3 already, ${result.partsSent} sent)` : '';
      progress.finish(`${file}: uploaded as ${result.key}${resumed}`);
      process.stdout.write(`${result.url}\n`);
    } catch (error) {
      if (!(error instanceof CliError)) throw error;
      failed += 1;
      progress.finish(`s3proxy: ${error.message}`);
    }
  }
  return failed === 0 ? 0 : 1;
}

async function runGet(values: Values, args: string[]): Promise<number> {
  if (args.length !== 1) throw usageError('get: name exactly one URL');
  const url = proxyUrl(args[0]!, 'URL');
  await download(url, await tokensFor(values, url), values.output);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    warn(`s3proxy: ${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  const [command, ...rest] = parsed.positionals;
  if (parsed.values.help || command === undefined || command === 'help') {
    (command === undefined && !parsed.values.help ? warn : (line: string) => process.stdout.write(`${line}\n`))(usage);
    return command === undefined && !parsed.values.help ? 2 : 0;
  }
  try {
    if (command === 'keygen') return await runKeygen(parsed.values);
    if (command === 'upload') return await runUpload(parsed.values, rest);
    if (command === 'get') return await runGet(parsed.values, rest);
    throw usageError(`unknown command ${JSON.stringify(command)}`);
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    warn(`s3proxy: ${error.message}${error.exitCode === 2 ? `\n\n${usage}` : ''}`);
    return error.exitCode;
  }
}

process.once('SIGINT', () => {
  warn('\ns3proxy: interrupted; run the same command again to resume an upload');
  process.exit(130);
});

process.exitCode = await main(process.argv.slice(2));
