// With UPLOAD_DATA_PATH=proxy the URLs the upload routes hand out point at
// the proxy itself (/__s3proxy/data/<capability>). The capability plays the
// part of a presigned URL's signature: it names what one request may send
// (a PUT, one part of one multipart upload, or a form POST), where to, for
// whom, how many bytes, and until when; and whatever the operator's rules
// bind (type, MD5, no overwrite, metadata), so that the proxy passes them
// on to S3 and S3 enforces them as it would for a presigned URL.
//
// Sealed with jose (JWE, dir/A256GCM: authenticated, so it cannot be forged
// or altered, and encrypted, because it travels in a URL and names the
// owner's address and the key). The key is derived from a secret every
// instance shares, so any instance can open what another sealed. Pure.
import { openClaims, sealClaims, sealingKey } from '../shared/sealed-claims.ts';

export type CapabilityKind = 'put' | 'part' | 'post';

export interface Capability {
  kind: CapabilityKind;
  /** the lower-cased address of the uploader the URL was handed to */
  owner: string;
  /** the object's path as the proxy serves it (relative to the operator's key prefix) */
  key: string;
  /** part only */
  uploadId?: string;
  /** part only */
  partNumber?: number;
  /** the exact number of bytes: a PUT's declared size; a part's when one was declared */
  size?: number;
  /** a POST's smallest file */
  minBytes?: number;
  /** a POST's largest file; the most one part may be */
  maxBytes?: number;
  /** PUT and POST: the declared media type, sent as Content-Type */
  type?: string;
  /** Content-MD5 (base64), for S3 to check the bytes against */
  md5?: string;
  /** If-None-Match: *, so that S3 refuses to replace an object */
  ifNoneMatch?: boolean;
  /** PUT and POST: x-amz-meta-* without the prefix */
  metadata?: Record<string, string>;
}

export interface OpenedCapability extends Capability {
  /** epoch milliseconds */
  expiresAt: number;
}

/** The key for sealing capabilities, domain-separated from every other use of the secret. */
export function capabilityKey(secret: string): Uint8Array {
  return sealingKey(secret, 's3proxy upload capability v1');
}

// Short claim names: the capability is part of every URL handed out.
interface Claims {
  k: CapabilityKind;
  o: string;
  key: string;
  u?: string;
  n?: number;
  s?: number;
  lo?: number;
  hi?: number;
  t?: string;
  md5?: string;
  inm?: true;
  meta?: Record<string, string>;
}

function claimsOf(c: Capability): Claims {
  return {
    k: c.kind,
    o: c.owner,
    key: c.key,
    ...(c.uploadId === undefined ? {} : { u: c.uploadId }),
    ...(c.partNumber === undefined ? {} : { n: c.partNumber }),
    ...(c.size === undefined ? {} : { s: c.size }),
    ...(c.minBytes === undefined ? {} : { lo: c.minBytes }),
    ...(c.maxBytes === undefined ? {} : { hi: c.maxBytes }),
    ...(c.type === undefined ? {} : { t: c.type }),
    ...(c.md5 === undefined ? {} : { md5: c.md5 }),
    ...(c.ifNoneMatch ? { inm: true as const } : {}),
    ...(c.metadata === undefined || Object.keys(c.metadata).length === 0 ? {} : { meta: c.metadata }),
  };
}

export async function sealCapability(key: Uint8Array, capability: Capability, ttlSeconds: number, now = Date.now()): Promise<string> {
  return sealClaims(key, { ...claimsOf(capability) }, ttlSeconds, now);
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isText = (v: unknown): v is string => typeof v === 'string' && v !== '';
const isOptional = (v: unknown, check: (v: unknown) => boolean) => v === undefined || check(v);
const isMetadata = (v: unknown): v is Record<string, string> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((value) => typeof value === 'string');

/** The claims as a capability, or undefined when they do not make one (each kind has what it needs). */
function capabilityOf(p: Record<string, unknown>): Capability | undefined {
  const { k, o, key, u, n, s, lo, hi, t, md5, inm, meta } = p;
  if ((k !== 'put' && k !== 'part' && k !== 'post') || !isText(o) || !isText(key)) return undefined;
  if (![s, lo, hi].every((v) => isOptional(v, isCount)) || !isOptional(t, isText) || !isOptional(md5, isText)) return undefined;
  if (!isOptional(inm, (v) => v === true) || !isOptional(meta, isMetadata) || !isOptional(u, isText) || !isOptional(n, isCount)) return undefined;
  if (k === 'put' && (s === undefined || t === undefined)) return undefined;
  if (k === 'part' && (u === undefined || n === undefined || hi === undefined)) return undefined;
  if (k === 'post' && (lo === undefined || hi === undefined || t === undefined)) return undefined;
  return {
    kind: k,
    owner: o,
    key,
    ...(u === undefined ? {} : { uploadId: u as string }),
    ...(n === undefined ? {} : { partNumber: n as number }),
    ...(s === undefined ? {} : { size: s as number }),
    ...(lo === undefined ? {} : { minBytes: lo as number }),
    ...(hi === undefined ? {} : { maxBytes: hi as number }),
    ...(t === undefined ? {} : { type: t as string }),
    ...(md5 === undefined ? {} : { md5: md5 as string }),
    ...(inm === true ? { ifNoneMatch: true } : {}),
    ...(meta === undefined ? {} : { metadata: meta as Record<string, string> }),
  };
}

/** undefined when not sealed with this key, tampered with, expired or malformed. */
export async function openCapability(key: Uint8Array, sealed: string, now = Date.now()): Promise<OpenedCapability | undefined> {
  // a compact JWE is five base64url parts; anything else is not worth decrypting
  if (sealed.length > 8192 || !/^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(sealed)) return undefined;
  const payload = await openClaims(key, sealed, now);
  if (!payload) return undefined;
  const capability = capabilityOf(payload as Record<string, unknown>);
  return capability ? { ...capability, expiresAt: payload.exp * 1000 } : undefined;
}
