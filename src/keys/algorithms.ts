/**
 * Which JWS algorithms a key of a given type and curve can verify. The key set can only narrow the
 * issuer's allow-list (SECURITY.md principle 5), never widen it.
 */
import { ASYMMETRIC_ALGORITHMS, type Algorithm } from '../core/algorithms.js';

const RSA_ALGORITHMS: readonly Algorithm[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];

/** EC curves claimgate accepts, each bound to the one ECDSA algorithm that uses it (RFC 7518 §3.4). */
export const EC_CURVE_ALGORITHM = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' } as const satisfies Record<
  string,
  Algorithm
>;
export type EcCurve = keyof typeof EC_CURVE_ALGORITHM;

/**
 * OKP curves for signatures. `EdDSA` (RFC 8037) covers both curves; `Ed25519` is the fully specified
 * name (RFC 9864) of the same signature scheme on Ed25519 keys.
 */
export const OKP_CURVE_ALGORITHMS = {
  Ed25519: ['EdDSA', 'Ed25519'],
  Ed448: ['EdDSA'],
} as const satisfies Record<string, readonly Algorithm[]>;
export type OkpCurve = keyof typeof OKP_CURVE_ALGORITHMS;

/** Public key shapes that reach algorithm selection (after type and curve checks). */
export type KeyShape = { kty: 'RSA' } | { kty: 'EC'; crv: EcCurve } | { kty: 'OKP'; crv: OkpCurve };

/** Every algorithm a key of this shape can verify, before any allow-list is applied. */
export function algorithmsForKey(shape: KeyShape): readonly Algorithm[] {
  switch (shape.kty) {
    case 'RSA':
      return RSA_ALGORITHMS;
    case 'EC':
      return [EC_CURVE_ALGORITHM[shape.crv]];
    case 'OKP':
      return OKP_CURVE_ALGORITHMS[shape.crv];
  }
}

/** True when `value` names one of the asymmetric algorithms claimgate knows. */
export function isKnownAlgorithm(value: unknown): value is Algorithm {
  return typeof value === 'string' && (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(value);
}

/**
 * The algorithms a JWK `alg` member permits on a key of this shape: the alg itself, plus its alias
 * when two names denote one scheme (`EdDSA` and `Ed25519` on an Ed25519 key).
 */
export function algorithmsForJwkAlg(alg: Algorithm, shape: KeyShape): readonly Algorithm[] {
  const possible = algorithmsForKey(shape);
  if (!possible.includes(alg)) return [];
  if (shape.kty === 'OKP' && shape.crv === 'Ed25519') return possible;
  return [alg];
}
