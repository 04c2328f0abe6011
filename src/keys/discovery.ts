/**
 * OIDC discovery (OpenID Connect Discovery 1.0 §4): where the document lives and what we take from it.
 * The document must name exactly the configured issuer (SECURITY.md principle 4), or nothing in it
 * is trusted.
 */

/** `${issuer}/.well-known/openid-configuration`, without a doubled slash for issuers ending in `/` (Auth0). */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

/** Longest part of a discovery document's `issuer` repeated in an error message. */
const MAX_SHOWN = 200;

export type DiscoveryErrorCode = 'issuer_mismatch' | 'bad_discovery' | 'jwks_uri_not_allowed';

export class DiscoveryError extends Error {
  constructor(
    readonly code: DiscoveryErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DiscoveryError';
  }
}

/**
 * The `jwks_uri` of a discovery document that belongs to `issuer`.
 * @throws DiscoveryError `issuer_mismatch` when `issuer` differs in any byte, `bad_discovery` when
 * `jwks_uri` is missing or not an absolute URL
 */
export function jwksUriFromDiscovery(document: Record<string, unknown>, issuer: string): string {
  if (document.issuer !== issuer) {
    // Both values, so a trailing slash or a scheme difference is visible in logs and `claimgate status`;
    // the document's value is quoted (control characters escaped) and cut to a bounded length.
    const found = JSON.stringify(document.issuer ?? null).slice(0, MAX_SHOWN);
    throw new DiscoveryError(
      'issuer_mismatch',
      `discovery document names issuer ${found}, not the configured ${JSON.stringify(issuer)} (compared byte for byte)`,
    );
  }
  const jwksUri = document.jwks_uri;
  if (typeof jwksUri !== 'string' || !URL.canParse(jwksUri)) {
    throw new DiscoveryError('bad_discovery', 'discovery document has no absolute jwks_uri');
  }
  return jwksUri;
}
