// The size rule as the bytes flow: exactly `length` bytes are passed on to
// S3, then exactly `trailer` (a form's closing delimiter, not passed on),
// then the end. S3 was told the Content-Length before the first byte, so it
// makes the object (or the part) the moment it has that many bytes: the
// last byte is therefore held back until the client's body has ended and
// everything checked out. A body that runs longer, ends short or ends with
// something else errors the stream instead, the request to S3 is aborted
// one byte short, and S3 keeps nothing. A form's file may not contain the
// form's delimiter (RFC 2046): if it does, another field follows the file
// and its bytes would be taken for the file's. Pure (a Transform, no I/O).
import { Transform, type TransformCallback } from 'node:stream';

export type BodyFault = 'too_long' | 'too_short' | 'bad_trailer';

export class BodyRefused extends Error {
  readonly fault: BodyFault;
  constructor(fault: BodyFault, message: string) {
    super(message);
    this.name = 'BodyRefused';
    this.fault = fault;
  }
}

export class ExactLength extends Transform {
  readonly #length: number;
  readonly #trailer: Buffer;
  readonly #forbidden: Buffer | undefined;
  #received = 0;
  #trailerReceived = 0;
  #held: Buffer | undefined;
  /** the body's last bytes, where a forbidden sequence may have begun */
  #tail = Buffer.alloc(0);

  /** `forbidden`: a sequence of bytes the body must not contain */
  constructor(length: number, trailer: Buffer = Buffer.alloc(0), forbidden?: Buffer) {
    // room for a few of the client's chunks (Node reads 64 KiB at a time) while
    // the last ones go out to S3: the two sockets work at once, in bounded memory
    super({ highWaterMark: 256 * 1024 });
    this.#length = length;
    this.#trailer = trailer;
    this.#forbidden = forbidden && forbidden.length > 0 ? forbidden : undefined;
  }

  /** Whether `body` (following the bytes before it) completes the forbidden sequence. */
  #contains(body: Buffer): boolean {
    const forbidden = this.#forbidden;
    if (!forbidden || body.length === 0) return false;
    const keep = forbidden.length - 1;
    // across the seam with the previous chunk, then within this one
    const seam = Buffer.concat([this.#tail, body.subarray(0, keep)]);
    if (seam.includes(forbidden) || body.includes(forbidden)) return true;
    this.#tail = Buffer.from(Buffer.concat([this.#tail, body.subarray(Math.max(0, body.length - keep))]).subarray(-keep));
    return false;
  }

  /** body bytes received so far (the trailer not counted) */
  get received(): number {
    return this.#received;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let rest = chunk;
    const wanted = this.#length - this.#received;
    if (wanted > 0) {
      const body = rest.subarray(0, wanted);
      rest = rest.subarray(body.length);
      this.#received += body.length;
      if (this.#contains(body)) return callback(new BodyRefused('bad_trailer', 'the form goes on after the file (the file must be its last field)'));
      if (this.#received === this.#length) {
        // copied: the chunk's buffer may be reused once it has been passed on
        this.#held = Buffer.from(body.subarray(body.length - 1));
        if (body.length > 1) this.push(body.subarray(0, body.length - 1));
      } else {
        this.push(body);
      }
    }
    if (rest.length > 0) {
      const at = this.#trailerReceived;
      if (at + rest.length > this.#trailer.length) {
        if (this.#trailer.length === 0) return callback(new BodyRefused('too_long', `the body is longer than ${this.#length} bytes`));
        return callback(new BodyRefused('bad_trailer', 'the form goes on after the file (the file must be its last field)'));
      }
      if (!rest.equals(this.#trailer.subarray(at, at + rest.length))) {
        return callback(new BodyRefused('bad_trailer', 'the form goes on after the file (the file must be its last field)'));
      }
      this.#trailerReceived += rest.length;
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.#received < this.#length) return callback(new BodyRefused('too_short', `the body ended after ${this.#received} of ${this.#length} bytes`));
    if (this.#trailerReceived < this.#trailer.length) return callback(new BodyRefused('bad_trailer', 'the form ended without its closing delimiter'));
    if (this.#held) this.push(this.#held);
    callback();
  }
}
