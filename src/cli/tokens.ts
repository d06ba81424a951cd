// The bearer tokens the command-line client sends: a JWT for one user,
// signed with that user's private key (jose's SignJWT), living 5 minutes,
// minted again a minute before it runs out. The proxy refuses tokens that
// live longer than 10 minutes.
import { createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { SignJWT } from 'jose';
import { CliError } from './cli-error.ts';

const lifetimeSeconds = 300;
const renewBeforeSeconds = 60;

/** The JWS algorithm for a private key: what the proxy accepts for that key type. */
export function algorithmFor(key: KeyObject): 'EdDSA' | 'ES256' | 'RS256' | 'PS256' {
  switch (key.asymmetricKeyType) {
    case 'ed25519':
      return 'EdDSA';
    case 'ec':
      if (key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
      break;
    case 'rsa':
      return 'RS256';
    case 'rsa-pss':
      return 'PS256';
  }
  throw new CliError(`the private key is ${key.asymmetricKeyType}${key.asymmetricKeyDetails?.namedCurve ? ` on ${key.asymmetricKeyDetails.namedCurve}` : ''}: use an Ed25519, EC P-256 or RSA key (s3proxy keygen makes one)`);
}

export async function readPrivateKey(file: string, warn: (line: string) => void): Promise<KeyObject> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read the private key ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (process.platform !== 'win32' && ((await stat(file)).mode & 0o077) !== 0) {
    warn(`warning: ${file} can be read by other users of this machine (chmod 600 ${file})`);
  }
  try {
    return createPrivateKey(pem);
  } catch {
    throw new CliError(`${file} is not a PEM private key`);
  }
}

export class TokenSource {
  readonly #user: string;
  readonly #audience: string;
  readonly #key: KeyObject;
  readonly #alg: string;
  #current: { token: string; exp: number } | undefined;

  constructor(user: string, audience: string, key: KeyObject) {
    this.#user = user;
    this.#audience = audience;
    this.#key = key;
    this.#alg = algorithmFor(key);
  }

  async token(): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    if (this.#current && this.#current.exp - renewBeforeSeconds > now) return this.#current.token;
    const exp = now + lifetimeSeconds;
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: this.#alg, typ: 'JWT' })
      .setSubject(this.#user)
      .setAudience(this.#audience)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(this.#key);
    this.#current = { token, exp };
    return token;
  }
}
