/**
 * The token verifier: from a raw token to verified claims of an allow-listed issuer. The order is
 * fixed and cheap checks come first: size, strict parse, issuer allow-list (no network for unknown
 * issuers), token location, algorithm, type, key, signature, registered claims.
 */
import { resolveProfile, type Profile } from '../config/profiles.js';
import type { Algorithm } from '../core/algorithms.js';
import type { IssuerConfig } from '../config/schema.js';
import { compileClaimPath, type ClaimReader, type Claims } from './claims.js';
import { compilePrincipalReader, type Principal, type PrincipalReader } from './principal.js';
import type { ReasonCode } from '../core/reasons.js';
import type { KeySource, VerifyKey } from '../keys/key-source.js';
import { checkClaims, type ClaimPolicy } from './claims-check.js';
import type { CompiledLocation } from './extract.js';
import { issuerOf, parseCompactJws } from './parse.js';
import { verifySignature } from './signature.js';

/** An allow-listed issuer, compiled from config, with its key source. */
export interface CompiledIssuer {
  readonly name: string;
  readonly algorithms: ReadonlySet<string>;
  /** `typ` values accepted besides `at+jwt` (the profile's, or `token_type`'s). */
  readonly alsoTyp: Profile['alsoTyp'];
  /** A claim that must hold a fixed value (access, not ID, tokens), when the profile has one. */
  readonly accessTokenClaim?: { readonly read: ClaimReader; readonly equals: string };
  /** For one tenant of a `{tenant}` template: the tenant its `iss` names; the token's tenant must equal it. */
  readonly expectedTenant?: string;
  readonly principalOf: PrincipalReader;
  readonly maxTokenBytes: number;
  readonly locationIds: ReadonlySet<string>;
  readonly claimPolicy: ClaimPolicy;
  readonly keys: KeySource;
}

/** A verified token; its {@link KeyIdentity} lets a cached result be re-bound to the live key set. */
export interface VerifiedToken extends KeyIdentity {
  readonly issuer: CompiledIssuer;
  readonly claims: Claims;
  readonly subject: string;
  readonly payloadSegment: string;
  readonly principal: Principal;
  readonly location: CompiledLocation;
  /** Until when (ms) the token passes the time checks: exp, and the maximum age, with the skew. */
  readonly validUntilMs: number;
}

export type VerifyResult =
  | { readonly ok: true; readonly token: VerifiedToken }
  | {
      readonly ok: false;
      readonly reason: ReasonCode;
      readonly issuer?: CompiledIssuer;
      /** For ERR_SIGNATURE_INVALID: the live key it failed under, so the cache can tell when that changes. */
      readonly failedUnder?: KeyIdentity;
    };

/** A key as the key set hands it out for one kid and alg; the same object while the key is unchanged. */
export interface KeyIdentity {
  readonly kid: string | undefined;
  readonly alg: Algorithm;
  readonly key: VerifyKey;
}

export interface VerifierOptions {
  /** Issuers by exact `iss`. */
  readonly issuers: ReadonlyMap<string, CompiledIssuer>;
  /** Largest max_token_bytes of any issuer: the bound applied before the issuer is known. */
  readonly maxTokenBytes: number;
  readonly nowMs: () => number;
  /** Longest a verification may wait for keys. */
  readonly keyDeadlineMs: number;
}

/**
 * Compiles an issuer entry. A `{tenant}` template or `issuer_aliases` give one entry several exact
 * `iss` values: each gets its own CompiledIssuer (sharing keys and settings) keyed by that value.
 */
export function compileIssuer(
  config: IssuerConfig,
  keys: KeySource,
  locationIds: ReadonlySet<string>,
  expectedTenant?: string,
  /** `upstream.array_separator`, for the one rule for claim values the principal is read by. */
  separator = ',',
): CompiledIssuer {
  const profile = resolveProfile(config);
  const marker = profile.accessTokenClaim;
  return {
    name: config.name,
    algorithms: new Set(config.algorithms),
    alsoTyp: profile.alsoTyp,
    ...(marker === undefined
      ? {}
      : { accessTokenClaim: { read: compileClaimPath(marker.path), equals: marker.equals } }),
    ...(expectedTenant === undefined ? {} : { expectedTenant }),
    principalOf: compilePrincipalReader(config.name, profile.claims, separator),
    maxTokenBytes: config.max_token_bytes,
    locationIds,
    claimPolicy: {
      audiences: new Set(config.audiences),
      audienceClaim: profile.audienceClaim,
      clockSkewSeconds: config.clock_skew_seconds,
      maxTokenAgeSeconds: config.max_token_age_seconds,
    },
    keys,
  };
}

/** RFC 9068 §2.1: `at+jwt`, with or without the `application/` prefix, case-insensitive. */
function typAccepted(typ: string | undefined, also: Profile['alsoTyp']): boolean {
  if (typ === undefined) return also.none;
  const t = typ.toLowerCase();
  if (t === 'at+jwt' || t === 'application/at+jwt') return true;
  return also.jwt && (t === 'jwt' || t === 'application/jwt');
}

export async function verifyToken(
  raw: string,
  location: CompiledLocation,
  opts: VerifierOptions,
): Promise<VerifyResult> {
  const parsed = parseCompactJws(raw, opts.maxTokenBytes);
  if (!parsed.ok) return { ok: false, reason: parsed.reason };
  const jws = parsed.jws;

  const iss = issuerOf(jws);
  const issuer = iss === undefined ? undefined : opts.issuers.get(iss);
  if (issuer === undefined)
    return { ok: false, reason: iss === undefined ? 'ERR_CLAIMS_INVALID' : 'ERR_ISSUER_NOT_ALLOWED' };
  const fail = (reason: ReasonCode): VerifyResult => ({ ok: false, reason, issuer });

  if (raw.length > issuer.maxTokenBytes) return fail('ERR_TOKEN_TOO_LARGE');
  if (!issuer.locationIds.has(location.id)) return fail('ERR_TOKEN_LOCATION_NOT_ALLOWED');
  const alg = jws.header.alg;
  if (!issuer.algorithms.has(alg)) return fail('ERR_ALGORITHM_NOT_ALLOWED');
  if (!typAccepted(jws.header.typ, issuer.alsoTyp)) return fail('ERR_TOKEN_TYPE_INVALID');

  let lookup = issuer.keys.lookup(jws.header.kid, alg as Algorithm, opts.keyDeadlineMs);
  if (lookup instanceof Promise) lookup = await lookup;
  if (!lookup.ok) return fail(lookup.reason);
  let key = lookup.key;
  if (!verifySignature(alg as Algorithm, key.key, jws.signingInput, jws.signature)) {
    // The IdP may have replaced the key behind this kid: one rate-limited refetch (P19), then decide.
    let renewed = issuer.keys.recheck?.(jws.header.kid, alg as Algorithm, key, opts.keyDeadlineMs);
    if (renewed instanceof Promise) renewed = await renewed;
    if (renewed === undefined || !verifySignature(alg as Algorithm, renewed.key, jws.signingInput, jws.signature))
      return {
        ok: false,
        reason: 'ERR_SIGNATURE_INVALID',
        issuer,
        failedUnder: { kid: jws.header.kid, alg: alg as Algorithm, key: renewed ?? key },
      };
    key = renewed;
  }

  // Before the claim checks: an ID token of the same issuer fails here as what it is, not as a bad audience.
  const marker = issuer.accessTokenClaim;
  if (marker !== undefined && marker.read(jws.claims) !== marker.equals) return fail('ERR_TOKEN_TYPE_INVALID');
  const claimFailure = checkClaims(jws.claims, issuer.claimPolicy, opts.nowMs() / 1000);
  if (claimFailure !== undefined) return fail(claimFailure);
  const subject = jws.claims.sub as string;
  const principal = issuer.principalOf(jws.claims, subject, issuer.expectedTenant);
  // The iss of a template names a tenant; a token whose own tenant claim disagrees is not that tenant's.
  if (issuer.expectedTenant !== undefined && principal.tenant !== issuer.expectedTenant)
    return fail('ERR_TENANT_MISMATCH');

  const skew = issuer.claimPolicy.clockSkewSeconds;
  const maxAge = issuer.claimPolicy.maxTokenAgeSeconds;
  let validUntilS = (jws.claims.exp as number) + skew;
  if (maxAge !== undefined) validUntilS = Math.min(validUntilS, (jws.claims.iat as number) + maxAge + skew);
  return {
    ok: true,
    token: {
      issuer,
      claims: jws.claims,
      subject,
      payloadSegment: jws.payloadSegment,
      principal,
      location,
      validUntilMs: validUntilS * 1000,
      kid: jws.header.kid,
      alg: alg as Algorithm,
      key,
    },
  };
}
