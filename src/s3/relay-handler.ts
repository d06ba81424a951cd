// An undici dispatch handler for a GET whose body goes straight into the
// client's socket: each chunk S3 sends is written to the sink as it is parsed,
// and S3 is paused (its socket no longer read) whenever the sink is full,
// until it drains. No Readable, no pipeline, no per-chunk listener: a download
// holds at most the chunk in flight, and the kernel's socket buffers do the
// rest of the buffering.
import type { Dispatcher } from 'undici';

/** What a body is relayed into: a Node ServerResponse fits, without this module knowing HTTP. */
export interface RelaySink {
  write(chunk: Buffer): boolean;
  end(): void;
  destroy(error?: Error): void;
  once(event: 'drain' | 'close', listener: () => void): unknown;
  off(event: 'drain' | 'close', listener: () => void): unknown;
  readonly destroyed: boolean;
  readonly writableEnded: boolean;
}

export interface RelayHead {
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

/** Why a relayed body ended early; `client`: the sink went away (not S3's fault). */
export type RelayEnd = { ok: true } | { ok: false; cause: 'client' | 'origin'; error?: Error };

type Mode =
  | { kind: 'held' }
  | { kind: 'relay'; sink: RelaySink; progress: { bytesSent: number }; done: (end: RelayEnd) => void }
  | { kind: 'collect'; limit: number; chunks: Buffer[]; length: number; done: (text: string) => void }
  | { kind: 'drain'; limit: number; length: number; done: () => void }
  | { kind: 'over' };

export class RelayHandler implements Dispatcher.DispatchHandler {
  #controller: Dispatcher.DispatchController | undefined;
  #abortReason: Error | undefined;
  #mode: Mode = { kind: 'held' };
  #headed = false;
  #ended = false;
  #endError: Error | undefined;
  readonly #onHead: (head: RelayHead) => void;
  readonly #onFailure: (error: Error) => void;

  /** Exactly one of the two is called, once: the response's head, or why there is none. */
  constructor(onHead: (head: RelayHead) => void, onFailure: (error: Error) => void) {
    this.#onHead = onHead;
    this.#onFailure = onFailure;
  }

  /** Gives up on the request, wherever it is (queued, waiting for headers, mid-body). */
  abort(reason: Error): void {
    if (this.#ended) return;
    if (this.#controller) this.#controller.abort(reason);
    else this.#abortReason = reason;
    if (!this.#headed) {
      // A queued request is looked at by undici only once a connection frees up: the caller hears now.
      this.#ended = true;
      this.#onFailure(reason);
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#abortReason) controller.abort(this.#abortReason);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (this.#ended) return;
    this.#headed = true;
    // Nothing reads the body until the caller says what to do with it.
    controller.pause();
    this.#onHead({ status: statusCode, headers });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const mode = this.#mode;
    if (mode.kind === 'relay') {
      mode.progress.bytesSent += chunk.length;
      if (!mode.sink.write(chunk)) {
        controller.pause();
        mode.sink.once('drain', this.#resume);
      }
    } else if (mode.kind === 'collect') {
      const room = mode.limit - mode.length;
      const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
      mode.chunks.push(kept);
      mode.length += kept.length;
      if (mode.length >= mode.limit) this.#finishCollect(mode, true);
    } else if (mode.kind === 'drain') {
      mode.length += chunk.length;
      if (mode.length > mode.limit) {
        this.#mode = { kind: 'over' };
        controller.abort(new Error('body over the drain limit'));
        mode.done();
      }
    }
  }

  onResponseEnd(): void {
    this.#ended = true;
    const mode = this.#mode;
    this.#mode = { kind: 'over' };
    if (mode.kind === 'relay') {
      mode.sink.off('close', this.#sinkClosed);
      mode.sink.end();
      mode.done({ ok: true });
    } else if (mode.kind === 'collect') {
      this.#finishCollect(mode, false);
    } else if (mode.kind === 'drain') {
      mode.done();
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    const wasEnded = this.#ended;
    this.#ended = true;
    this.#endError = error;
    if (!this.#headed) {
      if (!wasEnded) this.#onFailure(error);
      return;
    }
    const mode = this.#mode;
    this.#mode = { kind: 'over' };
    if (mode.kind === 'relay') {
      mode.sink.off('close', this.#sinkClosed);
      mode.sink.off('drain', this.#resume);
      const byClient = mode.sink.destroyed;
      // A body cut short must never look complete: the client's connection goes too.
      if (!byClient) mode.sink.destroy(error);
      mode.done({ ok: false, cause: byClient ? 'client' : 'origin', error });
    } else if (mode.kind === 'collect') {
      this.#finishCollect(mode, false);
    } else if (mode.kind === 'drain') {
      mode.done();
    }
  }

  /** Writes the body into `sink`; resolves when it ended, one way or the other (never rejects). */
  relayTo(sink: RelaySink, progress: { bytesSent: number }): Promise<RelayEnd> {
    return new Promise((done) => {
      if (this.#ended) {
        if (this.#endError === undefined) sink.end();
        else sink.destroy(this.#endError);
        return done(this.#endError === undefined ? { ok: true } : { ok: false, cause: 'origin', error: this.#endError });
      }
      if (sink.destroyed || sink.writableEnded) {
        this.discard();
        return done({ ok: false, cause: 'client' });
      }
      this.#mode = { kind: 'relay', sink, progress, done };
      sink.once('close', this.#sinkClosed);
      this.#controller?.resume();
    });
  }

  /** The start of the body as text, at most `limit` bytes; the rest is dropped (its connection too). */
  text(limit: number): Promise<string> {
    return new Promise((done) => {
      const mode: Mode = { kind: 'collect', limit, chunks: [], length: 0, done };
      if (this.#ended) return done('');
      this.#mode = mode;
      this.#controller?.resume();
    });
  }

  /** Reads a short body to its end, so that its connection is kept; a longer one is cut. */
  drain(limit: number): Promise<void> {
    return new Promise((done) => {
      if (this.#ended) return done();
      this.#mode = { kind: 'drain', limit, length: 0, done };
      this.#controller?.resume();
    });
  }

  /** Drops the body unread, and its connection with it. */
  discard(): void {
    if (this.#ended) return;
    this.#mode = { kind: 'over' };
    this.#controller?.abort(new Error('body not wanted'));
  }

  #finishCollect(mode: Extract<Mode, { kind: 'collect' }>, cut: boolean): void {
    this.#mode = { kind: 'over' };
    if (cut) this.#controller?.abort(new Error('body over the read limit'));
    mode.done(Buffer.concat(mode.chunks, mode.length).toString('utf8'));
  }

  readonly #resume = (): void => {
    this.#controller?.resume();
  };

  readonly #sinkClosed = (): void => {
    const mode = this.#mode;
    if (mode.kind !== 'relay' || this.#ended) return;
    // The client left (or was dropped as idle): the S3 request ends with it.
    mode.sink.off('drain', this.#resume);
    this.#controller?.abort(new Error('the client went away'));
  };
}
