// `s3proxy keygen`: a key pair for one user, as the proxy wants it: the
// public half named `<user>_public.pem` for the operator's
// API_PUBLIC_KEYS_DIR, the private half `<user>_private.pem`, readable by
// its owner only. Ed25519 by default (small, fast, no parameters to get
// wrong); RSA 3072 or EC P-256 where a policy asks for them.
import { generateKeyPair, type KeyObject } from 'node:crypto';
import { chmod, open } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { plausibleUser, publicKeySuffix } from '../auth/api-keys.ts';
import { CliError, usageError } from './cli-error.ts';

export type KeyType = 'ed25519' | 'rsa' | 'ec';
export const keyTypes: readonly KeyType[] = ['ed25519', 'rsa', 'ec'];

const generate = promisify(generateKeyPair);

async function pair(type: KeyType): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  if (type === 'rsa') return generate('rsa', { modulusLength: 3072 });
  if (type === 'ec') return generate('ec', { namedCurve: 'P-256' });
  return generate('ed25519');
}

async function writeNew(file: string, text: string, mode: number, force: boolean): Promise<void> {
  let handle;
  try {
    handle = await open(file, force ? 'w' : 'wx', mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new CliError(`${file} exists already (--force replaces it)`);
    throw new CliError(`cannot write ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
  // the mode of open() applies only to a new file
  await chmod(file, mode);
}

export async function keygen(options: { user: string; type: KeyType; dir: string; force: boolean }): Promise<{ privateFile: string; publicFile: string }> {
  if (!plausibleUser(options.user)) throw usageError(`--user must be an e-mail address (it names the key files), got ${JSON.stringify(options.user)}`);
  const { publicKey, privateKey } = await pair(options.type);
  const privateFile = path.join(options.dir, `${options.user}_private.pem`);
  const publicFile = path.join(options.dir, `${options.user}${publicKeySuffix}`);
  await writeNew(privateFile, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 0o600, options.force);
  await writeNew(publicFile, publicKey.export({ type: 'spki', format: 'pem' }).toString(), 0o644, options.force);
  return { privateFile, publicFile };
}
