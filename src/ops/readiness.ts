/**
 * Readiness across many partners. With `required_issuers` (the default) one partner's IdP outage does
 * not take the replica out of service for everyone else: the replica is ready when every issuer
 * marked `required` has usable keys and at least one issuer has. Tokens of an issuer without keys
 * keep getting 503 `ERR_JWKS_UNAVAILABLE` meanwhile. `all_issuers` and `any_issuer` keep their
 * earlier meaning (every issuer required; any one suffices).
 */
import type { Config } from '../config/schema.js';

export interface IssuerReadiness {
  /** The issuer has usable keys. */
  readonly ready: boolean;
  /** The issuer is marked `required: true`. */
  readonly required: boolean;
}

export function isReady(policy: Config['server']['readiness'], issuers: readonly IssuerReadiness[]): boolean {
  if (policy === 'all_issuers') return issuers.every((i) => i.ready);
  const anyReady = issuers.some((i) => i.ready);
  if (policy === 'any_issuer') return anyReady;
  return anyReady && issuers.every((i) => i.ready || !i.required);
}
