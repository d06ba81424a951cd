// What Redis holds for a session is useless without the browser's cookie:
// it is stored under a hash of the cookie value and encrypted with a key
// derived from it. A copy of Redis neither signs anyone in nor leaks tokens.
import { createHash, hkdfSync, randomBytes } from 'node:crypto';
import { CompactEncrypt, compactDecrypt } from 'jose';

/** A new session id: 256 random bits, URL-safe. */
export function newSessionId(): string {
  return randomBytes(32).toString('base64url');
}

/** The cookie value's form; anything else is not worth a Redis round trip. */
export function isWellFormedSessionId(value: string | undefined): value is string {
  return value !== undefined && /^[A-Za-z0-9_-]{43}$/.test(value);
}

/** The Redis key part for a session: domain-separated from the encryption key. */
export function sessionLookupId(sessionId: string): string {
  return createHash('sha256').update('s3proxy session lookup\0').update(sessionId).digest('base64url');
}

/**
 * The Redis key part for the index of one provider session (`sid`) or one
 * user (`sub`), and for a logout token's `jti`: digests, so that Redis holds
 * none of the provider's identifiers.
 */
export function providerDigest(kind: 'sid' | 'sub' | 'jti', value: string): string {
  return createHash('sha256').update(`s3proxy provider ${kind}\0`).update(value).digest('base64url');
}

function encryptionKey(sessionId: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', sessionId, '', 's3proxy session encryption', 32));
}

export async function sealSession(sessionId: string, data: unknown): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(data)))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
    .encrypt(encryptionKey(sessionId));
}

/** undefined when the record was not sealed with this id (or was tampered with). */
export async function openSession<T>(sessionId: string, sealed: string): Promise<T | undefined> {
  try {
    const { plaintext } = await compactDecrypt(sealed, encryptionKey(sessionId), {
      keyManagementAlgorithms: ['dir'],
      contentEncryptionAlgorithms: ['A256GCM'],
    });
    return JSON.parse(new TextDecoder().decode(plaintext)) as T;
  } catch {
    return undefined;
  }
}
