/**
 * Bounded concurrency: at most `max` Checks in flight per process, shared by every adapter. Past the
 * bound a Check is answered at once with an error answer (ERR_OVERLOADED, 503 / UNAVAILABLE) instead
 * of queuing without limit — never an allow, and never a transport error that Envoy's
 * failure_mode_allow would judge.
 */
import type { Decide } from '../engine/decide.js';
import { denyDecision } from '../core/answer.js';
import type { Decision } from '../core/types.js';

export const OVERLOADED_DECISION: Decision = Object.freeze(denyDecision('ERR_OVERLOADED'));

export interface ConcurrencyLimit {
  /** A decider that counts itself in and out; it reads `current()` once per Check. */
  readonly decide: Decide;
  readonly inFlight: () => number;
}

/** `max()` is read per Check (a reload may change it); 0 means no bound. */
export function limitConcurrency(current: () => Decide, max: () => number): ConcurrencyLimit {
  let inFlight = 0;
  return {
    inFlight: () => inFlight,
    decide(view) {
      const bound = max();
      if (bound > 0 && inFlight >= bound) return OVERLOADED_DECISION;
      const decide = current();
      inFlight++;
      let decided: Decision | Promise<Decision>;
      try {
        decided = decide(view);
      } catch (e) {
        inFlight--;
        throw e;
      }
      if (!(decided instanceof Promise)) {
        inFlight--;
        return decided;
      }
      return decided.then(
        (decision) => {
          inFlight--;
          return decision;
        },
        (e: unknown) => {
          inFlight--;
          throw e;
        },
      );
    },
  };
}
