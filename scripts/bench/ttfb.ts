// Time to first byte: from sending the request to the first byte of the
// body, on a fresh connection each time, then the connection is dropped
// (a 1 GB object is never read to the end).
import http from 'node:http';

export interface TtfbResult {
  samples: number;
  /** to the response headers */
  headersMs: { p50: number; min: number; max: number };
  /** to the first body byte */
  firstByteMs: { p50: number; p90: number; min: number; max: number };
}

function once(url: string, headers: Record<string, string>): Promise<{ headersMs: number; firstByteMs: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let headersMs = 0;
    const request = http.get(url, { headers, agent: false }, (response) => {
      headersMs = performance.now() - started;
      if (response.statusCode !== 200) {
        request.destroy();
        return reject(new Error(`status ${response.statusCode} from ${new URL(url).pathname}`));
      }
      response.once('data', () => {
        const firstByteMs = performance.now() - started;
        request.destroy();
        resolve({ headersMs, firstByteMs });
      });
    });
    request.setTimeout(30_000, () => request.destroy(new Error('no first byte within 30 s')));
    request.on('error', (error) => {
      if (!headersMs) reject(error);
    });
  });
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

const round = (ms: number) => Math.round(ms * 100) / 100;

export async function measureTtfb(url: string, headers: Record<string, string>, samples: number, warmup = 2): Promise<TtfbResult> {
  for (let i = 0; i < warmup; i += 1) await once(url, headers);
  const heads: number[] = [];
  const firsts: number[] = [];
  for (let i = 0; i < samples; i += 1) {
    const r = await once(url, headers);
    heads.push(r.headersMs);
    firsts.push(r.firstByteMs);
  }
  heads.sort((a, b) => a - b);
  firsts.sort((a, b) => a - b);
  return {
    samples,
    headersMs: { p50: round(percentile(heads, 50)), min: round(heads[0]!), max: round(heads.at(-1)!) },
    firstByteMs: {
      p50: round(percentile(firsts, 50)),
      p90: round(percentile(firsts, 90)),
      min: round(firsts[0]!),
      max: round(firsts.at(-1)!),
    },
  };
}
