// The API clients' public keys: one `<user>_public.pem` per user in
// API_PUBLIC_KEYS_DIR, looked up for every token so that a key added,
// replaced or removed counts at once, without a restart. Two stat calls per
// lookup keep that cheap: the directory's (a new or removed file changes it)
// and the key file's (a rewrite in place, or a Kubernetes secret's swapped
// `..data` link, changes it); the listing and the parsed keys are cached
// until those change. A path is only ever built from a name the directory
// listing itself returned, never from the token.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import path from 'node:path';

export const publicKeySuffix = '_public.pem';

export type KeyLookup = { ok: true; key: KeyObject } | { ok: false; reason: string };

interface Listing {
  version: string;
  /** user → file name, as listed */
  files: Map<string, string>;
}

interface CachedKey {
  version: string;
  lookup: KeyLookup;
}

/** An email-like user name that cannot name anything but a file in the directory. */
export function plausibleUser(user: unknown): user is string {
  return (
    typeof user === 'string' &&
    user.length <= 254 &&
    /^[^@\s/\\\u0000-\u001f\u007f]+@[^@\s/\\\u0000-\u001f\u007f]+$/.test(user) &&
    !user.startsWith('.')
  );
}

/** Whether a public key is one the accepted algorithms can use: RSA ≥ 2048 bits, EC P-256, Ed25519. */
export function usableKeyProblem(key: KeyObject): string | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss':
      return (details.modulusLength ?? 0) >= 2048 ? undefined : `RSA key of ${details.modulusLength} bits (at least 2048 needed)`;
    case 'ec':
      return details.namedCurve === 'prime256v1' ? undefined : `EC key on ${details.namedCurve} (only P-256 is accepted, for ES256)`;
    case 'ed25519':
      return undefined;
    default:
      return `${key.asymmetricKeyType} keys are not accepted`;
  }
}

const versionOf = (s: BigIntStats): string => `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;

export class ApiKeyDirectory {
  readonly dir: string;
  #listing: Listing | undefined;
  readonly #keys = new Map<string, CachedKey>();

  constructor(dir: string) {
    this.dir = dir;
  }

  async keyFor(user: string): Promise<KeyLookup> {
    if (!plausibleUser(user)) return { ok: false, reason: 'sub is not an email address that can name a key file' };
    const listing = await this.#currentListing();
    const file = listing.files.get(user);
    if (file === undefined) return { ok: false, reason: `no key file for ${user}` };
    const full = path.join(this.dir, file);
    let version: string;
    try {
      version = versionOf(await stat(full, { bigint: true }));
    } catch {
      return { ok: false, reason: `key file ${file} cannot be read` };
    }
    const cached = this.#keys.get(file);
    if (cached?.version === version) return cached.lookup;
    const lookup = await readKey(full, file);
    this.#keys.set(file, { version, lookup });
    return lookup;
  }

  async #currentListing(): Promise<Listing> {
    const version = versionOf(await stat(this.dir, { bigint: true }));
    if (this.#listing?.version === version) return this.#listing;
    const files = new Map<string, string>();
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith(publicKeySuffix)) continue;
      files.set(name.slice(0, -publicKeySuffix.length), name);
    }
    // forget keys of files that are gone, so that a removed user stays removed
    const listed = new Set(files.values());
    for (const name of this.#keys.keys()) if (!listed.has(name)) this.#keys.delete(name);
    this.#listing = { version, files };
    return this.#listing;
  }
}

async function readKey(full: string, file: string): Promise<KeyLookup> {
  let pem: string;
  try {
    pem = await readFile(full, 'utf8');
  } catch {
    return { ok: false, reason: `key file ${file} cannot be read` };
  }
  // createPublicKey would derive a public key from a private one: refuse
  // instead, and say so, because that private key has been given away.
  if (/PRIVATE KEY-----/.test(pem)) return { ok: false, reason: `key file ${file} holds a private key, not a public one` };
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    return { ok: false, reason: `key file ${file} is not a PEM public key` };
  }
  const problem = usableKeyProblem(key);
  return problem === undefined ? { ok: true, key } : { ok: false, reason: `key file ${file}: ${problem}` };
}

/** For start-up: why API_PUBLIC_KEYS_DIR cannot be used, or undefined. */
export async function keyDirectoryProblem(dir: string): Promise<string | undefined> {
  try {
    const s = await stat(dir);
    if (!s.isDirectory()) return 'is not a directory';
    await readdir(dir);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'no such directory' : `cannot be read (${code ?? 'error'})`;
  }
}
