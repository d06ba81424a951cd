// What a client sends to the upload routes, checked field by field. Pure:
// each reader takes the raw value (from a query string or a JSON body) and
// returns the checked value or throws a 400 UploadProblem naming the field.
import { cleanFileName } from './object-name.ts';
import { badInput } from './upload-problem.ts';

export const MAX_PART_NUMBER = 10_000;
/** part URLs one batch request may ask for */
export const MAX_BATCH_PARTS = 1_000;
/** S3's limit for user metadata: the keys and values together, in bytes */
export const MAX_METADATA_BYTES = 2_048;

export function fileName(raw: unknown): string {
  if (typeof raw !== 'string' || raw === '') throw badInput('filename', 'is required');
  const cleaned = cleanFileName(raw);
  if (!cleaned.ok) throw badInput('filename', cleaned.reason);
  return cleaned.name;
}

export interface MediaType {
  /** as declared: what the client must send as Content-Type */
  value: string;
  /** `type/subtype`, lower-cased, for comparing with the allowed list */
  essence: string;
}

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const QUOTED = '"(?:[^"\\\\\\u0000-\\u001f\\u007f]|\\\\[\\u0020-\\u007e])*"';
const MEDIA_TYPE = new RegExp(`^(${TOKEN})/(${TOKEN})((?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|${QUOTED}))*)$`);

/** A media type as RFC 9110 writes it (`type/subtype` with optional parameters), at most 255 characters. */
export function mediaType(raw: unknown): MediaType {
  if (typeof raw !== 'string' || raw === '') throw badInput('type', 'is required');
  if (raw.length > 255) throw badInput('type', 'is longer than 255 characters');
  const match = MEDIA_TYPE.exec(raw);
  if (!match) throw badInput('type', 'is not a media type like image/png');
  return { value: raw, essence: `${match[1]}/${match[2]}`.toLowerCase() };
}

/** A byte count: a JSON number or a decimal string (from a query), whole and not negative. */
export function size(raw: unknown, field = 'size'): number | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^(0|[1-9][0-9]{0,15})$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw badInput(field, 'must be a whole number of bytes');
  return n;
}

/** Content-MD5: the base64 of 16 bytes (as S3 wants it), or 32 hex digits, which are converted. */
export function md5(raw: unknown): string | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (typeof raw === 'string') {
    if (/^[0-9a-fA-F]{32}$/.test(raw)) return Buffer.from(raw, 'hex').toString('base64');
    if (/^[A-Za-z0-9+/]{22}==$/.test(raw)) {
      const bytes = Buffer.from(raw, 'base64');
      if (bytes.length === 16 && bytes.toString('base64') === raw) return raw;
    }
  }
  throw badInput('md5', 'must be an MD5 digest: 24 characters of base64 or 32 hex digits');
}

const METADATA_KEY = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/**
 * User metadata for the object (x-amz-meta-*), as Companion takes it: keys
 * lower-cased (S3 does so anyway), letters, digits, '-' and '_'; values are
 * strings, numbers or booleans. Null values are skipped (Uppy sends
 * `relativePath: null` for every file picked on its own). A value with any
 * character outside printable ASCII is RFC 2047-encoded, as AWS advises,
 * because header values carry no other characters.
 */
export function metadata(raw: unknown): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw badInput('metadata', 'must be an object of names and values');
  const out: Record<string, string> = {};
  let bytes = 0;
  for (const [rawKey, value] of Object.entries(raw)) {
    if (value === null || value === undefined) continue;
    const key = rawKey.toLowerCase();
    if (!METADATA_KEY.test(key)) throw badInput('metadata', 'names must be letters, digits, "-" and "_", at most 64');
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw badInput('metadata', 'values must be strings, numbers or booleans');
    }
    const text = String(value);
    const encoded = /^[\u0020-\u007e]*$/.test(text) ? text : `=?UTF-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;
    out[key] = encoded;
    bytes += key.length + encoded.length;
  }
  if (bytes > MAX_METADATA_BYTES) throw badInput('metadata', `is larger than S3's ${MAX_METADATA_BYTES} bytes`);
  return out;
}

/** Companion's query form of metadata: `metadata[name]=value`. */
export function metadataFromQuery(query: URLSearchParams): Record<string, string> | undefined {
  let found: Record<string, string> | undefined;
  for (const [name, value] of query) {
    const match = /^metadata\[(.*)\]$/.exec(name);
    if (!match) continue;
    found ??= {};
    found[match[1]!] = value;
  }
  return found;
}

export function partNumber(raw: unknown, field = 'partNumber'): number {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^[1-9][0-9]{0,4}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PART_NUMBER) throw badInput(field, `must be a part number from 1 to ${MAX_PART_NUMBER}`);
  return n;
}

/** `1,2,3`: distinct part numbers, at most MAX_BATCH_PARTS of them. */
export function partNumbers(raw: unknown): number[] {
  if (typeof raw !== 'string' || raw === '') throw badInput('partNumbers', 'is required, like 1,2,3');
  const numbers = raw.split(',').map((item) => partNumber(item, 'partNumbers'));
  if (new Set(numbers).size !== numbers.length) throw badInput('partNumbers', 'lists a part twice');
  if (numbers.length > MAX_BATCH_PARTS) throw badInput('partNumbers', `asks for more than ${MAX_BATCH_PARTS} parts at once`);
  return numbers;
}

/** An S3 upload id: opaque, but printable ASCII and bounded (it becomes part of a Redis key). */
export function uploadId(raw: unknown): string {
  if (typeof raw !== 'string' || !/^[\u0021-\u007e]{1,1024}$/.test(raw)) throw badInput('uploadId', 'is not an upload id');
  return raw;
}

/** The `key` query parameter: the object's path as the proxy serves it. */
export function keyParameter(raw: unknown): string {
  if (typeof raw !== 'string' || raw === '') throw badInput('key', 'is required');
  return raw;
}

export interface CompletedPart {
  PartNumber: number;
  ETag: string;
}

/** The parts of a complete request: 1 to 10,000 of `{PartNumber, ETag}`, in ascending order, each once. */
export function completedParts(body: unknown): CompletedPart[] {
  const parts = typeof body === 'object' && body !== null ? (body as { parts?: unknown }).parts : undefined;
  if (!Array.isArray(parts) || parts.length === 0) throw badInput('parts', 'must be a list of {PartNumber, ETag}');
  if (parts.length > MAX_PART_NUMBER) throw badInput('parts', `lists more than ${MAX_PART_NUMBER} parts`);
  let previous = 0;
  return parts.map((part: unknown) => {
    if (typeof part !== 'object' || part === null) throw badInput('parts', 'must be a list of {PartNumber, ETag}');
    const { PartNumber, ETag } = part as { PartNumber?: unknown; ETag?: unknown };
    const number = partNumber(PartNumber, 'parts');
    if (typeof ETag !== 'string' || !/^[\u0020-\u007e]{1,128}$/.test(ETag)) throw badInput('parts', 'each part needs its ETag');
    if (number <= previous) throw badInput('parts', 'must be in ascending order of PartNumber, each once');
    previous = number;
    return { PartNumber: number, ETag };
  });
}
