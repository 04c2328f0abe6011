/**
 * How a denial looks on the wire, shared by every adapter: the RFC 6750 challenge, the RFC 9457
 * problem body and the reason header. Adapters only move these into their own message types.
 */
import { REASONS, reasonInfo, type ReasonCode } from './reasons.js';
import type { DenyDecision, HeaderToSet } from './types.js';

/** Response header that carries the stable reason code to the client (and to proxy logs). */
export const REASON_HEADER = 'x-claimgate-reason';

/**
 * `WWW-Authenticate` for a reason, or undefined when the answer has no challenge (5xx, route denials).
 * RFC 6750 §3: no error code when the request carried no credentials; `scope` only with insufficient_scope.
 */
export function bearerChallenge(
  realm: string,
  reason: ReasonCode,
  requiredScopes: readonly string[] = [],
  resourceMetadataUrl?: string,
): string | undefined {
  const info = reasonInfo(reason);
  if (info.outcome !== 'deny' || (info.status !== 401 && info.status !== 403 && info.status !== 400)) return undefined;
  // RFC 9728 §5.1: where a client finds what this resource accepts.
  const metadata = resourceMetadataUrl === undefined ? '' : `, resource_metadata="${resourceMetadataUrl}"`;
  if (reason === 'ERR_TOKEN_MISSING') return `Bearer realm="${realm}"${metadata}`;
  if (info.bearerError === undefined) return undefined;
  if (info.scheme === 'DPoP') return undefined;
  let value = `Bearer realm="${realm}", error="${info.bearerError}", error_description="${info.title}"`;
  if (info.bearerError === 'insufficient_scope' && requiredScopes.length > 0)
    value += `, scope="${requiredScopes.join(' ')}"`;
  return value + metadata;
}

/**
 * RFC 9449 §7.1 challenge for a DPoP failure: `DPoP realm, error, error_description, algs` (the
 * algorithms a proof may use, space-separated, as §7.1 defines `algs`).
 */
export function dpopChallenge(realm: string, reason: ReasonCode, algs: string): string {
  const info = reasonInfo(reason);
  const error =
    info.bearerError === undefined ? '' : `, error="${info.bearerError}", error_description="${info.title}"`;
  return `DPoP realm="${realm}"${error}, algs="${algs}"`;
}

/**
 * The denial (or error answer) for a reason, from the catalogue: the one place that turns a reason into
 * outcome, status and challenge. Without a realm there is no challenge (answers that are not about the
 * client's credentials).
 */
export function denyDecision(
  reason: ReasonCode,
  realm?: string,
  requiredScopes: readonly string[] = [],
  extra: Partial<DenyDecision> = {},
  resourceMetadataUrl?: string,
): DenyDecision {
  const info = reasonInfo(reason);
  return {
    outcome: info.outcome === 'error' ? 'error' : 'deny',
    reason,
    status: info.status,
    challenge: realm === undefined ? undefined : bearerChallenge(realm, reason, requiredScopes, resourceMetadataUrl),
    ...extra,
  };
}

/** RFC 9457 problem details; only catalogue text, never anything taken from the request. */
export function problemBody(decision: DenyDecision): string {
  if (decision.document !== undefined) return decision.document.body;
  const info = REASONS[decision.reason];
  return JSON.stringify({ type: 'about:blank', title: info.title, status: decision.status, code: decision.reason });
}

/** Headers every denial carries to the client, in a stable order. */
export function denialHeaders(decision: DenyDecision): HeaderToSet[] {
  const headers: HeaderToSet[] = [];
  if (decision.challenge !== undefined) headers.push({ name: 'www-authenticate', value: decision.challenge });
  if (decision.responseHeaders !== undefined) headers.push(...decision.responseHeaders);
  headers.push({ name: 'content-type', value: decision.document?.contentType ?? 'application/problem+json' });
  // Metadata changes only with the config; a denial is about one request and must not be reused.
  headers.push({ name: 'cache-control', value: decision.document === undefined ? 'no-store' : 'max-age=300' });
  headers.push({ name: REASON_HEADER, value: decision.reason });
  return headers;
}
