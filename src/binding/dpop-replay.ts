/**
 * DPoP `jti` replay memory (RFC 9449 §11.1). A proof may be accepted once within its acceptance window;
 * this remembers every accepted (key, jti) pair until the window that admitted it has passed.
 *
 * Bounded: at most `maxEntries` pairs, each stored as a fixed-size SHA-256 digest of key thumbprint and
 * jti, so a long jti costs no more than a short one. Entries expire in insertion order (each lives for
 * the same span from its insertion under one config), so expiry is a sweep from the oldest end. When the memory is full
 * of pairs that are all still live, a new proof is refused (503 `ERR_DPOP_REPLAY_CACHE_FULL`) rather
 * than forgetting a live pair, which would let that proof be replayed: the bound never fails open. Only
 * a client holding a valid bound token and its key can add entries (the pair is recorded last, after
 * every other check), so filling it needs that much.
 *
 * One process remembers its own proofs: with several replicas (or `server.workers` > 1) a proof can
 * be replayed once to each other replica within the window. A shared store (an atomic set-if-absent
 * with a TTL, such as Redis `SET NX PX`) would close that; server nonces narrow it to one nonce lifetime.
 */
import { createHash } from 'node:crypto';

export type ReplayVerdict = 'fresh' | 'replayed' | 'full';

export interface ReplayMemory {
  /** Records the pair if unseen; says whether it was fresh, already seen, or could not be recorded. */
  remember(thumbprint: string, jti: string, nowMs: number, lifetimeMs: number): ReplayVerdict;
  readonly size: number;
  readonly maxEntries: number;
  /** A reload may change the bound; entries are kept (above a lowered bound, new proofs wait for expiry). */
  setMaxEntries(maxEntries: number): void;
}

/**
 * One memory per process, kept across config reloads (a reload must not forget which proofs were used).
 * `lifetimeMs` is given per proof: the window of the config that accepted it.
 */
export function createReplayMemory(initialMaxEntries: number): ReplayMemory {
  let maxEntries = initialMaxEntries;
  // Map keeps insertion order; values are expiry times, non-decreasing in that order for a steady clock.
  const seen = new Map<string, number>();
  const sweep = (nowMs: number) => {
    for (const [key, expires] of seen) {
      if (expires > nowMs) break;
      seen.delete(key);
    }
  };
  return {
    remember(thumbprint, jti, nowMs, lifetimeMs) {
      sweep(nowMs);
      // Length-prefixed, so no (key, jti) pair can be split another way into the same digest.
      const key = createHash('sha256').update(`${thumbprint.length}:${thumbprint}`).update(jti).digest('base64url');
      const expires = seen.get(key);
      if (expires !== undefined && expires > nowMs) return 'replayed';
      if (seen.size >= maxEntries) return 'full';
      seen.set(key, nowMs + lifetimeMs);
      return 'fresh';
    },
    get size() {
      return seen.size;
    },
    get maxEntries() {
      return maxEntries;
    },
    setMaxEntries(value) {
      maxEntries = value;
    },
  };
}
