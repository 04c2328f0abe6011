/**
 * The plain shapes the decision engine speaks. Protocol adapters (Envoy gRPC, HTTP front doors)
 * convert to a RequestView and from a Decision; no protobuf or HTTP type crosses into the engine.
 */
import type { ReasonCode } from './reasons.js';

/** What the engine needs to know about one request, protocol-neutral. */
export interface RequestView {
  /** Upper-case HTTP method. */
  readonly method: string;
  /** Host without port, lower case (from `:authority` / `Host`), as parsed by routes/authority.ts. */
  readonly host: string;
  /**
   * The authority was not exactly one host with an optional port (userinfo, extra colons, empty, …):
   * the engine refuses the request (400 `ERR_HOST_INVALID`) before any host-scoped route is skipped.
   */
  readonly hostInvalid?: boolean;
  /** Raw request target as the proxy saw it: path plus query string. */
  readonly path: string;
  /** Lower-case header name → every value received for it, in order (duplicates kept apart). */
  readonly headers: ReadonlyMap<string, readonly string[]>;
  /**
   * URI scheme the client used (`https`), as the adapter learnt it: Envoy's `scheme` attribute (from
   * its `x-forwarded-proto`), or `X-Forwarded-Proto` in the HTTP doors. Used for DPoP `htu`.
   */
  readonly scheme?: string;
  /** The authority as received (`api.example.com:8443`), port kept; used for DPoP `htu`. */
  readonly authority?: string;
  /** Address of the peer that sent this check to claimgate (Envoy, or the forward-auth proxy). */
  readonly peerAddress?: string;
  /** Envoy's `attributes.source.certificate`: the downstream client certificate, URL-encoded PEM. */
  readonly envoyPeerCertificate?: string;
  /** DER client certificate of the TLS connection to claimgate's HTTP door (mutual TLS). */
  readonly tlsPeerCertificate?: Uint8Array;
  /** Correlation id for logs (`x-request-id`), when present. */
  readonly requestId?: string;
  /**
   * Some header lines were not read (over the adapter's count or size caps). The upstream still
   * receives them, and one may be a second credential, so no token is taken from such a request.
   */
  readonly incomplete?: boolean;
}

/** One header the upstream must receive with exactly this value (overwriting any client copy). */
export interface HeaderToSet {
  readonly name: string;
  readonly value: string;
}

export interface AllowDecision {
  readonly outcome: 'allow';
  readonly reason: ReasonCode;
  readonly route: string;
  /** Configured issuer name, when a token was verified. */
  readonly issuer?: string;
  /** `sub` of the verified token, for decision logs. */
  readonly subject?: string;
  /** Identity headers to set on the upstream request. */
  readonly headersToSet: readonly HeaderToSet[];
  /** Headers to strip from the upstream request (owned headers not set, the token's carrier). */
  readonly headersToRemove: readonly string[];
  /** Whole-config shadow mode: the reason the policy would have refused this request with. */
  readonly wouldDeny?: ReasonCode;
  /** How the token was bound to its sender, for metrics (absent on public routes). */
  readonly binding?: BindingKind;
}

/** `bearer`: an unbound token; `dpop`: RFC 9449 proof verified; `mtls`: RFC 8705 certificate matched. */
export type BindingKind = 'bearer' | 'dpop' | 'mtls';

export interface DenyDecision {
  readonly outcome: 'deny' | 'error';
  readonly reason: ReasonCode;
  readonly status: number;
  /** Full `WWW-Authenticate` value, when the answer carries a challenge. */
  readonly challenge?: string;
  readonly route?: string;
  readonly issuer?: string;
  readonly subject?: string;
  /** Where in the route's `require` tree the first failed requirement is (`all[1].role`); 403s only. */
  readonly requirement?: string;
  /** Extra answer headers (`DPoP-Nonce` with `use_dpop_nonce`). */
  readonly responseHeaders?: readonly HeaderToSet[];
  /** The binding being checked when a sender-constraint check failed, for metrics. */
  readonly binding?: BindingKind;
  /**
   * A document claimgate answers the client with itself instead of a problem body (RFC 9728 metadata,
   * status 200). HTTP doors that read 2xx as "allow" pass the request on, stripping `headersToRemove`.
   */
  readonly document?: { readonly contentType: string; readonly body: string };
  readonly headersToRemove?: readonly string[];
}

export type Decision = AllowDecision | DenyDecision;
