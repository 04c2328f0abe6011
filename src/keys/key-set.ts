/**
 * An immutable, indexed key set of one issuer. Lookups are two Map reads and return a pre-built
 * result object, so the hot path allocates nothing.
 */
import type { Algorithm } from '../core/algorithms.js';
import type { VerifyKey } from './jwk.js';

/** A successful lookup; built once per (key, algorithm) when the set is loaded. */
export interface KeyFound {
  readonly ok: true;
  readonly key: VerifyKey;
}

export class KeySet {
  /** kid → algorithm → first key in JWKS order with that kid that may verify that algorithm. */
  private readonly byKid = new Map<string, Map<Algorithm, KeyFound>>();
  /** algorithm → the only key that may verify it, or null when several can (a kid-less token is then ambiguous). */
  private readonly byAlgorithm = new Map<Algorithm, KeyFound | null>();
  /** kids under which two keys may verify the same algorithm; the first wins (reported at load). */
  readonly ambiguousKids: readonly string[];

  constructor(readonly keys: readonly VerifyKey[]) {
    const ambiguous = new Set<string>();
    for (const key of keys) {
      for (const alg of key.algorithms) {
        const found: KeyFound = Object.freeze({ ok: true, key });
        this.byAlgorithm.set(alg, this.byAlgorithm.has(alg) ? null : found);
        if (key.kid === undefined) continue;
        let forKid = this.byKid.get(key.kid);
        if (forKid === undefined) this.byKid.set(key.kid, (forKid = new Map<Algorithm, KeyFound>()));
        if (forKid.has(alg)) ambiguous.add(key.kid);
        else forKid.set(alg, found);
      }
    }
    this.ambiguousKids = [...ambiguous];
  }

  get size(): number {
    return this.keys.length;
  }

  /**
   * The key for a token header. With a kid: the key with that kid that may verify `alg`. Without:
   * the single key that may verify `alg`, never a guess among several.
   */
  find(kid: string | undefined, alg: Algorithm): KeyFound | undefined {
    if (kid === undefined) return this.byAlgorithm.get(alg) ?? undefined;
    return this.byKid.get(kid)?.get(alg);
  }
}
