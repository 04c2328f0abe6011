/**
 * The reason catalogue: every decision claimgate takes carries one of these codes. It is the single
 * place that maps a reason to its HTTP status, its RFC 6750 challenge and its log text; adapters,
 * metrics and logs all read it from here. docs/reasons.md is kept in step by a test.
 */

/** How the decision is delivered: allow, deny (the client's fault) or error (ours or the IdP's). */
export type Outcome = 'allow' | 'deny' | 'error';

/** RFC 6750 §3.1 error codes; `undefined` means a bare challenge (no credentials were sent). */
export type BearerError =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  /** RFC 9449 §7.1 / §12.2: errors of the DPoP authentication scheme. */
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce';

export interface ReasonInfo {
  readonly outcome: Outcome;
  readonly status: number;
  /** Bearer error code in `WWW-Authenticate`; absent for allows, bare 401s and 5xx answers. */
  readonly bearerError?: BearerError;
  /** Short, fixed text: safe to show to clients and to log; never includes token contents. */
  readonly title: string;
  /** The challenge names the DPoP scheme (RFC 9449 §7.1) rather than Bearer. */
  readonly scheme?: 'DPoP';
}

export const REASONS = {
  OK_AUTHENTICATED: { outcome: 'allow', status: 200, title: 'token verified and route requirements met' },
  OK_PUBLIC_ROUTE: { outcome: 'allow', status: 200, title: 'public route, no token required' },
  OK_SHADOW_MODE: {
    outcome: 'allow',
    status: 200,
    title: 'whole-config shadow mode: the request would have been refused, allowed without identity',
  },
  OK_RESOURCE_METADATA: {
    outcome: 'deny',
    status: 200,
    title: 'protected resource metadata (RFC 9728), answered by claimgate itself',
  },

  ERR_TOKEN_MISSING: { outcome: 'deny', status: 401, title: 'no access token in the request' },
  ERR_REQUEST_MALFORMED: {
    outcome: 'deny',
    status: 400,
    bearerError: 'invalid_request',
    title: 'malformed authorization request',
  },
  ERR_MULTIPLE_TOKENS: {
    outcome: 'deny',
    status: 400,
    bearerError: 'invalid_request',
    title: 'more than one credential (access token or other) in the request',
  },
  ERR_PATH_INVALID: {
    outcome: 'deny',
    status: 400,
    bearerError: 'invalid_request',
    title: 'request path cannot be normalized safely',
  },
  ERR_HOST_INVALID: {
    outcome: 'deny',
    status: 400,
    bearerError: 'invalid_request',
    title: 'request host is not a single host with an optional port',
  },
  ERR_HEADER_NAME_AMBIGUOUS: {
    outcome: 'deny',
    status: 400,
    bearerError: 'invalid_request',
    title: 'a request header name reads as a header claimgate owns',
  },
  ERR_METHOD_OVERRIDE: {
    outcome: 'deny',
    status: 400,
    bearerError: 'invalid_request',
    title: 'the request asks to be handled as another method (method override)',
  },

  ERR_TOKEN_TOO_LARGE: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_token',
    title: 'access token exceeds the size limit',
  },
  ERR_TOKEN_MALFORMED: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_token',
    title: 'access token is not a well-formed compact JWS',
  },
  ERR_TOKEN_UNSUPPORTED: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_token',
    title: 'access token uses an unsupported JOSE feature',
  },
  ERR_ISSUER_NOT_ALLOWED: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_token',
    title: 'token issuer is not allowed',
  },
  ERR_TOKEN_LOCATION_NOT_ALLOWED: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_token',
    title: 'token issuer does not accept tokens from this location',
  },
  ERR_ALGORITHM_NOT_ALLOWED: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_token',
    title: 'token signing algorithm is not allowed for this issuer',
  },
  ERR_TOKEN_TYPE_INVALID: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_token',
    title: 'token type (typ) is not an access token type accepted for this issuer',
  },
  ERR_KEY_NOT_FOUND: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_token',
    title: 'no key of the issuer matches the token',
  },
  ERR_SIGNATURE_INVALID: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_token',
    title: 'token signature is invalid',
  },
  ERR_TOKEN_BOUND: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_token',
    title: 'token is sender-constrained (cnf) and was presented without its proof of possession',
  },
  ERR_CLAIMS_INVALID: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_token',
    title: 'a required claim is missing or has the wrong type',
  },
  ERR_AUDIENCE_MISMATCH: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_token',
    title: 'token audience is not accepted',
  },
  ERR_TOKEN_EXPIRED: { outcome: 'deny', status: 401, bearerError: 'invalid_token', title: 'token has expired' },
  ERR_TOKEN_INACTIVE: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_token',
    title: 'introspection says the token is not active (revoked, expired or unknown)',
  },
  ERR_TOKEN_NOT_YET_VALID: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_token',
    title: 'token is not valid yet (nbf)',
  },
  ERR_TOKEN_ISSUED_IN_FUTURE: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_token',
    title: 'token was issued in the future (iat)',
  },
  ERR_TOKEN_TOO_OLD: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_token',
    title: 'token is older than the maximum token age',
  },

  ERR_INSUFFICIENT_SCOPE: {
    outcome: 'deny',
    status: 403,
    bearerError: 'insufficient_scope',
    title: 'token lacks what the route requires',
  },
  ERR_ROUTE_NOT_FOUND: { outcome: 'deny', status: 403, title: 'no route matches the request and the default is deny' },
  ERR_CLIENT_NOT_ALLOWED: {
    outcome: 'deny',
    status: 403,
    title: 'the caller is not an allowed proxy (client certificate identity)',
  },

  ERR_JWKS_UNAVAILABLE: { outcome: 'error', status: 503, title: 'signing keys of the issuer are unavailable' },
  ERR_OVERLOADED: { outcome: 'error', status: 503, title: 'server is overloaded' },
  ERR_INTROSPECTION_UNAVAILABLE: {
    outcome: 'error',
    status: 503,
    title: "the issuer's introspection endpoint failed, timed out or refused claimgate's credentials",
  },
  ERR_ENRICHMENT_UNAVAILABLE: { outcome: 'error', status: 503, title: 'an enrichment lookup failed or timed out' },
  ERR_INTERNAL: { outcome: 'error', status: 500, title: 'internal error while deciding' },

  ERR_TENANT_MISMATCH: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_token',
    title: "token's tenant claim does not match the tenant its issuer names",
  },
  ERR_ROLE_MISSING: {
    outcome: 'deny',
    status: 403,
    bearerError: 'insufficient_scope',
    title: 'token lacks a role the route requires',
  },
  ERR_PERMISSION_MISSING: {
    outcome: 'deny',
    status: 403,
    bearerError: 'insufficient_scope',
    title: 'token lacks a permission the route requires',
  },
  ERR_GROUP_MISSING: {
    outcome: 'deny',
    status: 403,
    bearerError: 'insufficient_scope',
    title: 'token lacks a group the route requires',
  },
  ERR_TENANT_NOT_ALLOWED: {
    outcome: 'deny',
    status: 403,
    bearerError: 'insufficient_scope',
    title: "token's tenant is not one the route allows",
  },
  ERR_ISSUER_NOT_PERMITTED: {
    outcome: 'deny',
    status: 403,
    bearerError: 'insufficient_scope',
    title: "token's issuer is not one the route allows",
  },
  ERR_CLAIM_CONDITION_FAILED: {
    outcome: 'deny',
    status: 403,
    bearerError: 'insufficient_scope',
    title: 'a claim condition of the route does not hold',
  },
  ERR_CEL_CONDITION_FAILED: {
    outcome: 'deny',
    status: 403,
    bearerError: 'insufficient_scope',
    title: 'a CEL condition of the route does not hold',
  },
  ERR_TOKEN_NOT_BOUND: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_token',
    title: 'the route or issuer requires a sender-constrained token (DPoP or certificate-bound)',
  },
  ERR_CERTIFICATE_MISMATCH: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_token',
    title: 'the client certificate is not the one the token is bound to (cnf.x5t#S256)',
  },
  ERR_DPOP_TOKEN_NOT_BOUND: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_token',
    scheme: 'DPoP',
    title: 'token presented with the DPoP scheme has no cnf.jkt',
  },
  ERR_DPOP_KEY_MISMATCH: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_token',
    scheme: 'DPoP',
    title: 'the DPoP proof key is not the key the token is bound to (cnf.jkt)',
  },
  ERR_DPOP_PROOF_MISSING: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_dpop_proof',
    scheme: 'DPoP',
    title: 'DPoP token without a DPoP proof header',
  },
  ERR_DPOP_PROOF_MULTIPLE: {
    outcome: 'deny',
    status: 400,
    bearerError: 'invalid_request',
    scheme: 'DPoP',
    title: 'more than one DPoP proof in the request',
  },
  ERR_DPOP_PROOF_MALFORMED: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_dpop_proof',
    scheme: 'DPoP',
    title: 'DPoP proof is not a well-formed dpop+jwt',
  },
  ERR_DPOP_KEY_INVALID: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_dpop_proof',
    scheme: 'DPoP',
    title: 'DPoP proof jwk is not an acceptable public key',
  },
  ERR_DPOP_ALGORITHM_NOT_ALLOWED: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_dpop_proof',
    scheme: 'DPoP',
    title: 'DPoP proof algorithm is not allowed',
  },
  ERR_DPOP_SIGNATURE_INVALID: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_dpop_proof',
    scheme: 'DPoP',
    title: 'DPoP proof signature is invalid',
  },
  ERR_DPOP_METHOD_MISMATCH: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_dpop_proof',
    scheme: 'DPoP',
    title: 'DPoP proof htm is not the request method',
  },
  ERR_DPOP_URI_MISMATCH: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_dpop_proof',
    scheme: 'DPoP',
    title: 'DPoP proof htu is not the request URI',
  },
  ERR_DPOP_PROOF_STALE: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_dpop_proof',
    scheme: 'DPoP',
    title: 'DPoP proof iat is older than the proof window',
  },
  ERR_DPOP_PROOF_FROM_FUTURE: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_dpop_proof',
    scheme: 'DPoP',
    title: 'DPoP proof iat is in the future',
  },
  ERR_DPOP_ATH_MISMATCH: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_dpop_proof',
    scheme: 'DPoP',
    title: 'DPoP proof ath is not the hash of the access token',
  },
  ERR_DPOP_REPLAYED: {
    outcome: 'deny',
    status: 401,
    bearerError: 'invalid_dpop_proof',
    scheme: 'DPoP',
    title: 'DPoP proof jti was already used',
  },
  ERR_DPOP_NONCE_MISSING: {
    outcome: 'deny',
    status: 401,
    bearerError: 'use_dpop_nonce',
    scheme: 'DPoP',
    title: 'DPoP proof must carry a server nonce',
  },
  ERR_DPOP_NONCE_INVALID: {
    outcome: 'deny',
    status: 401,
    bearerError: 'use_dpop_nonce',
    scheme: 'DPoP',
    title: 'DPoP proof nonce is not a current server nonce',
  },
  ERR_DPOP_REPLAY_CACHE_FULL: {
    outcome: 'error',
    status: 503,
    title: 'DPoP replay cache is full of live proofs',
  },
} as const satisfies Record<string, ReasonInfo>;

export type ReasonCode = keyof typeof REASONS;

export const REASON_CODES = Object.keys(REASONS) as ReasonCode[];

export function reasonInfo(code: ReasonCode): ReasonInfo {
  return REASONS[code];
}
