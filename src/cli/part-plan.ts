// How a file is cut into multipart parts, and which parts S3 already holds
// when an interrupted upload is taken up again. Pure.

/** S3's limits: parts of 5 MiB to 5 GiB (the last may be smaller), at most 10,000 of them. */
export const minPartSize = 5 * 1024 ** 2;
export const maxPartSize = 5 * 1024 ** 3;
export const maxParts = 10_000;

export interface Part {
  partNumber: number;
  /** first byte, inclusive */
  start: number;
  /** byte after the last */
  end: number;
}

/** A part size of at least `wanted` that keeps the file within 10,000 parts (whole MiB when it had to grow). */
export function partSizeFor(size: number, wanted: number): number {
  const needed = Math.ceil(size / maxParts);
  if (wanted >= needed) return wanted;
  return Math.ceil(needed / 1024 ** 2) * 1024 ** 2;
}

export function planParts(size: number, partSize: number): Part[] {
  const parts: Part[] = [];
  for (let start = 0, n = 1; start < size; start += partSize, n += 1) {
    parts.push({ partNumber: n, start, end: Math.min(size, start + partSize) });
  }
  return parts;
}

export interface ListedPart {
  PartNumber: number;
  ETag: string;
  Size: number;
}

/**
 * The part size an earlier run used, as far as the parts S3 has tell: this
 * run's size when they fit it, else the largest part's (every part but the
 * last is full); undefined when neither fits.
 */
export function partSizeOfListed(size: number, listed: readonly ListedPart[], fallback: number): number | undefined {
  const candidates = [fallback, Math.max(0, ...listed.map((p) => p.Size))];
  return candidates.find((candidate) => candidate > 0 && fits(size, candidate, listed));
}

function fits(size: number, partSize: number, listed: readonly ListedPart[]): boolean {
  const plan = planParts(size, partSize);
  return listed.every((p) => {
    const part = plan[p.PartNumber - 1];
    return part !== undefined && part.end - part.start === p.Size;
  });
}

/** S3's ETag of a part is the MD5 of its bytes (without SSE-KMS), in quotes. */
export const etagHex = (etag: string): string => etag.replaceAll('"', '').toLowerCase();
