/**
 * The verified-token cache: a hit skips parsing and signature verification entirely.
 *
 * A positive entry is only used while (1) the token is still within its exp / max-age, and (2) the
 * issuer's live key set still returns the very key object it was verified with — so a removed key,
 * a key set gone stale past max_stale, or a reload (each config generation has its own cache)
 * invalidates it. Token-location rules are re-checked on every hit, since they depend on the request.
 *
 * Failures that can never turn into a success for the same token (malformed, unknown issuer, expired,
 * ...) are cached briefly, so a repeated bad token costs a map lookup. A bad signature is cached only
 * while the key it failed under is the kid's live key and the key source could not refetch for it
 * anyway (P19: the IdP may have replaced the key behind a kid). Outcomes that depend on the IdP or on
 * time moving forward (unknown kid, keys unavailable, not yet valid, issued in the future) are not.
 */
import { LRUCache } from 'lru-cache';
import type { ReasonCode } from '../core/reasons.js';
import type { CompiledLocation } from './extract.js';
import type { CompiledIssuer, KeyIdentity, VerifiedToken, VerifyResult } from './verify.js';

export interface TokenCacheLimits {
  /** Positive entries; 0 disables the whole cache. */
  readonly maxEntries: number;
  /** Estimated memory of positive entries: {@link estimateEntryBytes} each. */
  readonly maxBytes: number;
  readonly negativeTtlMs: number;
  readonly maxNegativeEntries: number;
}

export type TokenCacheResult = 'hit' | 'miss' | 'negative_hit';

/** Verifies a token: at once on a cache hit, else through a promise. */
export type Verify = (raw: string, location: CompiledLocation) => VerifyResult | Promise<VerifyResult>;

/** What the cache holds right now (metrics): entries and their estimated bytes, per kind. */
export interface TokenCacheStats {
  readonly entries: number;
  readonly bytes: number;
  readonly negativeEntries: number;
  readonly negativeBytes: number;
}

export type CachedVerify = Verify & { readonly stats: () => TokenCacheStats };

const EMPTY_STATS: TokenCacheStats = Object.freeze({ entries: 0, bytes: 0, negativeEntries: 0, negativeBytes: 0 });

/** UTF-16 code units stored for a string key; tokens are ASCII, so this is their byte length. */
const tokenBytes = (raw: string) => raw.length;

/**
 * Live heap of one entry on top of the token text (claims object, entry record, LRU bookkeeping).
 * Measured: token length + ~775 B (V8 keeps ASCII tokens at one byte per character); 1 KiB keeps a margin.
 */
export const ENTRY_OVERHEAD_BYTES = 1024;
/**
 * Resident memory per byte of live entries. An LRU that keeps evicting leaves its survivors scattered
 * over heap pages V8 does not compact or return at once: measured RSS was about twice the live heap
 * (docs/benchmarks.md), so entries are counted at twice their heap and `max_bytes` bounds memory.
 */
export const RESIDENT_FACTOR = 2;

/** The cache's estimate of the memory one verified entry costs (what `max_bytes` bounds). */
export const estimateEntryBytes = (raw: string): number => RESIDENT_FACTOR * (tokenBytes(raw) + ENTRY_OVERHEAD_BYTES);

/** Negative entries hold only the token text and a reason; their bytes are bounded separately. */
const NEGATIVE_MAX_BYTES = 8 * 1024 * 1024;

const NEGATIVE_CACHEABLE: ReadonlySet<ReasonCode> = new Set<ReasonCode>([
  'ERR_TOKEN_MALFORMED',
  'ERR_TOKEN_UNSUPPORTED',
  'ERR_ISSUER_NOT_ALLOWED',
  'ERR_ALGORITHM_NOT_ALLOWED',
  'ERR_TOKEN_TYPE_INVALID',
  'ERR_CLAIMS_INVALID',
  'ERR_AUDIENCE_MISMATCH',
  'ERR_TOKEN_EXPIRED',
  'ERR_TOKEN_TOO_OLD',
]);

/**
 * Entries are found by the last {@link KEY_CHARS} characters of the token (inside its signature) and taken
 * only when the whole token is equal: V8 hashes every character of a string used as a map key, and a
 * token arrives as a fresh string each time, so keying by the whole ~1 KB token hashed it on every Check
 * (~3 % of a loaded server's CPU, docs/benchmarks.md). Two tokens sharing a key cannot share an entry: the
 * later replaces the earlier, and only a token that verified ever becomes a positive entry.
 */
const KEY_CHARS = 32;
const keyOf = (raw: string): string => (raw.length <= KEY_CHARS ? raw : raw.slice(raw.length - KEY_CHARS));

interface PositiveEntry {
  /** The whole token (its own copy, see {@link ownedEntry}). */
  readonly raw: string;
  readonly token: VerifiedToken;
}

interface NegativeEntry {
  /** The whole token (its own copy). */
  readonly raw: string;
  readonly reason: ReasonCode;
  readonly issuer: CompiledIssuer | undefined;
  readonly untilMs: number;
  /** A bad signature is remembered only with the key it failed under (see {@link signatureFailureTtlMs}). */
  readonly failedUnder?: KeyIdentity;
}

/**
 * How long a bad signature may be answered from the cache: while verifying it again could not give
 * another answer. The key source would refetch for this kid only after its recheck cooldowns (P19), and
 * a hit re-checks that the live key is still the one it failed under, so a rotated key is never missed.
 */
function signatureFailureTtlMs(result: Extract<VerifyResult, { ok: false }>, negativeTtlMs: number): number {
  const failed = result.failedUnder;
  if (failed === undefined || result.issuer === undefined) return 0;
  return Math.min(negativeTtlMs, result.issuer.keys.recheckBlockedForMs?.(failed.kid, failed.alg) ?? 0);
}

/**
 * A remembered bad signature still stands: the token's location is allowed, the key source still could not
 * refetch for the kid, and the kid's live key is unchanged.
 */
function stillFailsUnder(entry: NegativeEntry, failed: KeyIdentity, location: CompiledLocation): boolean {
  if (entry.issuer === undefined || !entry.issuer.locationIds.has(location.id)) return false;
  const keys = entry.issuer.keys;
  // A fetch may have started since (a scheduled refresh): a recheck would join it, so verify again.
  if (!((keys.recheckBlockedForMs?.(failed.kid, failed.alg) ?? 0) > 0)) return false;
  const live = keys.lookup(failed.kid, failed.alg, 0);
  return !(live instanceof Promise) && live.ok && live.key === failed.key;
}

/**
 * A token taken out of a header or cookie is a V8 slice of that whole value (a Cookie header may be
 * kilobytes), and `payloadSegment` a slice of the token: kept as a cache key they would hold the whole
 * value alive, beyond what the estimate counts. The entry gets its own flat copy (a verified token is
 * ASCII, so latin1 round-trips it) and a payload segment sliced from that copy.
 */
function ownedEntry(raw: string, token: VerifiedToken): PositiveEntry {
  const own = ownCopy(raw);
  const start = own.indexOf('.') + 1;
  const payloadSegment = own.slice(start, start + token.payloadSegment.length);
  return { raw: own, token: payloadSegment === token.payloadSegment ? { ...token, payloadSegment } : token };
}

const ownCopy = (raw: string): string => Buffer.from(raw, 'latin1').toString('latin1');

/**
 * Stores an entry and keeps the cache within `maxEntries` by evicting its least recently used ones.
 * The caches are made without lru-cache's `max`: with it, lru-cache allocates and fills arrays of `max`
 * slots when it is constructed (~8 ms for 100,000, on the event loop at every reload, for a cache that
 * starts empty); without it, its arrays grow with the entries and only `maxSize` bounds it, so the entry
 * bound is kept here, exactly.
 */
function setBounded<V extends object>(cache: LRUCache<string, V>, key: string, value: V, maxEntries: number): void {
  cache.set(key, value);
  while (cache.size > maxEntries) cache.pop();
}

export function createCachedVerifier(
  verify: Verify,
  limits: TokenCacheLimits,
  nowMs: () => number,
  onResult: (result: TokenCacheResult) => void = () => undefined,
): CachedVerify {
  if (limits.maxEntries <= 0)
    return Object.assign((raw: string, location: CompiledLocation) => verify(raw, location), {
      stats: () => EMPTY_STATS,
    });
  const positive = new LRUCache<string, PositiveEntry>({
    maxSize: limits.maxBytes,
    sizeCalculation: (entry) => estimateEntryBytes(entry.raw),
  });
  const negative = new LRUCache<string, NegativeEntry>({
    maxSize: NEGATIVE_MAX_BYTES,
    sizeCalculation: (entry) => tokenBytes(entry.raw) + 64,
  });

  const stillValid = (token: VerifiedToken, now: number): boolean => {
    if (now >= token.validUntilMs) return false;
    const live = token.issuer.keys.lookup(token.kid, token.alg, 0);
    return !(live instanceof Promise) && live.ok && live.key === token.key;
  };

  const cachedVerify: Verify = (raw, location) => {
    const now = nowMs();
    const key = keyOf(raw);
    const found = positive.get(key);
    const hit = found !== undefined && found.raw === raw ? found.token : undefined;
    if (hit !== undefined) {
      if (stillValid(hit, now)) {
        onResult('hit');
        if (!hit.issuer.locationIds.has(location.id))
          return { ok: false, reason: 'ERR_TOKEN_LOCATION_NOT_ALLOWED', issuer: hit.issuer };
        return { ok: true, token: hit.location === location ? hit : { ...hit, location } };
      }
      positive.delete(key);
    } else {
      const bad = negative.get(key);
      if (
        bad !== undefined &&
        bad.raw === raw &&
        now < bad.untilMs &&
        (bad.failedUnder === undefined || stillFailsUnder(bad, bad.failedUnder, location))
      ) {
        onResult('negative_hit');
        return { ok: false, reason: bad.reason, issuer: bad.issuer };
      }
    }
    onResult('miss');
    // Made only on a miss: a hit above answers without a closure or a promise.
    const remember = (result: VerifyResult): VerifyResult => {
      store(raw, result, now);
      return result;
    };
    const verifying = verify(raw, location);
    return verifying instanceof Promise ? verifying.then(remember) : remember(verifying);
  };
  /** Caches a verification's result as the limits allow. */
  const store = (raw: string, result: VerifyResult, now: number): void => {
    if (result.ok) {
      const entry = ownedEntry(raw, result.token);
      setBounded(positive, keyOf(entry.raw), entry, limits.maxEntries);
    } else if (limits.maxNegativeEntries > 0) {
      const ttlMs = NEGATIVE_CACHEABLE.has(result.reason)
        ? limits.negativeTtlMs
        : signatureFailureTtlMs(result, limits.negativeTtlMs);
      if (ttlMs > 0) {
        const own = ownCopy(raw);
        const entry = { raw: own, reason: result.reason, issuer: result.issuer, untilMs: now + ttlMs };
        const failedUnder = result.failedUnder;
        setBounded(
          negative,
          keyOf(own),
          failedUnder === undefined ? entry : { ...entry, failedUnder },
          limits.maxNegativeEntries,
        );
      }
    }
  };
  return Object.assign(cachedVerify, {
    stats: (): TokenCacheStats => ({
      entries: positive.size,
      bytes: positive.calculatedSize,
      negativeEntries: limits.maxNegativeEntries > 0 ? negative.size : 0,
      negativeBytes: limits.maxNegativeEntries > 0 ? negative.calculatedSize : 0,
    }),
  });
}
