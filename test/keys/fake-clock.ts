/**
 * A controllable clock and timer queue for the key manager's `now` and `setTimer` deps: time only
 * moves when a test says so, so timing logic is tested without sleeping.
 */
import type { CancelTimer, SetTimer } from '../../src/keys/timers.js';

interface Pending {
  readonly at: number;
  readonly order: number;
  readonly callback: () => void;
  cancelled: boolean;
}

export class FakeClock {
  private current: number;
  private order = 0;
  private readonly queue: Pending[] = [];

  constructor(start = Date.UTC(2030, 0, 1)) {
    this.current = start;
  }

  readonly now = (): number => this.current;

  readonly setTimer: SetTimer = (callback, delayMs): CancelTimer => {
    const entry: Pending = { at: this.current + Math.max(0, delayMs), order: this.order++, callback, cancelled: false };
    this.queue.push(entry);
    return () => {
      entry.cancelled = true;
    };
  };

  /** Timers scheduled and neither run nor cancelled. */
  get pendingTimers(): number {
    return this.queue.filter((t) => !t.cancelled).length;
  }

  /** Move time forward by `ms`, running every timer that falls due, in order, at its own time. */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      const next = this.nextDue(target);
      if (next === undefined) break;
      this.queue.splice(this.queue.indexOf(next), 1);
      this.current = next.at;
      next.callback();
      await flushMicrotasks();
    }
    this.current = target;
    await flushMicrotasks();
  }

  /** Move time to an absolute instant (no-op when it is in the past). */
  async advanceTo(at: number): Promise<void> {
    await this.advance(Math.max(0, at - this.current));
  }

  private nextDue(limit: number): Pending | undefined {
    let best: Pending | undefined;
    for (const t of this.queue) {
      if (t.cancelled || t.at > limit) continue;
      if (best === undefined || t.at < best.at || (t.at === best.at && t.order < best.order)) best = t;
    }
    for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i]!.cancelled) this.queue.splice(i, 1);
    return best;
  }
}

/** Let already-queued promise callbacks and I/O callbacks run (one event-loop turn; not a sleep). */
export function flushMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
