/**
 * One key source per issuer, shared by every request (SECURITY.md principles 3, 4, 11, P19): it prefetches,
 * refreshes in the background, refetches on an unknown `kid` or on a signature failure under a known
 * one (single-flight; at most once per `cooldown_seconds` per issuer, and once per `kid_cooldown_seconds`
 * for the same kid), keeps
 * the last good keys for a bounded time when the IdP fails, and tells an outage apart from a bad token.
 * Policy and knobs: docs/keys.md.
 */
import { LRUCache } from 'lru-cache';
import type { Algorithm } from '../core/algorithms.js';
import type { IssuerConfig, KeysPolicy } from '../config/schema.js';
import type { SkippedKey, VerifyKey } from './jwk.js';
import { KeySet } from './key-set.js';
import { KeyLoadError, loadFileKeys, loadJwksUri, loadRemoteKeys, type LoadedKeys, type LoadStep } from './load.js';
import { backoffDelayMs, refreshDelayMs } from './refresh-policy.js';
import { unrefTimer, type CancelTimer, type SetTimer } from './timers.js';

export type { VerifyKey } from './jwk.js';
export type { SetTimer } from './timers.js';

/** The outcome of a lookup. `ERR_JWKS_UNAVAILABLE` is an outage (error answer), never a bad token. */
export type KeyLookup =
  { ok: true; key: VerifyKey } | { ok: false; reason: 'ERR_KEY_NOT_FOUND' | 'ERR_JWKS_UNAVAILABLE' };

/** What a key source has been through, for metrics and `claimgate status`. Times are ms since the epoch of `now()`. */
export interface KeySourceState {
  /** Configured issuer name (the short one used in logs and metric labels). */
  issuer: string;
  /** Keys held (they may be stale: see `usable`). */
  keyCount: number;
  /** The held keys are within their staleness bound and verify tokens. */
  usable: boolean;
  lastSuccessAt?: number;
  consecutiveFailures: number;
  /** Whole seconds since the held set was due to be replaced; 0 while fresh or when none is held. */
  staleSeconds: number;
  nextRefreshAt?: number;
  /** `code: message` of the most recent failure; cleared by a success. */
  lastError?: string;
  /** Keys skipped by hygiene checks in the set last loaded. */
  skippedKeys: number;
  /** Completed HTTP fetches (or file reads), by outcome, over the source's life. */
  fetches: { ok: number; error: number };
  /** JWKS URL in use (configured, or from discovery). */
  jwksUri?: string;
}

export interface KeySource {
  /**
   * Keys come from a local file (`jwks_file`): the first load settles in moments, with no network wait.
   * Optional so test doubles need not implement it.
   */
  readonly fromFile?: boolean;
  /** Prefetch now and keep refreshing in the background (timers unref'd). Idempotent. */
  start(): void;
  /** Stop timers and abort a running fetch; pending lookups resolve as unavailable. */
  close(): void;
  /**
   * Find the key for this kid/alg. Synchronous when the answer is known (the hot path); a Promise only
   * when it must wait for a fetch, and that wait never exceeds `deadlineMs` (then ERR_JWKS_UNAVAILABLE).
   */
  lookup(kid: string | undefined, alg: Algorithm, deadlineMs: number): KeyLookup | Promise<KeyLookup>;
  /**
   * After a signature failed under a known kid (the IdP may have replaced the key behind it): refetch
   * once, rate-limited like unknown kids, and return the key now published under that kid when it
   * differs from `failedKey`. Undefined when no refetch is allowed or nothing changed. Optional so
   * test doubles need not implement it.
   */
  recheck?(
    kid: string | undefined,
    alg: Algorithm,
    failedKey: VerifyKey,
    deadlineMs: number,
  ): VerifyKey | undefined | Promise<VerifyKey | undefined>;
  /**
   * For how many more ms {@link recheck} for this kid cannot refetch: a signature that failed under the
   * kid's live key fails again for that long, unless the live key object changes. Lets the token cache
   * remember such a failure without delaying a rotation (P19). 0 when a recheck could refetch now.
   * Optional, like `recheck`.
   */
  recheckBlockedForMs?(kid: string | undefined, alg: Algorithm): number;
  /** True while a usable key set is held (loaded, and not stale past `max_stale_seconds`). */
  ready(): boolean;
  state(): KeySourceState;
  /** Resolves once the first fetch attempt has settled and no fetch is in flight (start-up readiness, tests). */
  whenSettled(): Promise<void>;
}

/** Skipped keys logged one by one per change of the key set; the rest are counted in one line. */
export const MAX_SKIPPED_KEYS_LOGGED = 10;

export type LogLevel = 'warn' | 'info' | 'error';

export interface KeySourceDeps {
  /** Clock in ms; `Date.now` by default. */
  now?: () => number;
  fetch?: typeof fetch;
  /** Timer primitive; unref'd `setTimeout` by default. Drives refreshes, fetch timeouts and lookup deadlines. */
  setTimer?: SetTimer;
  log?: (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;
  /** Called after each HTTP fetch (or file read) with its outcome, for metrics. */
  onFetch?: (result: 'ok' | 'error', kind: LoadStep) => void;
  /** Uniform [0, 1) source for jitter; `Math.random` by default. */
  random?: () => number;
}

/** Unknown kids remembered per issuer; bounds memory under a flood of random kids. */
export const NEGATIVE_CACHE_ENTRIES = 10_000;
/**
 * A kid longer than this that is not in the set is refused at once: no real IdP uses such kids, and
 * neither a fetch nor a cache entry should be spent on attacker-sized strings.
 */
export const MAX_KID_LENGTH = 256;

const NOT_FOUND: KeyLookup = Object.freeze({ ok: false, reason: 'ERR_KEY_NOT_FOUND' });
const UNAVAILABLE: KeyLookup = Object.freeze({ ok: false, reason: 'ERR_JWKS_UNAVAILABLE' });

/** Create the key source of one configured issuer. Call `start()` to begin fetching. */
export function createKeySource(issuer: IssuerConfig, deps: KeySourceDeps = {}): KeySource {
  return new IssuerKeySource(issuer, deps);
}

type FetchMode = 'scheduled' | 'on_demand';

class IssuerKeySource implements KeySource {
  private readonly policy: KeysPolicy;
  private readonly now: () => number;
  private readonly setTimer: SetTimer;
  private readonly random: () => number;
  private readonly log: NonNullable<KeySourceDeps['log']>;
  private readonly closing = new AbortController();

  private started = false;
  private closed = false;
  private keySet: KeySet | undefined;
  /** Held keys verify until this time: max_stale after the last success, never less than that set's own TTL. */
  private usableUntil = -Infinity;
  /** When the held set was due to be replaced (the refresh planned at its load). */
  private dueAt: number | undefined;
  private lastSuccessAt: number | undefined;
  private consecutiveFailures = 0;
  private lastError: string | undefined;
  private skipped: readonly SkippedKey[] = [];
  private readonly fetchCounts = { ok: 0, error: 0 };
  private jwksUri: string | undefined;
  private staleAlarmRaised = false;

  private inflight: Promise<void> | undefined;
  private cycles = 0;
  private appliedCycle = 0;
  private lastOnDemandAt = -Infinity;
  private cancelRefresh: CancelTimer | undefined;
  private nextRefreshAt: number | undefined;
  /**
   * kid/alg → when a refetch last ran on its behalf and still did not find it. Such a kid is answered
   * without a fetch for `kid_cooldown_seconds` only (a few seconds), so a kid seen just before its key
   * was published is re-checked soon. A kid that could not fetch because the issuer-wide cooldown was
   * spent (by anyone, e.g. an attacker's random kids) is not remembered: it may trigger the next refetch.
   * Made on first use (as `recheckedKids`): lru-cache preallocates its capacity (~0.7 ms for 10,000),
   * which a reload creating hundreds of sources would pay on the event loop for a cache most issuers
   * never need.
   */
  private unknownKidsCache: LRUCache<string, number> | undefined;
  private get unknownKids(): LRUCache<string, number> {
    return (this.unknownKidsCache ??= new LRUCache<string, number>({ max: NEGATIVE_CACHE_ENTRIES }));
  }
  /** kid/alg → when a signature failure under that known kid last caused a refetch. */
  private recheckedKidsCache: LRUCache<string, number> | undefined;
  private get recheckedKids(): LRUCache<string, number> {
    return (this.recheckedKidsCache ??= new LRUCache<string, number>({ max: NEGATIVE_CACHE_ENTRIES }));
  }
  private readonly waiters = new Set<(fetched: boolean) => void>();
  private firstAttemptSettled!: () => void;
  private readonly firstAttempt = new Promise<void>((resolve) => (this.firstAttemptSettled = resolve));

  constructor(
    private readonly issuer: IssuerConfig,
    private readonly deps: KeySourceDeps,
  ) {
    this.policy = issuer.keys;
    this.now = deps.now ?? Date.now;
    this.setTimer = deps.setTimer ?? unrefTimer;
    this.random = deps.random ?? Math.random;
    this.log = deps.log ?? (() => {});
    this.jwksUri = issuer.jwks_uri;
  }

  get fromFile(): boolean {
    return this.issuer.jwks_file !== undefined;
  }

  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    if (this.issuer.jwks_file !== undefined) void this.loadFile(this.issuer.jwks_file);
    else void this.refresh('scheduled');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelRefresh?.();
    this.cancelRefresh = undefined;
    this.nextRefreshAt = undefined;
    this.closing.abort();
    for (const settle of [...this.waiters]) settle(false);
    this.firstAttemptSettled();
  }

  lookup(kid: string | undefined, alg: Algorithm, deadlineMs: number): KeyLookup | Promise<KeyLookup> {
    const now = this.now();
    if (this.keySet !== undefined && now <= this.usableUntil) {
      const found = this.keySet.find(kid, alg);
      if (found !== undefined) return found;
      return this.lookupUnknown(kid, alg, deadlineMs, now);
    }
    return this.lookupWithoutKeys(kid, alg, deadlineMs, now);
  }

  ready(): boolean {
    return this.keySet !== undefined && this.now() <= this.usableUntil;
  }

  state(): KeySourceState {
    const now = this.now();
    const usable = this.keySet !== undefined && now <= this.usableUntil;
    if (!usable) this.raiseStaleAlarm(now);
    const state: KeySourceState = {
      issuer: this.issuer.name,
      keyCount: this.keySet?.size ?? 0,
      usable,
      consecutiveFailures: this.consecutiveFailures,
      staleSeconds: this.dueAt === undefined ? 0 : Math.max(0, Math.floor((now - this.dueAt) / 1000)),
      skippedKeys: this.skipped.length,
      fetches: { ...this.fetchCounts },
    };
    if (this.lastSuccessAt !== undefined) state.lastSuccessAt = this.lastSuccessAt;
    if (this.nextRefreshAt !== undefined) state.nextRefreshAt = this.nextRefreshAt;
    if (this.lastError !== undefined) state.lastError = this.lastError;
    if (this.jwksUri !== undefined) state.jwksUri = this.jwksUri;
    return state;
  }

  async whenSettled(): Promise<void> {
    await this.firstAttempt;
    while (this.inflight !== undefined && !this.closed) await this.inflight;
  }

  // ---- lookups that cannot be answered from the held set ----

  /** Keys are held but none matches: refetch at most once per cooldown, then not found. */
  private lookupUnknown(
    kid: string | undefined,
    alg: Algorithm,
    deadlineMs: number,
    now: number,
  ): KeyLookup | Promise<KeyLookup> {
    if (kid !== undefined && kid.length > MAX_KID_LENGTH) return NOT_FOUND;
    const cacheKey = unknownKidKey(kid, alg);
    const seenAt = this.unknownKids.get(cacheKey);
    if (seenAt !== undefined && now - seenAt < this.kidCooldownMs()) return NOT_FOUND;
    if (!this.joinOrStartOnDemandFetch(now)) {
      // While the IdP is failing, a kid we cannot check may be a freshly rotated key: an outage, not a bad token.
      if (this.consecutiveFailures > 0) return UNAVAILABLE;
      // Not remembered: the issuer-wide budget was spent by other kids, this one has not been checked yet.
      return NOT_FOUND;
    }
    // No time to wait: the fetch still helps the next request, this one gets an error answer.
    if (!(deadlineMs > 0)) return UNAVAILABLE;
    return this.lookupAfterFetch(kid, alg, deadlineMs);
  }

  recheck(
    kid: string | undefined,
    alg: Algorithm,
    failedKey: VerifyKey,
    deadlineMs: number,
  ): VerifyKey | undefined | Promise<VerifyKey | undefined> {
    const now = this.now();
    const cacheKey = unknownKidKey(kid, alg);
    const lastAt = this.recheckedKids.get(cacheKey);
    if (lastAt !== undefined && now - lastAt < this.kidCooldownMs()) return undefined;
    if (!(deadlineMs > 0) || !this.joinOrStartOnDemandFetch(now)) return undefined;
    this.recheckedKids.set(cacheKey, now);
    return this.waitForFetch(deadlineMs).then((fetched) => {
      if (!fetched || this.closed || this.keySet === undefined || this.now() > this.usableUntil) return undefined;
      const found = this.keySet.find(kid, alg);
      return found !== undefined && found.ok && found.key !== failedKey ? found.key : undefined;
    });
  }

  recheckBlockedForMs(kid: string | undefined, alg: Algorithm): number {
    if (this.closed || !this.started || this.inflight !== undefined) return 0;
    // A file source never refetches: its keys change only with a reload, which makes new key objects.
    if (this.issuer.jwks_file !== undefined) return Infinity;
    const lastAt = this.recheckedKidsCache?.get(unknownKidKey(kid, alg));
    const kidBlockedUntil = lastAt === undefined ? -Infinity : lastAt + this.kidCooldownMs();
    // recheck refetches only once both cooldowns have passed.
    return Math.max(0, Math.max(kidBlockedUntil, this.lastOnDemandAt + this.cooldownMs()) - this.now());
  }

  /** No usable keys (cold start, IdP down, stale past max_stale): an outage, unless a fetch brings keys in time. */
  private lookupWithoutKeys(
    kid: string | undefined,
    alg: Algorithm,
    deadlineMs: number,
    now: number,
  ): KeyLookup | Promise<KeyLookup> {
    this.raiseStaleAlarm(now);
    if (!this.joinOrStartOnDemandFetch(now) || !(deadlineMs > 0)) return UNAVAILABLE;
    return this.lookupAfterFetch(kid, alg, deadlineMs);
  }

  /**
   * Single-flight: join the fetch in flight, or start one if the per-issuer cooldown allows.
   * @returns false when no fetch will come (cooldown, file source, not started, closed)
   */
  private joinOrStartOnDemandFetch(now: number): boolean {
    if (this.inflight !== undefined) return true;
    if (!this.started || this.closed || this.issuer.jwks_file !== undefined) return false;
    if (now - this.lastOnDemandAt < this.cooldownMs()) return false;
    this.lastOnDemandAt = now;
    void this.refresh('on_demand');
    return true;
  }

  private async lookupAfterFetch(kid: string | undefined, alg: Algorithm, deadlineMs: number): Promise<KeyLookup> {
    const fetched = await this.waitForFetch(deadlineMs);
    if (!fetched || this.closed) return UNAVAILABLE;
    // The refetch failed: the kid may be a new key the IdP could not give us. An outage, never a 401.
    if (this.consecutiveFailures > 0) return UNAVAILABLE;
    const now = this.now();
    if (this.keySet === undefined || now > this.usableUntil) return UNAVAILABLE;
    const found = this.keySet.find(kid, alg);
    if (found !== undefined) return found;
    this.unknownKids.set(unknownKidKey(kid, alg), now);
    return NOT_FOUND;
  }

  /** Resolves true when the fetch in flight settles, false when `deadlineMs` passes first or the source closes. */
  private waitForFetch(deadlineMs: number): Promise<boolean> {
    const inflight = this.inflight;
    if (inflight === undefined) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      let cancelDeadline: CancelTimer = () => {};
      const settle = (fetched: boolean) => {
        if (!this.waiters.delete(settle)) return;
        cancelDeadline();
        resolve(fetched);
      };
      this.waiters.add(settle);
      cancelDeadline = this.setTimer(() => settle(false), deadlineMs);
      void inflight.then(() => settle(true));
    });
  }

  // ---- fetching ----

  /** Run one fetch cycle unless one is in flight (then share it). Never rejects. */
  private refresh(mode: FetchMode): Promise<void> {
    if (this.inflight !== undefined) return this.inflight;
    if (this.closed) return Promise.resolve();
    this.cancelRefresh?.();
    this.cancelRefresh = undefined;
    this.nextRefreshAt = undefined;
    const cycle = ++this.cycles;
    const running = this.runCycle(mode, cycle).finally(() => {
      this.inflight = undefined;
      this.firstAttemptSettled();
    });
    this.inflight = running;
    return running;
  }

  private async runCycle(mode: FetchMode, cycle: number): Promise<void> {
    try {
      const jwksUri = await this.currentJwksUri(mode);
      const loaded = await this.counted('jwks', () => loadRemoteKeys(jwksUri, this.issuer, this.fetchDeps()));
      this.applyKeys(loaded, cycle);
    } catch (error) {
      this.recordFailure(error);
    }
  }

  /**
   * The JWKS URL for this cycle. Discovery is re-read on every scheduled refresh (its `jwks_uri` may
   * change) and whenever the last cycle failed; an on-demand (unknown kid) refetch reuses the known URL.
   * When discovery cannot be fetched but a URL is already known, the known one is kept; a document that
   * answers but names another issuer, or no jwks_uri, fails the cycle.
   */
  private async currentJwksUri(mode: FetchMode): Promise<string> {
    if (this.issuer.jwks_uri !== undefined) return this.issuer.jwks_uri;
    const known = this.jwksUri;
    if (known !== undefined && mode === 'on_demand' && this.consecutiveFailures === 0) return known;
    try {
      const discovered = await this.counted('discovery', () => loadJwksUri(this.issuer, this.fetchDeps()));
      if (known !== undefined && discovered !== known)
        this.log('info', 'jwks_uri changed', { issuer: this.issuer.name, jwksUri: discovered });
      this.jwksUri = discovered;
      return discovered;
    } catch (error) {
      const transient =
        error instanceof KeyLoadError &&
        error.code !== 'issuer_mismatch' &&
        error.code !== 'bad_discovery' &&
        error.code !== 'jwks_uri_not_allowed';
      if (known === undefined || !transient || this.closed) throw error;
      this.lastError = describeError(error);
      this.log('warn', 'discovery refresh failed; keeping the known jwks_uri', {
        issuer: this.issuer.name,
        code: error.code,
      });
      return known;
    }
  }

  private async loadFile(path: string): Promise<void> {
    try {
      this.applyKeys(await this.counted('jwks', () => loadFileKeys(path, this.issuer)), ++this.cycles, true);
    } catch (error) {
      this.recordFailure(error, true);
    } finally {
      this.firstAttemptSettled();
    }
  }

  private async counted<T>(step: LoadStep, load: () => Promise<T>): Promise<T> {
    try {
      const result = await load();
      this.fetchCounts.ok++;
      this.deps.onFetch?.('ok', step);
      return result;
    } catch (error) {
      // A fetch cut short by close() is not an IdP failure.
      if (!this.closed) {
        this.fetchCounts.error++;
        this.deps.onFetch?.('error', step);
      }
      throw error;
    }
  }

  private fetchDeps() {
    return {
      setTimer: this.setTimer,
      signal: this.closing.signal,
      ...(this.deps.fetch ? { fetch: this.deps.fetch } : {}),
    };
  }

  /**
   * Keeps the previous VerifyKey object for every key that did not change, so a refresh does not look
   * like a rotation to the verified-token cache (which checks key identity) and does not empty it.
   */
  private reuseUnchanged(keys: readonly VerifyKey[]): VerifyKey[] {
    const previous = this.keySet?.keys ?? [];
    return keys.map(
      (key) =>
        previous.find(
          (old) =>
            old.kid === key.kid &&
            old.algorithms.size === key.algorithms.size &&
            [...key.algorithms].every((a) => old.algorithms.has(a)) &&
            old.key.equals(key.key),
        ) ?? key,
    );
  }

  private applyKeys(loaded: LoadedKeys, cycle: number, fromFile = false): void {
    // Cycles are single-flight, so this only guards against future changes: an older result must never replace a newer one.
    if (this.closed || cycle <= this.appliedCycle) return;
    this.appliedCycle = cycle;
    const now = this.now();
    const recovered = this.consecutiveFailures > 0 || this.staleAlarmRaised;
    const keySet = new KeySet(this.reuseUnchanged(loaded.imported.keys));
    this.keySet = keySet;
    this.lastSuccessAt = now;
    this.consecutiveFailures = 0;
    this.lastError = undefined;
    this.staleAlarmRaised = false;
    this.reportSkipped(loaded.imported.skipped);
    if (keySet.ambiguousKids.length > 0)
      this.log('warn', 'several keys share a kid and an algorithm; the first one is used', {
        issuer: this.issuer.name,
        kids: keySet.ambiguousKids,
      });
    if (recovered)
      this.log('info', 'keys fetched again after failures', { issuer: this.issuer.name, keyCount: keySet.size });
    if (fromFile) {
      // A file is read once and never goes stale.
      this.usableUntil = Infinity;
      this.dueAt = undefined;
      return;
    }
    const delay = refreshDelayMs(this.policy, loaded.maxAgeSeconds, this.random);
    this.dueAt = now + delay;
    this.usableUntil = now + Math.max(delay, this.policy.max_stale_seconds * 1000);
    this.scheduleRefresh(delay);
  }

  private recordFailure(error: unknown, fromFile = false): void {
    if (this.closed) return;
    this.consecutiveFailures++;
    this.lastError = describeError(error);
    this.log('warn', 'key fetch failed', {
      issuer: this.issuer.name,
      code: error instanceof KeyLoadError ? error.code : 'unexpected',
      step: error instanceof KeyLoadError ? error.step : undefined,
      consecutiveFailures: this.consecutiveFailures,
      servingLastGoodKeys: this.ready(),
    });
    if (!fromFile) this.scheduleRefresh(backoffDelayMs(this.policy, this.consecutiveFailures, this.random));
  }

  private scheduleRefresh(delayMs: number): void {
    if (this.closed) return;
    this.cancelRefresh?.();
    this.nextRefreshAt = this.now() + delayMs;
    this.cancelRefresh = this.setTimer(() => {
      this.cancelRefresh = undefined;
      void this.refresh('scheduled');
    }, delayMs);
  }

  private reportSkipped(skipped: readonly SkippedKey[]): void {
    // Log skipped keys when the list changes, not on every refresh of the same set.
    if (JSON.stringify(skipped) !== JSON.stringify(this.skipped)) {
      // A hostile or broken key set can hold thousands of bad keys: log a few, then one summary line.
      for (const key of skipped.slice(0, MAX_SKIPPED_KEYS_LOGGED))
        this.log('warn', 'JWK skipped', { issuer: this.issuer.name, kid: key.kid?.slice(0, 128), reason: key.reason });
      if (skipped.length > MAX_SKIPPED_KEYS_LOGGED)
        this.log('warn', 'more JWKs skipped', {
          issuer: this.issuer.name,
          count: skipped.length - MAX_SKIPPED_KEYS_LOGGED,
        });
    }
    this.skipped = skipped;
  }

  private raiseStaleAlarm(now: number): void {
    if (this.staleAlarmRaised || this.keySet === undefined || now <= this.usableUntil) return;
    this.staleAlarmRaised = true;
    this.log('error', 'keys are stale past max_stale_seconds; failing closed until a fetch succeeds', {
      issuer: this.issuer.name,
      lastSuccessAt: this.lastSuccessAt,
    });
  }

  /** Issuer-wide: the least time between two on-demand refetches, whoever asks (bounds IdP traffic). */
  private cooldownMs(): number {
    return this.policy.cooldown_seconds * 1000;
  }

  /** Per kid: how long a kid that a refetch did not find is answered without another refetch. */
  private kidCooldownMs(): number {
    return this.policy.kid_cooldown_seconds * 1000;
  }
}

function unknownKidKey(kid: string | undefined, alg: Algorithm): string {
  return kid === undefined ? `${alg}` : `${alg} ${kid}`;
}

function describeError(error: unknown): string {
  if (error instanceof KeyLoadError) return `${error.step}/${error.code}: ${error.message}`;
  return `unexpected: ${error instanceof Error ? error.message : String(error)}`;
}
