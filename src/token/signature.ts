/**
 * JWS signature verification on imported KeyObjects with node:crypto. Keys are imported once when a
 * key set is loaded; this is the per-token cost (measured: node:crypto RS256 ~2x jose's WebCrypto
 * path on one core, see docs/benchmarks.md).
 */
import { constants, verify, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto';
import type { Algorithm } from '../core/algorithms.js';

interface AlgorithmSpec {
  readonly hash: string | null;
  readonly options: (key: KeyObject) => KeyObject | VerifyKeyObjectInput;
  /** Exact signature length in bytes where the algorithm fixes it (ECDSA raw r||s). */
  readonly signatureBytes?: number;
}

const plain = (key: KeyObject) => key;
const pss = (saltLength: number) => (key: KeyObject) => ({ key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });
const ieeeP1363 = (key: KeyObject) => ({ key, dsaEncoding: 'ieee-p1363' as const });

const SPECS: Record<Algorithm, AlgorithmSpec> = {
  RS256: { hash: 'sha256', options: plain },
  RS384: { hash: 'sha384', options: plain },
  RS512: { hash: 'sha512', options: plain },
  PS256: { hash: 'sha256', options: pss(32) },
  PS384: { hash: 'sha384', options: pss(48) },
  PS512: { hash: 'sha512', options: pss(64) },
  ES256: { hash: 'sha256', options: ieeeP1363, signatureBytes: 64 },
  ES384: { hash: 'sha384', options: ieeeP1363, signatureBytes: 96 },
  ES512: { hash: 'sha512', options: ieeeP1363, signatureBytes: 132 },
  EdDSA: { hash: null, options: plain },
  Ed25519: { hash: null, options: plain, signatureBytes: 64 },
};

/** True only for a valid signature; any library error is a failed verification, never a throw. */
export function verifySignature(alg: Algorithm, key: KeyObject, signingInput: string, signature: Buffer): boolean {
  const spec = SPECS[alg];
  if (spec.signatureBytes !== undefined && signature.length !== spec.signatureBytes) return false;
  try {
    return verify(spec.hash, Buffer.from(signingInput, 'latin1'), spec.options(key), signature);
  } catch {
    return false;
  }
}
