// `s3proxy upload`: each file to the proxy's upload routes, the bytes
// straight to S3 through the presigned URLs the proxy hands out.
// - Up to the multipart threshold: one presigned PUT (POST /__s3proxy/uploads),
//   with the file's MD5 so that S3 checks the bytes.
// - Above it: a multipart upload (POST /__s3proxy/s3/multipart), parts sent
//   in parallel through batches of part URLs, then completed. Run again after
//   an interruption, it finds this user's upload in progress for the same
//   file name and size (GET /__s3proxy/uploads), asks which parts S3 has
//   (GET /__s3proxy/s3/multipart/:uploadId), and sends only the others;
//   a part S3 has is kept only when its ETag is the MD5 of the local bytes.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { request } from 'undici';
import { ApiError, causeOf, type ApiClient } from './api-client.ts';
import { CliError } from './cli-error.ts';
import { etagHex, partSizeFor, partSizeOfListed, planParts, type ListedPart, type Part } from './part-plan.ts';
import type { Progress } from './progress.ts';
import { formatBytes } from './sizes.ts';

export interface UploadOptions {
  api: ApiClient;
  progress: Progress;
  /** files above this many bytes go in parts */
  multipartThreshold: number;
  partSize: number;
  /** parts in flight at once */
  concurrency: number;
  /** the declared type; absent: guessed from the file name */
  type?: string;
}

export interface Uploaded {
  key: string;
  /** where to download it through the proxy */
  url: string;
  /** multipart only: parts that S3 had from an earlier run and were not sent again */
  partsKept: number;
  partsSent: number;
}

const attemptsPerPart = 3;

export async function uploadFile(file: string, options: UploadOptions): Promise<Uploaded> {
  let size: number;
  try {
    const s = await stat(file);
    if (!s.isFile()) throw new CliError(`${file} is not a file`);
    size = s.size;
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const name = path.basename(file);
  const type = options.type ?? typeFor(name);
  return size > options.multipartThreshold ? multipart(file, name, size, type, options) : single(file, name, size, type, options);
}

// --- one PUT ----------------------------------------------------------------

interface PresignedPut {
  method: string;
  url: string;
  headers?: Record<string, string>;
  key: string;
}

async function single(file: string, name: string, size: number, type: string, options: UploadOptions): Promise<Uploaded> {
  const md5 = await fileMd5(file);
  const put = await options.api.json<PresignedPut>('POST', '/__s3proxy/uploads', {
    body: { filename: name, type, size, md5 },
    what: `${name}: asking for an upload URL`,
  });
  options.progress.start(name, size, '');
  // exactly the headers the signature covers (type, length, MD5, if-none-match)
  const headers = Object.fromEntries(Object.entries(put.headers ?? {}).map(([header, value]) => [header.toLowerCase(), value]));
  const { status, body } = await sendBytes(put.url, file, { start: 0, end: size }, { ...headers, 'content-length': String(size) }, options.progress);
  if (status < 200 || status > 299) throw new CliError(`${name}: S3 refused the upload: ${status} ${s3Code(body)}`);
  return { key: put.key, url: options.api.url(`/${encodePath(put.key)}`).href, partsKept: 0, partsSent: 1 };
}

// --- multipart --------------------------------------------------------------

interface InProgress {
  uploadId: string;
  key: string;
  name?: string;
  filename?: string;
  size?: number;
}

async function multipart(file: string, name: string, size: number, type: string, options: UploadOptions): Promise<Uploaded> {
  const { api, progress } = options;
  const wanted = partSizeFor(size, options.partSize);
  let upload: { uploadId: string; key: string } | undefined;
  let partSize = wanted;
  let kept = new Map<number, string>();

  const earlier = await findEarlier(api, name, size);
  if (earlier) {
    const listed = await api.json<ListedPart[]>('GET', `/__s3proxy/s3/multipart/${encodeURIComponent(earlier.uploadId)}`, {
      query: { key: earlier.key },
      what: `${name}: asking S3 which parts it has`,
    });
    const earlierPartSize = partSizeOfListed(size, listed, wanted);
    if (earlierPartSize !== undefined) {
      upload = earlier;
      partSize = earlierPartSize;
      kept = await partsStillGood(file, planParts(size, partSize), listed);
      progress.note(`${name}: resuming the upload begun earlier: ${kept.size} of ${planParts(size, partSize).length} parts are at S3 already`);
    } else {
      progress.note(`${name}: an earlier upload's parts do not fit this file; starting over`);
      await api.json('DELETE', `/__s3proxy/s3/multipart/${encodeURIComponent(earlier.uploadId)}`, { query: { key: earlier.key }, what: `${name}: aborting the earlier upload` }).catch(() => undefined);
    }
  }
  upload ??= await api.json<{ uploadId: string; key: string }>('POST', '/__s3proxy/s3/multipart', {
    body: { filename: name, type, size, metadata: { name, type } },
    what: `${name}: starting a multipart upload`,
  });

  const plan = planParts(size, partSize);
  const todo = plan.filter((part) => !kept.has(part.partNumber));
  progress.start(name, size, `in ${plan.length} parts of ${formatBytes(partSize)}`);
  progress.advance(plan.filter((part) => kept.has(part.partNumber)).reduce((sum, part) => sum + part.end - part.start, 0));

  const urls = new PartUrls(api, upload, name, todo.map((part) => part.partNumber), Math.max(options.concurrency * 2, 8));
  const etags = new Map(kept);
  let next = 0;
  let done = kept.size;
  const worker = async (): Promise<void> => {
    while (next < todo.length) {
      const part = todo[next++]!;
      etags.set(part.partNumber, await sendPart(file, part, urls, progress, name));
      done += 1;
      progress.part(done, plan.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, Math.max(1, todo.length)) }, worker));

  const parts = plan.map((part) => ({ PartNumber: part.partNumber, ETag: etags.get(part.partNumber)! }));
  const completed = await api.json<{ key: string; location?: string }>('POST', `/__s3proxy/s3/multipart/${encodeURIComponent(upload.uploadId)}/complete`, {
    query: { key: upload.key },
    body: { parts },
    what: `${name}: completing the upload`,
  });
  const key = completed.key ?? upload.key;
  return { key, url: api.url(`/${encodePath(key)}`).href, partsKept: kept.size, partsSent: todo.length };
}

/** This user's upload in progress of a file of this name and size, if the proxy still knows one. */
async function findEarlier(api: ApiClient, name: string, size: number): Promise<InProgress | undefined> {
  const answer = await api.json<InProgress[] | { uploads?: InProgress[] }>('GET', '/__s3proxy/uploads', { what: `${name}: asking for uploads in progress` });
  const list = Array.isArray(answer) ? answer : (answer.uploads ?? []);
  const wantedName = name.normalize('NFC');
  // the newest first: an older one of the same file was given up on
  return [...list].reverse().find((u) => (u.name ?? u.filename) === wantedName && u.size === size && typeof u.uploadId === 'string');
}

/** The parts S3 has whose bytes are this file's bytes (a file changed since would be spliced otherwise). */
async function partsStillGood(file: string, plan: Part[], listed: readonly ListedPart[]): Promise<Map<number, string>> {
  const good = new Map<number, string>();
  for (const p of listed) {
    const part = plan[p.PartNumber - 1];
    if (!part || part.end - part.start !== p.Size) continue;
    if ((await rangeMd5(file, part)) === etagHex(p.ETag)) good.set(p.PartNumber, p.ETag);
  }
  return good;
}

/** Part URLs fetched a batch at a time as the workers need them; a URL that S3 refuses as expired is fetched again. */
class PartUrls {
  readonly #api: ApiClient;
  readonly #upload: { uploadId: string; key: string };
  readonly #name: string;
  /** the part numbers to send, in order */
  readonly #todo: number[];
  readonly #batch: number;
  readonly #urls = new Map<number, Promise<string>>();

  constructor(api: ApiClient, upload: { uploadId: string; key: string }, name: string, todo: number[], batch: number) {
    this.#api = api;
    this.#upload = upload;
    this.#name = name;
    this.#todo = todo;
    this.#batch = batch;
  }

  /** URLs are asked for shortly before use, a batch at a time: they expire (UPLOAD_URL_TTL). */
  url(partNumber: number): Promise<string> {
    const known = this.#urls.get(partNumber);
    if (known) return known;
    const from = Math.max(0, this.#todo.indexOf(partNumber));
    const numbers = [partNumber, ...this.#todo.slice(from + 1).filter((n) => !this.#urls.has(n)).slice(0, this.#batch - 1)];
    const batch = this.#api
      .json<{ presignedUrls: Record<string, string> }>('GET', `/__s3proxy/s3/multipart/${encodeURIComponent(this.#upload.uploadId)}/batch`, {
        query: { key: this.#upload.key, partNumbers: numbers.join(',') },
        what: `${this.#name}: asking for part URLs`,
      });
    for (const n of numbers) {
      const url = batch.then((answer) => {
        const url = answer.presignedUrls?.[String(n)];
        if (!url) throw new CliError(`${this.#name}: the proxy gave no URL for part ${n}`);
        return url;
      });
      url.catch(() => this.#urls.delete(n));
      this.#urls.set(n, url);
    }
    return this.#urls.get(partNumber)!;
  }

  forget(partNumber: number): void {
    this.#urls.delete(partNumber);
  }
}

async function sendPart(file: string, part: Part, urls: PartUrls, progress: Progress, name: string): Promise<string> {
  let lastProblem = '';
  for (let attempt = 1; attempt <= attemptsPerPart; attempt++) {
    const url = await urls.url(part.partNumber);
    let result;
    try {
      result = await sendBytes(url, file, part, { 'content-length': String(part.end - part.start) }, progress);
    } catch (error) {
      if (error instanceof CliError) throw error;
      lastProblem = causeOf(error);
      await delay(attempt * 500);
      continue;
    }
    if (result.status >= 200 && result.status < 300 && result.etag) {
      if (etagHex(result.etag).length === 32 && /^[0-9a-f]{32}$/.test(etagHex(result.etag)) && etagHex(result.etag) !== result.md5) {
        // S3 keeps what it received; a part whose ETag is another MD5 did not arrive intact
        lastProblem = 'S3 received other bytes than were sent';
        continue;
      }
      return result.etag;
    }
    lastProblem = `${result.status} ${s3Code(result.body)}`;
    // an expired URL, or a server error: a fresh URL and another go; anything else is final
    if (result.status === 403) urls.forget(part.partNumber);
    else if (result.status < 500) break;
    await delay(attempt * 500);
  }
  throw new CliError(`${name}: part ${part.partNumber} failed (${lastProblem}); run the same command again to resume`);
}

interface Sent {
  status: number;
  etag: string | undefined;
  /** hex MD5 of the bytes sent */
  md5: string;
  /** S3's error document, for its code */
  body: string;
}

/** PUTs bytes [start, end) of the file, counting them into the progress as they go. */
async function sendBytes(url: string, file: string, range: { start: number; end: number }, headers: Record<string, string>, progress: Progress): Promise<Sent> {
  const hash = createHash('md5');
  let sent = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      sent += chunk.length;
      progress.advance(chunk.length);
      callback(null, chunk);
    },
  });
  const source = range.end > range.start ? createReadStream(file, { start: range.start, end: range.end - 1 }).pipe(counted) : undefined;
  try {
    const response = await request(url, { method: 'PUT', headers, body: source ?? '' });
    const body = response.statusCode >= 300 ? await response.body.text() : (await response.body.dump(), '');
    const etag = response.headers.etag;
    if (response.statusCode >= 300) progress.advance(-sent);
    return { status: response.statusCode, etag: Array.isArray(etag) ? etag[0] : etag, md5: hash.digest('hex'), body };
  } catch (error) {
    progress.advance(-sent);
    throw error;
  }
}

function s3Code(body: string): string {
  return /<Code>([^<]{1,100})<\/Code>/.exec(body)?.[1] ?? '';
}

async function fileMd5(file: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('base64');
}

async function rangeMd5(file: string, part: Part): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(file, { start: part.start, end: part.end - 1 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The key as a path: each segment percent-encoded, the slashes kept, and what a path may hold as it is (`@`, `+`, ...) left readable. */
export function encodePath(key: string): string {
  return key
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/%(40|3A|2B|2C|3B|3D|21|24|26|27|28|29|2A)/g, (escape) => decodeURIComponent(escape)))
    .join('/');
}

const types: Record<string, string> = {
  txt: 'text/plain',
  csv: 'text/csv',
  json: 'application/json',
  pdf: 'application/pdf',
  zip: 'application/zip',
  gz: 'application/gzip',
  tar: 'application/x-tar',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  svg: 'image/svg+xml',
  mp4: 'video/mp4',
  webm: 'video/webm',
  mp3: 'audio/mpeg',
  html: 'text/html',
  xml: 'application/xml',
  parquet: 'application/vnd.apache.parquet',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
};

/** A media type from the file name's extension, for the common ones; octet-stream otherwise (--type overrides). */
export function typeFor(name: string): string {
  const ext = /\.([A-Za-z0-9]+)$/.exec(name)?.[1]?.toLowerCase();
  return (ext && types[ext]) || 'application/octet-stream';
}

export { ApiError };
