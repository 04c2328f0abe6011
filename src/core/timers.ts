/**
 * The one timer primitive of the process, injectable so tests drive time with a fake clock instead of
 * sleeping. Passed from the top (ClaimgateOptions.setTimer) to every part that schedules work.
 */

/** Cancels a scheduled callback; calling it after the callback ran is harmless. */
export type CancelTimer = () => void;

/** Run `callback` once after `delayMs`; returns its cancel function. */
export type SetTimer = (callback: () => void, delayMs: number) => CancelTimer;

/** Real timers, unref'd so a pending refresh never keeps a process (or a test run) alive. */
export const unrefTimer: SetTimer = (callback, delayMs) => {
  const handle = setTimeout(callback, Math.max(0, delayMs));
  handle.unref();
  return () => clearTimeout(handle);
};

/** Runs `callback` every `intervalMs` on `setTimer` (each run schedules the next) until cancelled. */
export function repeatEvery(setTimer: SetTimer, intervalMs: number, callback: () => void): CancelTimer {
  let cancelled = false;
  let cancelNext: CancelTimer;
  const tick = () => {
    if (cancelled) return;
    try {
      callback();
    } finally {
      if (!cancelled) cancelNext = setTimer(tick, intervalMs);
    }
  };
  cancelNext = setTimer(tick, intervalMs);
  return () => {
    cancelled = true;
    cancelNext();
  };
}
