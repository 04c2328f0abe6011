/**
 * The lookup cache shared by introspection and enrichment: bounded LRU entries that expire at their
 * own time, single-flight per key (1,000 concurrent Checks with one new key make one call), and a
 * bound on calls in flight toward the remote side (beyond it, a Check waits its turn; its own
 * deadline still applies). A failed call is not cached, except that a stale entry may answer for
 * `staleIfErrorMs` past its expiry when configured.
 */
import { LRUCache } from 'lru-cache';
import { unrefTimer, type SetTimer } from '../keys/timers.js';
import { LookupError } from './http.js';

export interface CachedValue<V> {
  readonly value: V;
  /** Until when (ms) the value may be used; 0 or less = do not cache. */
  readonly untilMs: number;
}

export type LookupCacheResult = 'hit' | 'miss' | 'shared' | 'stale';

export interface LookupCacheOptions {
  readonly maxEntries: number;
  readonly maxConcurrent: number;
  readonly staleIfErrorMs: number;
  readonly nowMs: () => number;
  readonly onResult?: (result: LookupCacheResult) => void;
}

export interface LookupCache<V> {
  get(key: string, load: () => Promise<CachedValue<V>>): Promise<V>;
}

interface Entry<V> {
  readonly value: V;
  readonly untilMs: number;
}

export function createLookupCache<V>(options: LookupCacheOptions): LookupCache<V> {
  const entries = new LRUCache<string, Entry<V>>({ max: Math.max(1, options.maxEntries) });
  const inFlight = new Map<string, Promise<V>>();
  const limit = createLimiter(options.maxConcurrent);
  const report = options.onResult ?? (() => undefined);

  return {
    get(key, load) {
      const now = options.nowMs();
      const entry = entries.get(key);
      if (entry !== undefined && now < entry.untilMs) {
        report('hit');
        return Promise.resolve(entry.value);
      }
      const pending = inFlight.get(key);
      if (pending !== undefined) {
        report('shared');
        return pending;
      }
      report('miss');
      const call = limit(load)
        .then((loaded) => {
          if (options.maxEntries > 0 && loaded.untilMs > options.nowMs())
            entries.set(key, { value: loaded.value, untilMs: loaded.untilMs });
          else entries.delete(key);
          return loaded.value;
        })
        .catch((error: unknown) => {
          const stale = entries.get(key);
          if (stale !== undefined && options.nowMs() < stale.untilMs + options.staleIfErrorMs) {
            report('stale');
            return stale.value;
          }
          throw error;
        })
        .finally(() => inFlight.delete(key));
      inFlight.set(key, call);
      return call;
    },
  };
}

/** At most `max` calls run at once; the rest wait in order (a finishing call hands its slot on). */
export function createLimiter(max: number): <T>(run: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async <T>(run: () => Promise<T>): Promise<T> => {
    if (running >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    else running++;
    try {
      return await run();
    } finally {
      const next = waiting.shift();
      if (next !== undefined) next();
      else running--;
    }
  };
}

/** Rejects with a LookupError `timeout` when `promise` has not settled within `ms`. */
export function withDeadline<T>(promise: Promise<T>, ms: number, setTimer: SetTimer = unrefTimer): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const cancel = setTimer(
      () => reject(new LookupError('timeout', `no answer within the ${ms} ms check deadline`)),
      ms,
    );
    promise.then(
      (v) => {
        cancel();
        resolve(v);
      },
      (e: unknown) => {
        cancel();
        reject(e);
      },
    );
  });
}

/** The cache settings introspection and enrichment share in config. */
export interface CacheSettings {
  readonly max_cache_entries: number;
  readonly max_concurrent: number;
  readonly stale_if_error_seconds: number;
}

/** A lookup cache from its config settings, reporting each access as `kind`/`name`. */
export function lookupCacheFor<V>(
  settings: CacheSettings,
  kind: string,
  name: string,
  deps: { readonly nowMs: () => number; readonly onCache?: (kind: string, name: string, r: LookupCacheResult) => void },
): LookupCache<V> {
  return createLookupCache<V>({
    maxEntries: settings.max_cache_entries,
    maxConcurrent: settings.max_concurrent,
    staleIfErrorMs: settings.stale_if_error_seconds * 1000,
    nowMs: deps.nowMs,
    onResult: (r) => deps.onCache?.(kind, name, r),
  });
}
