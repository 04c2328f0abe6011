/** The lookup cache: expiry at the entry's own time, single-flight, the concurrency bound, stale-if-error, deadlines. */
import { createLimiter, createLookupCache, withDeadline } from '../../src/lookup/cache.js';
import { LookupError } from '../../src/lookup/http.js';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('lookup cache', () => {
  test('concurrent gets of one key share one load; later gets hit until the entry expires', async () => {
    let now = 1_000;
    const results: string[] = [];
    const cache = createLookupCache<string>({
      maxEntries: 10,
      maxConcurrent: 4,
      staleIfErrorMs: 0,
      nowMs: () => now,
      onResult: (r) => results.push(r),
    });
    let loads = 0;
    const gate = deferred<void>();
    const load = async () => {
      loads++;
      await gate.promise;
      return { value: `v${loads}`, untilMs: now + 500 };
    };
    const all = Promise.all(Array.from({ length: 100 }, () => cache.get('k', load)));
    gate.resolve();
    expect(new Set(await all)).toEqual(new Set(['v1']));
    expect(loads).toBe(1);
    expect(results.filter((r) => r === 'shared')).toHaveLength(99);
    expect(await cache.get('k', load)).toBe('v1');
    now += 500;
    expect(await cache.get('k', load)).toBe('v2');
    expect(loads).toBe(2);
  });

  test('a failure is not cached; stale-if-error answers only within its window', async () => {
    let now = 0;
    const cache = createLookupCache<string>({
      maxEntries: 10,
      maxConcurrent: 1,
      staleIfErrorMs: 1000,
      nowMs: () => now,
    });
    await cache.get('k', async () => ({ value: 'good', untilMs: 100 }));
    now = 600;
    const failing = async (): Promise<{ value: string; untilMs: number }> => {
      throw new LookupError('network', 'down');
    };
    expect(await cache.get('k', failing)).toBe('good');
    now = 1200;
    await expect(cache.get('k', failing)).rejects.toThrow('down');
  });

  test('without stale-if-error, an outage after expiry is an error', async () => {
    let now = 0;
    const cache = createLookupCache<string>({ maxEntries: 10, maxConcurrent: 1, staleIfErrorMs: 0, nowMs: () => now });
    await cache.get('k', async () => ({ value: 'good', untilMs: 100 }));
    now = 100;
    await expect(cache.get('k', async () => Promise.reject(new LookupError('timeout', 't')))).rejects.toThrow('t');
  });

  test('the limiter never runs more than its bound at once, and runs everything', async () => {
    const limit = createLimiter(3);
    let running = 0;
    let peak = 0;
    const gates = Array.from({ length: 20 }, () => deferred<void>());
    const runs = gates.map((g, i) =>
      limit(async () => {
        running++;
        peak = Math.max(peak, running);
        await g.promise;
        running--;
        return i;
      }),
    );
    for (const g of gates) {
      await Promise.resolve();
      g.resolve();
    }
    expect(await Promise.all(runs)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(peak).toBe(3);
  });

  test('withDeadline rejects with a timeout when the injected timer fires first', async () => {
    let fire: () => void = () => undefined;
    const never = new Promise<string>(() => undefined);
    const result = withDeadline(never, 150, (cb) => {
      fire = cb;
      return () => undefined;
    });
    fire();
    await expect(result).rejects.toMatchObject({ code: 'timeout' });
  });
});
