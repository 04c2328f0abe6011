/**
 * DPoP proof verification at a resource server, in the order of RFC 9449 §4.3 (and §7.1 for the access
 * token): exactly one proof; a compact JWS with `typ: dpop+jwt`, an allow-listed asymmetric `alg` and an
 * embedded public `jwk` (no private members) that verifies the signature; `jti`, `htm`, `htu`, `iat`
 * present; `htm` and `htu` equal to this request; `iat` inside the window; the server nonce when one is
 * required; `ath` equal to the hash of the presented access token; the token's `cnf.jkt` equal to the
 * RFC 7638 thumbprint of the proof key; and finally the `jti` not seen before (recorded only now, so a
 * proof that fails any other check leaves no trace).
 */
import { createHash, type KeyObject } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Algorithm } from '../config/schema.js';
import type { ReasonCode } from '../engine/reasons.js';
import { importJwk } from '../keys/jwk.js';
import { decodeSegment, MAX_JSON_DEPTH, UNSUPPORTED_HEADER_PARAMS } from '../token/parse.js';
import { verifySignature } from '../token/signature.js';
import { parseStrictJsonObject } from '../token/strict-json.js';
import type { NonceIssuer } from './dpop-nonce.js';
import type { ReplayMemory } from './dpop-replay.js';

/** Larger proofs are refused unread: an RSA-4096 proof with its jwk is about 1.5 KB. */
export const MAX_PROOF_BYTES = 8192;
/** Longest `jti` accepted (RFC 9449 §4.2 suggests 96 bits of randomness; 22-43 characters in practice). */
export const MAX_JTI_LENGTH = 256;

export interface DpopPolicy {
  readonly algorithms: ReadonlySet<Algorithm>;
  /** How old a proof's `iat` may be, in seconds (plus the skew). */
  readonly maxAgeSeconds: number;
  /** How far a proof's `iat` may be ahead of our clock, in seconds. */
  readonly clockSkewSeconds: number;
  readonly replay: ReplayMemory;
  /** How long an accepted jti is remembered: the whole span in which its proof could be accepted. */
  readonly replayLifetimeMs: number;
  /** Set when every proof must carry a current server nonce. */
  readonly nonces?: NonceIssuer;
}

export interface DpopRequest {
  /** Every value of the `DPoP` header (Envoy's `headers` map joins repeats with `,`). */
  readonly proofs: readonly string[] | undefined;
  readonly method: string;
  /** The request URI as the client addressed it (scheme, authority, path), or undefined if unknown. */
  readonly htu: string | undefined;
  readonly accessToken: string;
  /** The access token's `cnf` claim (already verified). */
  readonly cnf: unknown;
  readonly nowMs: number;
}

export type DpopResult =
  { readonly ok: true; readonly thumbprint: string } | { readonly ok: false; readonly reason: ReasonCode };

const fail = (reason: ReasonCode): DpopResult => ({ ok: false, reason });

/** RFC 7638 §3.2: the required members of each key type, in lexicographic order. */
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = {
  RSA: ['e', 'kty', 'n'],
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
};

/** RFC 7638 JWK thumbprint (SHA-256, base64url); undefined for a key type without a definition here. */
export function jwkThumbprint(jwk: Readonly<Record<string, unknown>>): string | undefined {
  const members = typeof jwk.kty === 'string' ? THUMBPRINT_MEMBERS[jwk.kty] : undefined;
  if (members === undefined) return undefined;
  const canonical: Record<string, unknown> = {};
  for (const m of members) {
    if (typeof jwk[m] !== 'string') return undefined;
    canonical[m] = jwk[m];
  }
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url');
}

/** `ath`: base64url SHA-256 of the ASCII access token (RFC 9449 §4.2). */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token, 'latin1').digest('base64url');
}

/**
 * `htu` comparison (RFC 9449 §4.3 step 9): both sides without query and fragment, compared after the
 * syntax- and scheme-based normalisation of RFC 3986 §6.2.2-6.2.3 (case of scheme and host, default
 * port, dot segments), which WHATWG URL parsing performs.
 */
export function normalizeHtu(uri: string): string | undefined {
  try {
    const url = new URL(uri);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return undefined;
  }
}

/** Imported proof keys by thumbprint: a client reuses its key, so the import (~30 µs) happens once. */
const keyCache = new LRUCache<string, KeyObject>({ max: 10_000 });

function proofKey(jwk: Record<string, unknown>, alg: Algorithm, thumbprint: string): KeyObject | undefined {
  const cached = keyCache.get(thumbprint);
  if (cached !== undefined) return cached;
  const imported = importJwk(jwk, new Set([alg]));
  if (!imported.ok) return undefined;
  keyCache.set(thumbprint, imported.key.key);
  return imported.key.key;
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

export function verifyDpopProof(req: DpopRequest, policy: DpopPolicy): DpopResult {
  // 1. Exactly one proof. A comma can only come from joined header lines: compact JWS has none.
  const proofs = req.proofs ?? [];
  if (proofs.length === 0 || proofs[0] === '') return fail('ERR_DPOP_PROOF_MISSING');
  if (proofs.length > 1 || proofs[0]!.includes(',')) return fail('ERR_DPOP_PROOF_MULTIPLE');
  const proof = proofs[0]!.trim();
  if (proof.length > MAX_PROOF_BYTES) return fail('ERR_DPOP_PROOF_MALFORMED');

  // 2. A well-formed JWS (RFC 7515) with strict JSON in both parts.
  const parts = proof.split('.');
  if (parts.length !== 3) return fail('ERR_DPOP_PROOF_MALFORMED');
  const headerBytes = decodeSegment(parts[0]!);
  const payloadBytes = decodeSegment(parts[1]!);
  // An empty signature (`alg: none`) is read as such, so the alg check below names the real fault.
  const signature = parts[2] === '' ? Buffer.alloc(0) : decodeSegment(parts[2]!);
  if (!headerBytes || !payloadBytes || !signature) return fail('ERR_DPOP_PROOF_MALFORMED');
  const header = parseStrictJsonObject(headerBytes, MAX_JSON_DEPTH);
  const payload = parseStrictJsonObject(payloadBytes, MAX_JSON_DEPTH);
  if (!header.ok || !payload.ok) return fail('ERR_DPOP_PROOF_MALFORMED');
  const h = header.value;
  const claims = payload.value;

  // 4. typ, 5. alg (asymmetric, allow-listed; none and HMAC are never in the list), 6. jwk.
  if (h.typ !== 'dpop+jwt') return fail('ERR_DPOP_PROOF_MALFORMED');
  if (UNSUPPORTED_HEADER_PARAMS.some((p) => Object.hasOwn(h, p))) return fail('ERR_DPOP_PROOF_MALFORMED');
  if (typeof h.alg !== 'string' || !policy.algorithms.has(h.alg as Algorithm))
    return fail('ERR_DPOP_ALGORITHM_NOT_ALLOWED');
  const alg = h.alg as Algorithm;
  const jwk = h.jwk;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return fail('ERR_DPOP_PROOF_MALFORMED');
  const jwkObject = jwk as Record<string, unknown>;
  if (PRIVATE_MEMBERS.some((m) => Object.hasOwn(jwkObject, m))) return fail('ERR_DPOP_KEY_INVALID');
  const thumbprint = jwkThumbprint(jwkObject);
  if (thumbprint === undefined) return fail('ERR_DPOP_KEY_INVALID');
  const key = proofKey(jwkObject, alg, thumbprint);
  if (key === undefined) return fail('ERR_DPOP_KEY_INVALID');

  // 7. Signature.
  if (!verifySignature(alg, key, `${parts[0]}.${parts[1]}`, signature)) return fail('ERR_DPOP_SIGNATURE_INVALID');

  // 3. Required claims with their types.
  const { jti, htm, htu, iat } = claims;
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH) return fail('ERR_DPOP_PROOF_MALFORMED');
  if (typeof htm !== 'string' || typeof htu !== 'string') return fail('ERR_DPOP_PROOF_MALFORMED');
  if (typeof iat !== 'number' || !Number.isFinite(iat)) return fail('ERR_DPOP_PROOF_MALFORMED');

  // 8. htm, 9. htu.
  if (htm !== req.method) return fail('ERR_DPOP_METHOD_MISMATCH');
  const expected = req.htu === undefined ? undefined : normalizeHtu(req.htu);
  const given = normalizeHtu(htu);
  if (expected === undefined || given === undefined || given !== expected) return fail('ERR_DPOP_URI_MISMATCH');

  // 10. Nonce (when required), 11. iat window.
  if (policy.nonces !== undefined) {
    if (!Object.hasOwn(claims, 'nonce')) return fail('ERR_DPOP_NONCE_MISSING');
    if (typeof claims.nonce !== 'string' || !policy.nonces.accepts(claims.nonce, req.nowMs))
      return fail('ERR_DPOP_NONCE_INVALID');
  }
  const nowS = req.nowMs / 1000;
  if (iat > nowS + policy.clockSkewSeconds) return fail('ERR_DPOP_PROOF_FROM_FUTURE');
  if (iat < nowS - policy.maxAgeSeconds - policy.clockSkewSeconds) return fail('ERR_DPOP_PROOF_STALE');

  // 12. ath and the binding of the access token to this key.
  if (claims.ath !== accessTokenHash(req.accessToken)) return fail('ERR_DPOP_ATH_MISMATCH');
  const jkt = isObject(req.cnf) && Object.hasOwn(req.cnf, 'jkt') ? req.cnf.jkt : undefined;
  if (typeof jkt !== 'string') return fail('ERR_DPOP_TOKEN_NOT_BOUND');
  if (jkt !== thumbprint) return fail('ERR_DPOP_KEY_MISMATCH');

  // 11. jti: last, so only a proof that passed everything else is remembered.
  const verdict = policy.replay.remember(thumbprint, jti, req.nowMs, policy.replayLifetimeMs);
  if (verdict === 'replayed') return fail('ERR_DPOP_REPLAYED');
  if (verdict === 'full') return fail('ERR_DPOP_REPLAY_CACHE_FULL');
  return { ok: true, thumbprint };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
