/**
 * The one timer primitive the key manager uses, injectable so tests drive time with a fake clock
 * instead of sleeping.
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
