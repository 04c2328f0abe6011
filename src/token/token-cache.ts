/**
 * The verified-token cache: a hit skips parsing and signature verification entirely.
 *
 * A positive entry is only used while (1) the token is still within its exp / max-age, and (2) the
 * issuer's live key set still returns the very key object it was verified with — so a removed key,
 * a key set gone stale past max_stale, or a reload (each config generation has its own cache)
 * invalidates it. Token-location rules are re-checked on every hit, since they depend on the request.
 *
 * Failures that can never turn into a success for the same token (bad signature, malformed, unknown
 * issuer, expired, ...) are cached briefly, so a repeated bad token costs a map lookup. Outcomes that
 * depend on the IdP or on time moving forward (unknown kid, keys unavailable, not yet valid, issued in
 * the future) are not.
 */
import { LRUCache } from 'lru-cache';
import type { ReasonCode } from '../engine/reasons.js';
import type { CompiledLocation } from './extract.js';
import type { CompiledIssuer, VerifiedToken, VerifyResult } from './verify.js';

export interface TokenCacheLimits {
  /** Positive entries; 0 disables the whole cache. */
  readonly maxEntries: number;
  /** Estimated bytes held by positive entries: token length + ENTRY_OVERHEAD_BYTES each. */
  readonly maxBytes: number;
  readonly negativeTtlMs: number;
  readonly maxNegativeEntries: number;
}

export type TokenCacheResult = 'hit' | 'miss' | 'negative_hit';

export type Verify = (raw: string, location: CompiledLocation) => Promise<VerifyResult>;

/**
 * Per-entry cost on top of the token text (claims object, entry record, LRU bookkeeping). Measured at
 * 1,000,000 entries: token length + ~765 B (V8 keeps ASCII tokens at one byte per character); 1 KiB
 * keeps a margin. See docs/benchmarks.md.
 */
export const ENTRY_OVERHEAD_BYTES = 1024;
/** Negative entries hold only the token text and a reason; their bytes are bounded separately. */
const NEGATIVE_MAX_BYTES = 8 * 1024 * 1024;

const NEGATIVE_CACHEABLE: ReadonlySet<ReasonCode> = new Set<ReasonCode>([
  'ERR_TOKEN_MALFORMED',
  'ERR_TOKEN_UNSUPPORTED',
  'ERR_ISSUER_NOT_ALLOWED',
  'ERR_ALGORITHM_NOT_ALLOWED',
  'ERR_TOKEN_TYPE_INVALID',
  'ERR_TOKEN_BOUND',
  'ERR_CLAIMS_INVALID',
  'ERR_AUDIENCE_MISMATCH',
  'ERR_TOKEN_EXPIRED',
  'ERR_TOKEN_TOO_OLD',
]);

interface NegativeEntry {
  readonly reason: ReasonCode;
  readonly issuer: CompiledIssuer | undefined;
  readonly untilMs: number;
}

/** UTF-16 code units stored for a string key; tokens are ASCII, so this is their byte length. */
const tokenBytes = (raw: string) => raw.length;

export function createCachedVerifier(
  verify: Verify,
  limits: TokenCacheLimits,
  nowMs: () => number,
  onResult: (result: TokenCacheResult) => void = () => undefined,
): Verify {
  if (limits.maxEntries <= 0) return verify;
  const positive = new LRUCache<string, VerifiedToken>({
    max: limits.maxEntries,
    maxSize: limits.maxBytes,
    sizeCalculation: (_v, raw) => tokenBytes(raw) + ENTRY_OVERHEAD_BYTES,
  });
  const negative = new LRUCache<string, NegativeEntry>({
    max: Math.max(1, limits.maxNegativeEntries), // lru-cache needs max ≥ 1; 0 disables the negative cache below
    maxSize: NEGATIVE_MAX_BYTES,
    sizeCalculation: (_v, raw) => tokenBytes(raw) + 64,
  });

  const stillValid = (token: VerifiedToken, now: number): boolean => {
    if (now >= token.validUntilMs) return false;
    const live = token.issuer.keys.lookup(token.kid, token.alg, 0);
    return !(live instanceof Promise) && live.ok && live.key === token.key;
  };

  return async function cachedVerify(raw, location) {
    const now = nowMs();
    const hit = positive.get(raw);
    if (hit !== undefined) {
      if (stillValid(hit, now)) {
        onResult('hit');
        if (!hit.issuer.locationIds.has(location.id))
          return { ok: false, reason: 'ERR_TOKEN_LOCATION_NOT_ALLOWED', issuer: hit.issuer };
        return { ok: true, token: hit.location === location ? hit : { ...hit, location } };
      }
      positive.delete(raw);
    } else {
      const bad = negative.get(raw);
      if (bad !== undefined && now < bad.untilMs) {
        onResult('negative_hit');
        return { ok: false, reason: bad.reason, issuer: bad.issuer };
      }
    }
    onResult('miss');
    const result = await verify(raw, location);
    if (result.ok) positive.set(raw, result.token);
    else if (limits.maxNegativeEntries > 0 && NEGATIVE_CACHEABLE.has(result.reason))
      negative.set(raw, { reason: result.reason, issuer: result.issuer, untilMs: now + limits.negativeTtlMs });
    return result;
  };
}
