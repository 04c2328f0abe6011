/**
 * Turns a JWKS document into verification keys, checking every key as it is loaded
 * (SECURITY.md principles 5 and 6). A bad key is skipped on its own, with a reason; it never poisons
 * the rest of the set. Only a document that is not `{ "keys": [...] }` fails as a whole.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Algorithm } from '../config/schema.js';
import {
  algorithmsForJwkAlg,
  algorithmsForKey,
  EC_CURVE_ALGORITHM,
  isKnownAlgorithm,
  OKP_CURVE_ALGORITHMS,
  type EcCurve,
  type KeyShape,
  type OkpCurve,
} from './algorithms.js';
import { coordinateBytes, isPointOnCurve, toBigInt } from './ec-point.js';

/** A public key ready for `crypto.verify`, with the algorithms it may verify. */
export interface VerifyKey {
  readonly kid?: string;
  readonly kty: 'RSA' | 'EC' | 'OKP';
  readonly key: KeyObject;
  /** Algorithms this key may verify: issuer allow-list ∩ key type/curve ∩ the JWK's own `alg`. */
  readonly algorithms: ReadonlySet<Algorithm>;
}

/** Why a JWK was left out of the usable set. Stable codes, fit for logs and metric labels. */
export type KeySkipReason =
  | 'not_object'
  | 'bad_kid'
  | 'symmetric'
  | 'kty_unsupported'
  | 'private_key'
  | 'use_not_sig'
  | 'key_ops_no_verify'
  | 'rsa_bad_members'
  | 'rsa_too_small'
  | 'rsa_too_large'
  | 'rsa_bad_exponent'
  | 'ec_curve_unsupported'
  | 'ec_bad_coordinates'
  | 'ec_not_on_curve'
  | 'okp_curve_unsupported'
  | 'okp_bad_key'
  | 'alg_unsupported'
  | 'alg_key_mismatch'
  | 'alg_not_allowed'
  | 'no_allowed_alg'
  | 'import_failed'
  | 'too_many_keys';

export interface SkippedKey {
  readonly kid?: string;
  readonly reason: KeySkipReason;
}

export interface ImportedJwks {
  readonly keys: VerifyKey[];
  readonly skipped: SkippedKey[];
}

/** The document is not a JWKS at all; callers treat this as a failed fetch and keep their old keys. */
export class NotAJwksError extends Error {
  readonly code = 'not_jwks';
}

/** Smallest RSA modulus accepted (NIST SP 800-131A; RFC 7518 §3.3 requires 2048 for RS*). */
export const MIN_RSA_BITS = 2048;
/** Largest RSA modulus accepted: verification cost grows with the square of the size, so huge keys are a CPU lever. */
export const MAX_RSA_BITS = 8192;
/**
 * More keys than this in one JWKS are skipped. Real IdPs publish 1-10; each key costs an import and
 * memory, and the body cap alone would still admit a few thousand.
 */
export const MAX_KEYS_PER_SET = 100;

/** Members that only a private (or symmetric) JWK carries (RFC 7518 §6.3.2, §6.4). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
const OKP_KEY_BYTES: Record<OkpCurve, number> = { Ed25519: 32, Ed448: 57 };
const BASE64URL = /^[A-Za-z0-9_-]+$/;

type Checked = { ok: true; shape: KeyShape; publicJwk: Record<string, string> } | { ok: false; reason: KeySkipReason };

/**
 * Import every usable key of a JWKS document.
 * @param json the parsed document
 * @param allowedAlgs the issuer's algorithm allow-list; keys that can verify none of them are skipped
 * @throws NotAJwksError when `json` is not an object with a `keys` array
 */
export function importJwks(json: unknown, allowedAlgs: readonly Algorithm[]): ImportedJwks {
  if (!isPlainObject(json) || !Array.isArray(json.keys))
    throw new NotAJwksError('document is not a JWKS ({"keys": [...]})');
  const allowed = new Set(allowedAlgs);
  const keys: VerifyKey[] = [];
  const skipped: SkippedKey[] = [];
  json.keys.forEach((jwk: unknown, index: number) => {
    const kid = isPlainObject(jwk) && typeof jwk.kid === 'string' ? jwk.kid : undefined;
    const result =
      index >= MAX_KEYS_PER_SET ? ({ ok: false, reason: 'too_many_keys' } as const) : importJwk(jwk, allowed);
    if (result.ok) keys.push(result.key);
    else skipped.push(kid === undefined ? { reason: result.reason } : { kid, reason: result.reason });
  });
  return { keys, skipped };
}

/** Check and import one JWK. */
export function importJwk(
  jwk: unknown,
  allowed: ReadonlySet<Algorithm>,
): { ok: true; key: VerifyKey } | { ok: false; reason: KeySkipReason } {
  if (!isPlainObject(jwk)) return { ok: false, reason: 'not_object' };
  if (jwk.kid !== undefined && typeof jwk.kid !== 'string') return { ok: false, reason: 'bad_kid' };
  const checked = checkMembers(jwk);
  if (!checked.ok) return checked;
  const algorithms = selectAlgorithms(jwk.alg, checked.shape, allowed);
  if (typeof algorithms === 'string') return { ok: false, reason: algorithms };
  let key: KeyObject;
  try {
    // Import only the public members we checked, so nothing else in the JWK reaches the parser.
    key = createPublicKey({ key: checked.publicJwk, format: 'jwk' });
  } catch {
    return { ok: false, reason: 'import_failed' };
  }
  const postImport = checkImported(key, checked.shape);
  if (postImport !== undefined) return { ok: false, reason: postImport };
  const kid = jwk.kid as string | undefined;
  const verifyKey: VerifyKey =
    kid === undefined ? { kty: checked.shape.kty, key, algorithms } : { kid, kty: checked.shape.kty, key, algorithms };
  return { ok: true, key: Object.freeze(verifyKey) };
}

function checkMembers(jwk: Record<string, unknown>): Checked {
  if (jwk.kty === 'oct') return { ok: false, reason: 'symmetric' };
  if (jwk.kty !== 'RSA' && jwk.kty !== 'EC' && jwk.kty !== 'OKP') return { ok: false, reason: 'kty_unsupported' };
  if (PRIVATE_MEMBERS.some((m) => Object.hasOwn(jwk, m))) return { ok: false, reason: 'private_key' };
  if (jwk.use !== undefined && jwk.use !== 'sig') return { ok: false, reason: 'use_not_sig' };
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify')))
    return { ok: false, reason: 'key_ops_no_verify' };
  switch (jwk.kty) {
    case 'RSA':
      return checkRsa(jwk);
    case 'EC':
      return checkEc(jwk);
    case 'OKP':
      return checkOkp(jwk);
  }
}

function checkRsa(jwk: Record<string, unknown>): Checked {
  const n = decodeMember(jwk.n);
  const e = decodeMember(jwk.e);
  if (n === undefined || e === undefined) return { ok: false, reason: 'rsa_bad_members' };
  const bits = bitLength(n);
  if (bits < MIN_RSA_BITS) return { ok: false, reason: 'rsa_too_small' };
  if (bits > MAX_RSA_BITS) return { ok: false, reason: 'rsa_too_large' };
  // 65537 only: e = 1 makes every "signature" equal its message (trivial forgeries); e = 3 invites
  // Bleichenbacher's 2006 forgery against lax PKCS#1 v1.5 padding checks; huge exponents make
  // verification slow. Every mainstream IdP publishes 65537 (AQAB).
  if (toBigInt(e) !== 65537n) return { ok: false, reason: 'rsa_bad_exponent' };
  return { ok: true, shape: { kty: 'RSA' }, publicJwk: { kty: 'RSA', n: jwk.n as string, e: jwk.e as string } };
}

function checkEc(jwk: Record<string, unknown>): Checked {
  const crv = jwk.crv;
  if (typeof crv !== 'string' || !Object.hasOwn(EC_CURVE_ALGORITHM, crv))
    return { ok: false, reason: 'ec_curve_unsupported' };
  const curve = crv as EcCurve;
  const x = decodeMember(jwk.x);
  const y = decodeMember(jwk.y);
  const size = coordinateBytes(curve);
  if (x === undefined || y === undefined || x.length !== size || y.length !== size)
    return { ok: false, reason: 'ec_bad_coordinates' };
  if (!isPointOnCurve(curve, x, y)) return { ok: false, reason: 'ec_not_on_curve' };
  return {
    ok: true,
    shape: { kty: 'EC', crv: curve },
    publicJwk: { kty: 'EC', crv: curve, x: jwk.x as string, y: jwk.y as string },
  };
}

function checkOkp(jwk: Record<string, unknown>): Checked {
  const crv = jwk.crv;
  if (typeof crv !== 'string' || !Object.hasOwn(OKP_CURVE_ALGORITHMS, crv))
    return { ok: false, reason: 'okp_curve_unsupported' };
  const curve = crv as OkpCurve;
  const x = decodeMember(jwk.x);
  if (x === undefined || x.length !== OKP_KEY_BYTES[curve]) return { ok: false, reason: 'okp_bad_key' };
  return { ok: true, shape: { kty: 'OKP', crv: curve }, publicJwk: { kty: 'OKP', crv: curve, x: jwk.x as string } };
}

/** The JWK's `alg` narrows what the key type allows; the issuer's allow-list narrows it further. */
function selectAlgorithms(
  alg: unknown,
  shape: KeyShape,
  allowed: ReadonlySet<Algorithm>,
): ReadonlySet<Algorithm> | KeySkipReason {
  let candidates: readonly Algorithm[];
  if (alg === undefined) {
    candidates = algorithmsForKey(shape);
  } else {
    if (!isKnownAlgorithm(alg)) return 'alg_unsupported';
    candidates = algorithmsForJwkAlg(alg, shape);
    if (candidates.length === 0) return 'alg_key_mismatch';
  }
  const usable = candidates.filter((a) => allowed.has(a));
  if (usable.length === 0) return alg === undefined ? 'no_allowed_alg' : 'alg_not_allowed';
  return new Set(usable);
}

/** Belt and braces: the imported key must be the public key of the type we checked. */
function checkImported(key: KeyObject, shape: KeyShape): KeySkipReason | undefined {
  if (key.type !== 'public') return 'import_failed';
  const details = key.asymmetricKeyDetails;
  switch (shape.kty) {
    case 'RSA':
      if (key.asymmetricKeyType !== 'rsa') return 'import_failed';
      if (details?.publicExponent !== 65537n) return 'rsa_bad_exponent';
      if ((details.modulusLength ?? 0) < MIN_RSA_BITS) return 'rsa_too_small';
      return undefined;
    case 'EC':
      return key.asymmetricKeyType === 'ec' ? undefined : 'import_failed';
    case 'OKP':
      return key.asymmetricKeyType === shape.crv.toLowerCase() ? undefined : 'import_failed';
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Strict base64url (no padding, no whitespace) to bytes; undefined when absent or malformed. */
function decodeMember(value: unknown): Buffer | undefined {
  if (typeof value !== 'string' || !BASE64URL.test(value)) return undefined;
  return Buffer.from(value, 'base64url');
}

/** Bits of a big-endian unsigned integer (an RSA modulus), leading zero bytes ignored. */
export function bitLength(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  if (i === bytes.length) return 0;
  return (bytes.length - i - 1) * 8 + (32 - Math.clz32(bytes[i]!));
}
