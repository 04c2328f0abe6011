/**
 * Registered-claim checks after the signature is verified (SECURITY.md principles 7 and 8): required
 * claims with the right JSON types, audience by exact match, time with a bounded clock skew.
 */
import type { ReasonCode } from '../engine/reasons.js';
import type { Claims } from './parse.js';

export interface ClaimPolicy {
  readonly audiences: ReadonlySet<string>;
  /** Where the audience is: `aud`, or `client_id` (Cognito access tokens carry no `aud`). */
  readonly audienceClaim?: 'aud' | 'client_id';
  readonly clockSkewSeconds: number;
  readonly maxTokenAgeSeconds?: number;
}

type ClaimFailure = Extract<
  ReasonCode,
  | 'ERR_CLAIMS_INVALID'
  | 'ERR_AUDIENCE_MISMATCH'
  | 'ERR_TOKEN_EXPIRED'
  | 'ERR_TOKEN_NOT_YET_VALID'
  | 'ERR_TOKEN_ISSUED_IN_FUTURE'
  | 'ERR_TOKEN_TOO_OLD'
>;

function own(claims: Claims, name: string): unknown {
  return Object.hasOwn(claims, name) ? claims[name] : undefined;
}

const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function audienceMatches(aud: unknown, accepted: ReadonlySet<string>): boolean | 'invalid' {
  if (typeof aud === 'string') return accepted.has(aud);
  if (!Array.isArray(aud) || aud.length === 0) return 'invalid';
  let match = false;
  for (const a of aud) {
    if (typeof a !== 'string') return 'invalid';
    if (accepted.has(a)) match = true;
  }
  return match;
}

/** Returns the first failed check, or undefined when the claims are acceptable at `nowSeconds`. */
export function checkClaims(claims: Claims, policy: ClaimPolicy, nowSeconds: number): ClaimFailure | undefined {
  const sub = own(claims, 'sub');
  const exp = own(claims, 'exp');
  if (typeof sub !== 'string' || sub === '' || !isTime(exp)) return 'ERR_CLAIMS_INVALID';
  const nbf = own(claims, 'nbf');
  const iat = own(claims, 'iat');
  if ((nbf !== undefined && !isTime(nbf)) || (iat !== undefined && !isTime(iat))) return 'ERR_CLAIMS_INVALID';

  const audience = audienceMatches(own(claims, policy.audienceClaim ?? 'aud'), policy.audiences);
  if (audience === 'invalid') return 'ERR_CLAIMS_INVALID';
  if (!audience) return 'ERR_AUDIENCE_MISMATCH';

  const skew = policy.clockSkewSeconds;
  if (nowSeconds >= exp + skew) return 'ERR_TOKEN_EXPIRED';
  if (nbf !== undefined && nowSeconds + skew < nbf) return 'ERR_TOKEN_NOT_YET_VALID';
  if (iat !== undefined && iat > nowSeconds + skew) return 'ERR_TOKEN_ISSUED_IN_FUTURE';
  if (policy.maxTokenAgeSeconds !== undefined) {
    if (iat === undefined) return 'ERR_CLAIMS_INVALID';
    if (nowSeconds - iat > policy.maxTokenAgeSeconds + skew) return 'ERR_TOKEN_TOO_OLD';
  }
  return undefined;
}
