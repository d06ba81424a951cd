// Bodies from S3 that the proxy reads itself (error documents, readiness
// answers), never to the client: read to a bound, whatever S3 sends. A server
// that streams a chunked body without end would otherwise hold the request,
// and the memory, for as long as it kept sending.
import type { Readable } from 'node:stream';

/** S3 error documents are a few hundred bytes; nothing worth reading is larger. */
export const errorBodyLimit = 64 * 1024;

/**
 * At most `limit` bytes of the body, as text. The rest is never read: the
 * body is destroyed, which closes its connection to S3 (a keep-alive socket
 * with an unread body behind it is of no further use).
 */
export async function readBounded(body: Readable, limit = errorBodyLimit): Promise<string> {
  // Destroying an undici body emits an abort error: expected here.
  body.on('error', () => undefined);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
      const room = limit - size;
      chunks.push(buffer.length > room ? buffer.subarray(0, room) : buffer);
      size += Math.min(buffer.length, room);
      if (size >= limit) break;
    }
  } catch {
    // A body cut off part-way: what arrived is all there is to read.
  } finally {
    if (!body.destroyed) body.destroy();
  }
  return Buffer.concat(chunks).toString('utf8');
}
