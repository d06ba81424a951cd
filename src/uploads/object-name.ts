// What a user's file is called in the bucket: the user's folder from the
// UPLOAD_PREFIX template, and the file name cleaned to one harmless path
// segment. Pure. File names come straight from clients, so this is attack
// surface: nothing a client sends can reach a key outside the user's folder.
import { createHash } from 'node:crypto';

/** the longest file name kept, in UTF-8 bytes (what most file systems allow) */
export const MAX_NAME_BYTES = 255;
/** S3's limit for a whole key, in UTF-8 bytes */
export const MAX_KEY_BYTES = 1024;

// Removed from names: C0 and C1 controls and DEL (NUL truncates strings in
// tools downstream, CR and LF forge log lines and headers), the Unicode
// bidirectional controls (U+202E makes "gpj.exe" read as "exe.jpg"), the
// line and paragraph separators, and the byte-order mark.
const STRIPPED = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff]/g;
// half of a surrogate pair has no UTF-8 form: S3 would store U+FFFD or refuse
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/** an extension longer than this is treated as part of the name when shortening */
const MAX_EXTENSION_BYTES = 32;

export type CleanName = { ok: true; name: string } | { ok: false; reason: string };

const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8');

/**
 * The last path segment of `raw` (after `/` or `\`), without control and
 * direction characters, leading dots or spaces and trailing spaces,
 * NFC-normalised, at most 255 UTF-8 bytes (shortened before the extension).
 */
export function cleanFileName(raw: string): CleanName {
  const segments = raw.replace(LONE_SURROGATE, '').split(/[/\\]/);
  let name = segments[segments.length - 1]!.replace(STRIPPED, '');
  // after stripping: a removed control between a letter and its accent would
  // otherwise leave the pair uncomposed
  name = name.normalize('NFC');
  // leading dots make hidden files and "..", leading and trailing spaces
  // make names that look like others
  name = name.replace(/^[\s.]+/u, '').replace(/\s+$/u, '');
  if (name === '') return { ok: false, reason: 'is empty once cleaned (no name left after the last "/" or "\\")' };
  return { ok: true, name: fitName(name, MAX_NAME_BYTES) };
}

function splitExtension(name: string): { stem: string; extension: string } {
  const dot = name.lastIndexOf('.');
  if (dot <= 0 || utf8Length(name.slice(dot)) > MAX_EXTENSION_BYTES) return { stem: name, extension: '' };
  return { stem: name.slice(0, dot), extension: name.slice(dot) };
}

// Made on first use: ICU's break rules cost every process some 2.5 MB of RSS,
// and only an over-long file name needs them.
let graphemes: Intl.Segmenter | undefined;

/** The longest run of whole characters (grapheme clusters) from the start of `text` within `maxBytes`. */
function cutToBytes(text: string, maxBytes: number): string {
  let out = '';
  let bytes = 0;
  for (const { segment } of (graphemes ??= new Intl.Segmenter('und', { granularity: 'grapheme' })).segment(text)) {
    const size = utf8Length(segment);
    if (bytes + size > maxBytes) break;
    out += segment;
    bytes += size;
  }
  return out;
}

/** `name` shortened to `maxBytes`, keeping its extension when there is room for some of the stem. */
export function fitName(name: string, maxBytes: number): string {
  if (utf8Length(name) <= maxBytes) return name;
  const { stem, extension } = splitExtension(name);
  const room = maxBytes - utf8Length(extension);
  const shortStem = room > 0 ? cutToBytes(stem, room).replace(/\s+$/u, '') : '';
  return shortStem === '' ? cutToBytes(name, maxBytes) : shortStem + extension;
}

/** The n-th name to try for a file that exists already: `report.pdf`, `report (1).pdf`, `report (2).pdf`, ... */
export function numberedName(name: string, n: number): string {
  if (n === 0) return name;
  const { stem, extension } = splitExtension(name);
  const suffix = ` (${n})${extension}`;
  const shortStem = cutToBytes(stem, MAX_NAME_BYTES - utf8Length(suffix)).replace(/\s+$/u, '');
  return shortStem + suffix;
}

/** {user}: the e-mail address, lower-cased, with every character outside a-z 0-9 . _ @ + - replaced by _. */
export function userSegment(email: string): string {
  return email.toLowerCase().replace(/[^a-z0-9._@+-]/gu, '_');
}

/** {user_hash}: the first 20 hex digits of the SHA-256 of the lower-cased e-mail address. */
export function userHash(email: string): string {
  return createHash('sha256').update(email.toLowerCase(), 'utf8').digest('hex').slice(0, 20);
}

/** The user's folder: the template with its placeholders filled in. */
export function userPrefix(template: string, email: string): string {
  return template.replaceAll('{user}', () => userSegment(email)).replaceAll('{user_hash}', () => userHash(email));
}

/** Whether the bucket's full key (operator prefix + user folder + name) is within S3's limit. */
export function keyFits(fullKey: string): boolean {
  return utf8Length(fullKey) <= MAX_KEY_BYTES;
}
