// What an upload shows while it runs: on a terminal, one bar redrawn in
// place (at most ten times a second); otherwise plain lines that a log or
// CI output keeps readable: a start line, one per part, and the result.
import { formatBytes } from './sizes.ts';

export interface Progress {
  start(name: string, total: number, detail: string): void;
  /** bytes handed to the network since the last call (negative: a retried part going back) */
  advance(bytes: number): void;
  /** a part is at S3 */
  part(partNumber: number, partCount: number): void;
  /** a line that stays, above the bar */
  note(line: string): void;
  /** the file is done (or failed); the bar goes */
  finish(line: string): void;
}

export function progressFor(out: NodeJS.WriteStream): Progress {
  return out.isTTY ? new TerminalBar(out) : new PlainLines(out);
}

class PlainLines implements Progress {
  readonly #out: NodeJS.WritableStream;
  #name = '';
  constructor(out: NodeJS.WritableStream) {
    this.#out = out;
  }
  start(name: string, total: number, detail: string): void {
    this.#name = name;
    this.#out.write(`${name}: uploading ${formatBytes(total)}${detail ? ` ${detail}` : ''}\n`);
  }
  advance(): void {}
  part(partNumber: number, partCount: number): void {
    this.#out.write(`${this.#name}: part ${partNumber} of ${partCount} uploaded\n`);
  }
  note(line: string): void {
    this.#out.write(`${line}\n`);
  }
  finish(line: string): void {
    this.#out.write(`${line}\n`);
  }
}

class TerminalBar implements Progress {
  readonly #out: NodeJS.WriteStream;
  #name = '';
  #total = 0;
  #done = 0;
  #startedAt = 0;
  #lastDraw = 0;
  constructor(out: NodeJS.WriteStream) {
    this.#out = out;
  }
  start(name: string, total: number, detail: string): void {
    this.#name = name;
    this.#total = total;
    this.#done = 0;
    this.#startedAt = Date.now();
    if (detail) this.note(`${name}: ${formatBytes(total)} ${detail}`);
    this.#draw(true);
  }
  advance(bytes: number): void {
    this.#done = Math.max(0, Math.min(this.#total, this.#done + bytes));
    this.#draw(false);
  }
  part(): void {
    this.#draw(true);
  }
  note(line: string): void {
    this.#out.write(`\r\x1b[2K${line}\n`);
    this.#draw(true);
  }
  finish(line: string): void {
    this.#out.write(`\r\x1b[2K${line}\n`);
    this.#name = '';
  }
  #draw(force: boolean): void {
    if (!this.#name) return;
    const now = Date.now();
    if (!force && now - this.#lastDraw < 100) return;
    this.#lastDraw = now;
    const fraction = this.#total === 0 ? 1 : this.#done / this.#total;
    const seconds = Math.max(0.001, (now - this.#startedAt) / 1000);
    const right = ` ${Math.floor(fraction * 100)
      .toString()
      .padStart(3)}% ${formatBytes(this.#done)}/${formatBytes(this.#total)} ${formatBytes(this.#done / seconds)}/s`;
    const width = Math.max(10, Math.min(40, (this.#out.columns ?? 80) - this.#name.length - right.length - 4));
    const filled = Math.round(fraction * width);
    this.#out.write(`\r\x1b[2K${this.#name} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}]${right}`);
  }
}
