// The upload section of the benchmark: the same bytes sent to S3 three
// ways, in turns (so that a busy moment of the machine falls on all of
// them alike), each round a median of `rounds` with its spread:
//   - a presigned PUT straight to S3 (what UPLOAD_DATA_PATH=direct does);
//   - a PUT through the proxy (UPLOAD_DATA_PATH=proxy);
//   - a multipart upload through the proxy, four parts at once.
// Then the proxy's RSS, sampled every 100 ms, while four large parts stream
// through it at once: it must stay flat (the bytes are never buffered), so
// the target is an allowance over the idle RSS that is far below what the
// four parts weigh.
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Readable } from 'node:stream';
import { request } from 'undici';
import { patternBytes, type S3Stack } from '../../test/support/s3-fixtures.ts';
import type { Session } from './fixtures.ts';
import { mb, sampleProcess, startSampler } from './proc.ts';
import type { BenchProxy } from './proxy.ts';
import { verdict, type Row } from './report.ts';

const MiB = 1024 * 1024;
/** the four-parts-at-once RSS check may grow the proxy's RSS by at most this much over idle */
const flatAllowanceBytes = 64 * MiB;

export interface UploadBenchOptions {
  stack: S3Stack;
  bucket: string;
  session: Session;
  /** bytes per upload in the throughput runs */
  sizeBytes: number;
  /** bytes per part in the RSS run (four of them at once) */
  rssPartBytes: number;
  rounds: number;
  /** starts a proxy with these extra variables (run.ts keeps track of it for clean-up) */
  startProxy: (env: Record<string, string>) => Promise<BenchProxy>;
  say: (line: string) => void;
}

export interface Measured {
  /** MB/s (10^6 bytes) of each round, in the order run */
  runs: number[];
  median: number;
  min: number;
  max: number;
}

export interface UploadBenchResult {
  sizeBytes: number;
  direct: Measured;
  proxyPut: Measured;
  proxyMultipart: Measured;
  rss: {
    partBytes: number;
    parts: number;
    /** RSS of the proxy just started, before any upload */
    freshBytes: number;
    /** RSS just before the four parts, after the throughput rounds */
    idleBytes: number;
    peakBytes: number;
    /** median RSS of the last quarter of the samples less that of the first quarter: climbing, or flat */
    growthBytes: number;
    afterBytes: number;
    seconds: number;
    samples: number[];
  };
}

function measured(runs: number[]): Measured {
  const sorted = [...runs].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  const round = (n: number) => Math.round(n * 10) / 10;
  return { runs: runs.map(round), median: round(median), min: round(sorted[0]!), max: round(sorted.at(-1)!) };
}

const shown = (m: Measured) => `${m.median} MB/s (${m.min}-${m.max})`;

/** `size` bytes in 1 MiB chunks of one pattern: what a client streams from a file, without reading one. */
function bytesOf(size: number, pattern: Buffer): Readable {
  async function* chunks() {
    for (let sent = 0; sent < size; sent += pattern.length) yield pattern.subarray(0, Math.min(pattern.length, size - sent));
  }
  // undici sends an async iterable as it comes (its types do not say so)
  return chunks() as unknown as Readable;
}

async function put(url: string, size: number, pattern: Buffer, headers: Record<string, string> = {}): Promise<string> {
  const response = await request(url, { method: 'PUT', headers: { ...headers, 'content-length': String(size) }, body: bytesOf(size, pattern) });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`PUT answered ${response.statusCode}: ${text.slice(0, 300)}`);
  const etag = response.headers.etag;
  return (Array.isArray(etag) ? etag[0] : etag) ?? '';
}

class Api {
  readonly #proxy: BenchProxy;
  readonly #cookie: string;
  constructor(proxy: BenchProxy, cookie: string) {
    this.#proxy = proxy;
    this.#cookie = cookie;
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    // a page on the proxy's own origin, as the same-origin rule for cookies wants
    const response = await fetch(this.#proxy.url + path, {
      method,
      headers: { cookie: this.#cookie, origin: this.#proxy.url, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const answer = (await response.json()) as T;
    if (response.status !== 200) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(answer)}`);
    return answer;
  }
}

interface Upload {
  key: string;
  uploadId: string;
}

/** A multipart upload through the proxy's routes and data path, `parallel` parts at once. */
async function multipart(api: Api, name: string, size: number, partSize: number, parallel: number, pattern: Buffer): Promise<string> {
  const upload = await api.json<Upload>('POST', '/__s3proxy/s3/multipart', { filename: name, type: 'application/octet-stream', size });
  const numbers = Array.from({ length: Math.ceil(size / partSize) }, (_, i) => i + 1);
  const base = `/__s3proxy/s3/multipart/${encodeURIComponent(upload.uploadId)}`;
  const query = (extra: Record<string, string> = {}) => `?${new URLSearchParams({ key: upload.key, ...extra })}`;
  const { presignedUrls } = await api.json<{ presignedUrls: Record<string, string> }>('GET', `${base}/batch${query({ partNumbers: numbers.join(',') })}`);
  const etags = new Map<number, string>();
  let next = 0;
  const worker = async () => {
    while (next < numbers.length) {
      const n = numbers[next++]!;
      etags.set(n, await put(presignedUrls[String(n)]!, Math.min(partSize, size - (n - 1) * partSize), pattern));
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  await api.json('POST', `${base}/complete${query()}`, { parts: numbers.map((n) => ({ PartNumber: n, ETag: etags.get(n)! })) });
  return upload.key;
}

const mbPerS = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);

export async function runUploadBench(options: UploadBenchOptions): Promise<{ rows: Row[]; result: UploadBenchResult }> {
  const { stack, bucket, session, sizeBytes, rounds, say } = options;
  const keyPrefix = new URL(session.env.AWS_S3_ENDPOINT!).pathname.split('/').slice(2).join('/');
  const s3 = new S3Client({
    endpoint: stack.endpoint.origin,
    region: stack.region,
    forcePathStyle: true,
    credentials: { accessKeyId: stack.accessKey, secretAccessKey: stack.secretKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const proxy = await options.startProxy({
    UPLOAD_PREFIX: 'bench-uploads/{user}/',
    UPLOAD_DATA_PATH: 'proxy',
    UPLOAD_MAX_BYTES: '1TiB',
    UPLOAD_OVERWRITE: 'allow',
    UPLOAD_URL_TTL: '3600',
  });
  const api = new Api(proxy, session.cookie);
  const fresh = sampleProcess(proxy.pid).rssBytes;
  const pattern = patternBytes(MiB, 31);
  // every upload is deleted again at once: the test stack's S3 keeps them in memory
  const forget = (key: string) => s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: keyPrefix + key })).catch(() => undefined);
  const timed = async (run: () => Promise<string>) => {
    const started = performance.now();
    const key = await run();
    const speed = mbPerS(sizeBytes, performance.now() - started);
    await forget(key);
    return speed;
  };
  try {
    // new connections to S3 and a cold JIT belong to no variant
    say('uploads: warming up');
    await put((await api.json<{ url: string }>('POST', '/__s3proxy/uploads', { filename: 'bench-warm.bin', type: 'application/octet-stream', size: MiB })).url, MiB, pattern);
    await forget(await multipart(api, 'bench-warm-parts.bin', 12 * MiB, 5 * MiB, 4, pattern));
    const direct: number[] = [];
    const proxyPut: number[] = [];
    const proxyMultipart: number[] = [];
    const partSize = Math.max(5 * MiB, Math.ceil(sizeBytes / 4));
    for (let round = 1; round <= rounds; round++) {
      say(`uploads, round ${round} of ${rounds}: ${mb(sizeBytes)} MiB direct to S3, through the proxy, in parts through the proxy`);
      direct.push(
        await timed(async () => {
          const key = 'bench-direct.bin';
          const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: keyPrefix + key, ContentLength: sizeBytes }), { expiresIn: 3600 });
          await put(url, sizeBytes, pattern);
          return key;
        }),
      );
      proxyPut.push(
        await timed(async () => {
          const answer = await api.json<{ url: string; headers: Record<string, string>; key: string }>('POST', '/__s3proxy/uploads', {
            filename: 'bench-put.bin',
            type: 'application/octet-stream',
            size: sizeBytes,
          });
          await put(answer.url, sizeBytes, pattern, answer.headers);
          return answer.key;
        }),
      );
      proxyMultipart.push(await timed(() => multipart(api, 'bench-multipart.bin', sizeBytes, partSize, 4, pattern)));
    }

    // --- RSS with four large parts in flight at once --------------------------------
    const parts = 4;
    const partBytes = options.rssPartBytes;
    say(`uploads: proxy RSS while ${parts} parts of ${mb(partBytes)} MiB stream through it at once`);
    const idle = sampleProcess(proxy.pid).rssBytes;
    const sampler = startSampler(proxy.pid, 100);
    const started = performance.now();
    const key = await multipart(api, 'bench-rss.bin', parts * partBytes, partBytes, parts, pattern);
    const seconds = (performance.now() - started) / 1000;
    const samples = sampler.stop().map((s) => s.rssBytes);
    await forget(key);
    const after = sampleProcess(proxy.pid).rssBytes;
    const peak = Math.max(...samples);
    const quarter = Math.max(1, Math.floor(samples.length / 4));
    const medianOf = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
    const growth = medianOf(samples.slice(-quarter)) - medianOf(samples.slice(0, quarter));

    const result: UploadBenchResult = {
      sizeBytes,
      direct: measured(direct),
      proxyPut: measured(proxyPut),
      proxyMultipart: measured(proxyMultipart),
      rss: { partBytes, parts, freshBytes: fresh, idleBytes: idle, peakBytes: peak, growthBytes: growth, afterBytes: after, seconds: Math.round(seconds * 10) / 10, samples },
    };
    const ratioTo = (m: Measured) => `${(m.median / result.direct.median).toFixed(2)}x`;
    const rows: Row[] = [
      { benchmark: `${mb(sizeBytes)} MiB upload, presigned PUT to S3 (direct)`, direct: shown(result.direct), proxy: '', target: '(baseline)', verdict: '' },
      { benchmark: `${mb(sizeBytes)} MiB upload, PUT through the proxy`, direct: shown(result.direct), proxy: shown(result.proxyPut), ratio: ratioTo(result.proxyPut), target: '(info)', verdict: '' },
      {
        benchmark: `${mb(sizeBytes)} MiB upload, 4 parts at once through the proxy`,
        direct: shown(result.direct),
        proxy: shown(result.proxyMultipart),
        ratio: ratioTo(result.proxyMultipart),
        target: '(info)',
        verdict: '',
      },
      {
        benchmark: `proxy RSS, ${parts} x ${mb(partBytes)} MiB parts at once`,
        proxy: `fresh ${mb(fresh)} / before ${mb(idle)} / peak ${mb(peak)} / after ${mb(after)} MB`,
        target: `peak <= before + ${mb(flatAllowanceBytes)} MB`,
        verdict: verdict(peak - idle <= flatAllowanceBytes),
      },
      {
        benchmark: `proxy RSS growth while the parts streamed (${result.rss.seconds} s)`,
        proxy: `${mb(growth)} MB`,
        target: '(info: first vs last quarter of the samples)',
        verdict: '',
      },
    ];
    return { rows, result };
  } finally {
    s3.destroy();
    await proxy.stop();
  }
}
