/**
 * Deadlines for calls whose request has not fully arrived (a half-open stream: headers sent, message never
 * finished), kept by one sweeping timer instead of a timer per call: a Check arms and clears its deadline
 * with a set insertion and deletion, and the timer runs only while some call is being watched.
 *
 * Calls are kept in {@link SLOTS} + 1 buckets by the sweep period they started in; each sweep (every
 * timeoutMs / SLOTS) expires the bucket that started SLOTS + 1 sweeps ago. A call is therefore expired
 * between timeoutMs and 1.25 × timeoutMs after it started, never earlier.
 */

/** A repeating timer: `start` runs `tick` every `periodMs` until the returned stop function is called. */
export interface Ticker {
  start(periodMs: number, tick: () => void): () => void;
}

/** setInterval, unref'd: a pending deadline never keeps the process alive. */
export const INTERVAL_TICKER: Ticker = {
  start(periodMs, tick) {
    const timer = setInterval(tick, periodMs);
    timer.unref();
    return () => clearInterval(timer);
  },
};

/** One watched call; `settle()` when its request has arrived (or the call ended) so it is never expired. */
export interface Watched {
  settle(): void;
}

export interface RequestDeadlines {
  /** Starts watching a call; `expire` runs once if it is not settled in time. */
  watch(expire: () => void): Watched;
  /** Calls being watched now. */
  readonly size: () => number;
}

const SLOTS = 4;

class Entry implements Watched {
  constructor(
    readonly expire: () => void,
    public bucket: Set<Entry> | undefined,
  ) {}

  settle(): void {
    this.bucket?.delete(this);
    this.bucket = undefined;
  }
}

export function requestDeadlines(timeoutMs: number, ticker: Ticker = INTERVAL_TICKER): RequestDeadlines {
  const buckets = Array.from({ length: SLOTS + 1 }, () => new Set<Entry>());
  let current = 0;
  let stop: (() => void) | undefined;
  const size = () => buckets.reduce((n, b) => n + b.size, 0);

  const sweep = () => {
    current = (current + 1) % buckets.length;
    // This bucket was current SLOTS + 1 sweeps ago: every call in it started at least timeoutMs ago.
    const expired = buckets[current]!;
    for (const entry of expired) {
      entry.bucket = undefined;
      try {
        entry.expire();
      } catch {
        // One call's expiry must not keep the others from theirs.
      }
    }
    expired.clear();
    if (size() === 0) {
      stop?.();
      stop = undefined;
    }
  };

  return {
    watch(expire) {
      const bucket = buckets[current]!;
      const entry = new Entry(expire, bucket);
      bucket.add(entry);
      stop ??= ticker.start(Math.max(1, timeoutMs / SLOTS), sweep);
      return entry;
    },
    size,
  };
}
