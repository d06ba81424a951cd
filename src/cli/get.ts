// `s3proxy get URL`: one object through the proxy with a bearer token, to a
// file (written beside it first and renamed when complete, so that a cut
// download never looks finished) or to standard output.
import { createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { request } from 'undici';
import { causeOf } from './api-client.ts';
import { CliError } from './cli-error.ts';
import type { TokenSource } from './tokens.ts';

export async function download(url: URL, tokens: TokenSource, output: string | undefined): Promise<number> {
  let response;
  try {
    response = await request(url, { method: 'GET', headers: { authorization: `Bearer ${await tokens.token()}` } });
  } catch (error) {
    throw new CliError(`GET ${url.href}: cannot reach ${url.origin}: ${causeOf(error)}`);
  }
  if (response.statusCode !== 200) {
    const text = await response.body.text().catch(() => '');
    const first = text.split('\n').find((line) => line.trim() !== '')?.trim().slice(0, 200) ?? '';
    const hint = response.statusCode === 401 ? ' (the proxy did not accept the token: check --user, --private-key and --audience)' : '';
    throw new CliError(`GET ${url.href}: ${response.statusCode}${first ? `: ${first}` : ''}${hint}`);
  }
  if (output === undefined || output === '-') {
    await pipeline(response.body, process.stdout);
    return Number(response.headers['content-length'] ?? 0);
  }
  const partial = `${output}.s3proxy-partial`;
  let bytes = 0;
  response.body.on('data', (chunk: Buffer) => (bytes += chunk.length));
  try {
    await pipeline(response.body, createWriteStream(partial));
  } catch (error) {
    await unlink(partial).catch(() => undefined);
    throw new CliError(`GET ${url.href}: the download was cut after ${bytes} bytes: ${causeOf(error)}`);
  }
  await rename(partial, output);
  return bytes;
}
