/**
 * Our own check that an EC public point lies on its curve. Node 20's JWK import rejects off-curve
 * points today, but invalid-curve attacks are the classic way a verifier leaks or accepts forgeries
 * (SECURITY.md principle 6), so the check must not depend on one library version's behaviour.
 * The NIST curves have cofactor 1: a point on the curve is in the prime-order group.
 */
import type { EcCurve } from './algorithms.js';

interface CurveParams {
  /** Field prime. */
  readonly p: bigint;
  /** Curve constant b in y² = x³ − 3x + b. */
  readonly b: bigint;
  /** Byte length of one coordinate (RFC 7518 §6.2.1.2: exactly this many bytes, leading zeros kept). */
  readonly bytes: number;
}

const CURVES: Record<EcCurve, CurveParams> = {
  'P-256': {
    p: 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
    bytes: 32,
  },
  'P-384': {
    p: 2n ** 384n - 2n ** 128n - 2n ** 96n + 2n ** 32n - 1n,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
    bytes: 48,
  },
  'P-521': {
    p: 2n ** 521n - 1n,
    b: 0x0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00n,
    bytes: 66,
  },
};

/** Exact byte length of one coordinate on this curve. */
export function coordinateBytes(crv: EcCurve): number {
  return CURVES[crv].bytes;
}

/** Big-endian unsigned bytes as a bigint (JWK coordinates, RSA moduli and exponents). */
export function toBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

/** True when (x, y) are canonical field elements satisfying the curve equation. */
export function isPointOnCurve(crv: EcCurve, x: Uint8Array, y: Uint8Array): boolean {
  const { p, b } = CURVES[crv];
  const X = toBigInt(x);
  const Y = toBigInt(y);
  if (X >= p || Y >= p) return false;
  const mod = (v: bigint) => ((v % p) + p) % p;
  return mod(Y * Y) === mod(X * X * X - 3n * X + b);
}
