// After a burst of requests V8 keeps the heap pages it grew into (and a pool
// of freed ones) for as long as the process runs: the bench measured a proxy
// at 182 MB thirty seconds after a small-object load, and at 110 MB after one
// memory-reducing collection. Nothing triggers that collection in a process
// that has gone quiet, so this does, once per quiet spell. It costs CPU in
// the first seconds of the next burst (the heap grows again), so it is an
// option: on only when node runs with --expose-gc.

export interface IdleRelease {
  /** One look at the activity; the timer calls it, tests call it directly. */
  check(): void;
  stop(): void;
}

export interface IdleReleaseOptions {
  /** how often activity is looked at; a spell this long with no new request and none in flight is quiet */
  everyMs: number;
  /** requests started so far (a counter that only grows) */
  requestsStarted: () => number;
  requestsInFlight: () => number;
  /** gives memory back; called at most once per quiet spell, and only after some activity */
  release: () => void;
}

export function releaseMemoryWhenIdle({ everyMs, requestsStarted, requestsInFlight, release }: IdleReleaseOptions): IdleRelease {
  let seen = requestsStarted();
  let busySinceRelease = false;
  const check = () => {
    const started = requestsStarted();
    if (started !== seen || requestsInFlight() > 0) {
      seen = started;
      busySinceRelease = true;
      return;
    }
    if (!busySinceRelease) return;
    busySinceRelease = false;
    release();
  };
  const timer = setInterval(check, everyMs);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}

type ExposedGc = (options?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async'; flavor?: 'regular' | 'last-resort' }) => void;

/**
 * V8's memory-reducing collection (the one it runs before giving up on an
 * allocation), which returns freed pages to the OS; a regular full GC keeps
 * them. Available only when node runs with --expose-gc (the operator's
 * choice); undefined otherwise.
 */
export function memoryReducingGc(): (() => void) | undefined {
  const gc = (globalThis as { gc?: ExposedGc }).gc;
  if (typeof gc !== 'function') return undefined;
  return () => gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}
