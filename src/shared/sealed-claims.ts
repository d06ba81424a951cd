// Claims the proxy hands out and must get back unchanged and unread (sign-in
// state in a cookie, upload capabilities in a URL): an encrypted JWT (JWE,
// `dir` + A256GCM) under a key derived from the operator's secret, so any
// instance can open it and nobody else can read or forge it. Pure.
import { hkdfSync } from 'node:crypto';
import { EncryptJWT, jwtDecrypt, type JWTPayload } from 'jose';

/** A 256-bit key for one purpose (`label`), derived from SESSION_SECRET or SSO_CLIENT_SECRET. */
export function sealingKey(secret: string, label: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', secret, 's3proxy', label, 32));
}

export async function sealClaims(key: Uint8Array, claims: Record<string, unknown>, ttlSeconds: number, now = Date.now()): Promise<string> {
  const issuedAt = Math.floor(now / 1000);
  return new EncryptJWT(claims)
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + ttlSeconds)
    .encrypt(key);
}

/** The claims, with `exp`; undefined when not sealed with this key, tampered with, expired or malformed. */
export async function openClaims(key: Uint8Array, sealed: string, now = Date.now()): Promise<(JWTPayload & { exp: number }) | undefined> {
  try {
    const { payload } = await jwtDecrypt(sealed, key, {
      keyManagementAlgorithms: ['dir'],
      contentEncryptionAlgorithms: ['A256GCM'],
      currentDate: new Date(now),
      requiredClaims: ['exp'],
    });
    return payload as JWTPayload & { exp: number };
  } catch {
    return undefined;
  }
}
