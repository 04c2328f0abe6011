/**
 * The one way a test waits for something it cannot be told about by an event: poll a condition, bounded
 * in time, and fail naming what was awaited and the last value seen. Tests never sleep for time to pass:
 * they move an injected clock (see test/keys/fake-clock.ts) or wait for the event that matters (a log
 * line, a promise, a metric). test/scripts/no-fixed-sleeps.test.ts keeps every other timer-based wait out
 * of test/.
 */

export interface WaitOptions<T> {
  /** What is awaited, for the failure message ("both workers reloaded"). */
  readonly what: string;
  /** Longest wait (ms); 10 s by default. */
  readonly timeoutMs?: number;
  /** Pause between probes (ms); 25 ms by default. */
  readonly intervalMs?: number;
  /** When the probed value is good enough; truthiness by default. */
  readonly until?: (value: T) => boolean;
  /** Treat a probe that throws as "not yet" (a server still starting); by default the error ends the wait. */
  readonly retryOnError?: boolean;
  /** A reason to give up at once (e.g. "the child exited"), checked before each probe. */
  readonly giveUpIf?: () => string | undefined;
  /** Extra text for the failure message (e.g. a child's log), read only on failure. */
  readonly context?: () => string;
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Probes `probe` until `until` accepts its value (truthy by default) and returns that value. Throws after
 * `timeoutMs` with `what` and the last value seen (or the last error the probe threw).
 */
export async function waitFor<T>(probe: () => T | Promise<T>, options: WaitOptions<T>): Promise<T> {
  const { what, timeoutMs = 10_000, intervalMs = 25, until = Boolean, retryOnError = false } = options;
  const deadline = Date.now() + timeoutMs;
  let last: { value: T } | { error: unknown } | undefined;
  const fail = (why: string) => new Error(`${why} waiting for ${what}; last seen: ${seen(last)}${extra(options)}`);
  for (;;) {
    const gaveUp = options.giveUpIf?.();
    if (gaveUp !== undefined) throw fail(`gave up (${gaveUp})`);
    try {
      const value = await probe();
      if (until(value)) return value;
      last = { value };
    } catch (error) {
      if (!retryOnError) throw error;
      last = { error };
    }
    if (Date.now() >= deadline) throw fail(`timed out after ${timeoutMs} ms`);
    await pause(intervalMs);
  }
}

function seen(last: { value: unknown } | { error: unknown } | undefined): string {
  if (last === undefined) return 'nothing';
  if ('error' in last) return `the error ${last.error instanceof Error ? last.error.message : String(last.error)}`;
  try {
    return JSON.stringify(last.value) ?? String(last.value);
  } catch {
    return String(last.value);
  }
}

const extra = (options: { context?: () => string }) => (options.context ? `\n${options.context()}` : '');

/**
 * One zero-delay turn of the event loop: already-due timers and I/O callbacks run. Its only argument is
 * the literal 0, so it cannot be used to let time pass.
 */
export function sleep(ms: 0): Promise<void> {
  return pause(ms);
}
