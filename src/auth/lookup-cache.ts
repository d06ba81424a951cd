// Values remembered for a short, fixed time, by key, with at most `capacity`
// of them (the oldest go first). Time is given by the caller (a monotonic
// clock in milliseconds), so that the module stays pure.
export class LookupCache<V> {
  readonly #ttlMs: number;
  readonly #capacity: number;
  readonly #entries = new Map<string, { value: V; storedAt: number }>();

  constructor(ttlMs: number, capacity: number) {
    this.#ttlMs = ttlMs;
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The value while younger than the time to live; an older one is dropped. */
  get(key: string, now: number): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    // also a clock that went back: never trust an entry from "the future"
    if (now - entry.storedAt >= this.#ttlMs || now < entry.storedAt) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: V, now: number): void {
    if (this.#ttlMs <= 0 || this.#capacity <= 0) return;
    this.#entries.delete(key);
    if (this.#entries.size >= this.#capacity) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { value, storedAt: now });
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }
}
