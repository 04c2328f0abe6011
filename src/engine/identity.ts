/**
 * Identity headers: claim values handed to the upstream (SECURITY.md principle 13).
 *
 * claimgate owns every configured header name (and `payload_header`). For each answer, every owned
 * name lands in exactly one of `set` (claimgate's value, sent with OVERWRITE_IF_EXISTS_OR_ADD so it
 * replaces a client copy) or `remove` (so a client copy never reaches the upstream). Never both:
 * Envoy applies `headers_to_remove` after setting headers, so a header in both would be lost.
 *
 * Conversion follows the one rule for claim values (engine/claim-values.ts, P17), so a header never
 * carries what a route check would refuse to read: strings as is; numbers via String(), or the token's
 * own text for numbers a double cannot hold exactly; an array of scalars joined with `array_separator`
 * in the token's order; objects and other arrays as JSON; null/absent not set. Not forwarded (the name
 * goes to `remove`): unusable values (a control character such as TAB, edge whitespace, the separator
 * inside a string or an element, an ambiguous dotted path), JSON holding an inexact number, values that
 * are empty or exceed `max_header_bytes` in UTF-8, and for the `scope`/`scp` claims anything outside the
 * RFC 6749 §3.3 grammar (scope-tokens separated by single spaces). `principal:` headers go through the
 * same conversion; the principal itself is read by the same rule (engine/principal.ts), so an
 * unreadable principal field is empty and its header removed.
 */
import type { Config } from '../config/schema.js';
import { InexactNumber } from '../token/strict-json.js';
import { readClaimValue, scalarText, SCOPE_STRING, SCOPE_TOKEN } from './claim-values.js';
import { compileClaimPath, type Claims } from './claims.js';
import { principalField, type Principal } from './principal.js';
import type { HeaderToSet } from './types.js';

export interface IdentityHeaderPlan {
  readonly set: HeaderToSet[];
  readonly remove: string[];
}

export interface CompiledIdentity {
  /** Every header name claimgate owns, in config order (identity headers, then `payload_header`). */
  readonly owned: readonly string[];
  /**
   * Headers for an allowed request carrying a verified token.
   * @param claims the verified payload
   * @param tokenCarrier lower-case name of the header that carried the token; removed when
   *   `strip_token` is on (unless it is itself an owned header, which is then already handled)
   * @param payloadSegment the token's verified payload segment (base64url JSON), forwarded as is in
   *   `payload_header` instead of re-serializing `claims`
   * @param principal the token's principal, for `principal:` headers (absent: those headers are removed)
   */
  build(claims: Claims, tokenCarrier?: string, payloadSegment?: string, principal?: Principal): IdentityHeaderPlan;
  /** All owned names: what an answer without a verified token (public route) removes. */
  readonly removeAll: readonly string[];
}

type UpstreamConfig = Config['upstream'];

interface HeaderSource {
  readonly name: string;
  /** A raw claim (`claim:`) or a principal field (`principal:`). */
  readonly read: (claims: Claims, principal: Principal | undefined) => unknown;
  /** The claim is `scope` or `scp` (or the principal's scopes): its strings must also follow the RFC 6749 scope grammar. */
  readonly scopes: boolean;
}

const SCOPE_CLAIMS = new Set(['scope', 'scp']);

/** Compiles `upstream:` once into the per-request header builder. */
export function compileIdentityHeaders(upstream: UpstreamConfig): CompiledIdentity {
  const sources: readonly HeaderSource[] = upstream.headers.map((h): HeaderSource => {
    if ('principal' in h) {
      const field = h.principal;
      return {
        name: h.name,
        read: (_claims, principal) => (principal === undefined ? undefined : principalField(principal, field)),
        scopes: field === 'scopes',
      };
    }
    const readClaim = compileClaimPath(h.claim);
    return {
      name: h.name,
      read: (claims) => readClaim(claims),
      scopes: SCOPE_CLAIMS.has(typeof h.claim === 'string' ? h.claim : h.claim.length === 1 ? h.claim[0]! : ''),
    };
  });
  const payloadHeader = upstream.payload_header;
  const owned = Object.freeze([...sources.map((s) => s.name), ...(payloadHeader === undefined ? [] : [payloadHeader])]);
  const ownedSet = new Set(owned);
  const { max_header_bytes: maxBytes, array_separator: separator, strip_token: stripToken } = upstream;

  const build = (
    claims: Claims,
    tokenCarrier?: string,
    payloadSegment?: string,
    principal?: Principal,
  ): IdentityHeaderPlan => {
    const set: HeaderToSet[] = [];
    const remove: string[] = [];
    for (const source of sources) {
      const value = claimToHeaderValue(source.read(claims, principal), separator, maxBytes, source.scopes);
      if (value === undefined) remove.push(source.name);
      else set.push({ name: source.name, value });
    }
    if (payloadHeader !== undefined) {
      const value = payloadValue(claims, payloadSegment, maxBytes);
      if (value === undefined) remove.push(payloadHeader);
      else set.push({ name: payloadHeader, value });
    }
    // A cookie header carries the client's other cookies too, so it is never stripped (documented).
    if (stripToken && tokenCarrier !== undefined && tokenCarrier.toLowerCase() !== 'cookie') {
      const carrier = tokenCarrier.toLowerCase();
      if (!ownedSet.has(carrier)) remove.push(carrier);
    }
    return { set, remove };
  };

  return Object.freeze({ owned, build, removeAll: owned });
}

/** The header value for a claim, or undefined when it must not be forwarded. */
export function claimToHeaderValue(
  raw: unknown,
  separator: string,
  maxBytes: number,
  scopes = false,
): string | undefined {
  const value = readClaimValue(raw, separator);
  let text: string | undefined;
  switch (value.kind) {
    case 'scalar':
      if (scopes && typeof value.value === 'string' && !SCOPE_STRING.test(value.value)) return undefined;
      text = scalarText(value.value);
      break;
    case 'list':
      if (scopes && !value.values.every((e) => typeof e === 'string' && SCOPE_TOKEN.test(e))) return undefined;
      text = value.values.map(scalarText).join(separator);
      break;
    case 'structured':
      text = safeJson(value.value);
      break;
    default:
      return undefined;
  }
  return text !== undefined && isSafeHeaderValue(text, maxBytes) ? text : undefined;
}

function payloadValue(claims: Claims, payloadSegment: string | undefined, maxBytes: number): string | undefined {
  let value = payloadSegment;
  if (value === undefined) {
    const json = safeJson(claims);
    if (json === undefined) return undefined;
    value = Buffer.from(json, 'utf8').toString('base64url');
  }
  return isSafeHeaderValue(value, maxBytes) && BASE64URL.test(value) ? value : undefined;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** JSON text of a claim, or undefined for pathological depth or an inexact number (it would be rounded). */
function safeJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value, (_key, v: unknown) => {
      if (v instanceof InexactNumber) throw new RangeError('inexact number');
      return v;
    });
  } catch {
    return undefined;
  }
}

/**
 * Whether a string may be sent as a header value: non-empty, no control characters (except tab
 * inside), no lone surrogates, no leading/trailing space or tab, at most `maxBytes` UTF-8 bytes.
 * One pass, no allocation; stops as soon as the budget is exceeded.
 */
export function isSafeHeaderValue(value: string, maxBytes: number): boolean {
  const n = value.length;
  // Each UTF-16 unit is at least one UTF-8 byte, so a long string fails before any scan.
  if (n === 0 || n > maxBytes) return false;
  if (isEdgeWhitespace(value.charCodeAt(0)) || isEdgeWhitespace(value.charCodeAt(n - 1))) return false;
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x80) {
      if ((c < 0x20 && c !== 0x09) || c === 0x7f) return false;
      bytes += 1;
    } else if (c < 0xa0) {
      return false; // C1 controls (NEL, …)
    } else if (c < 0x800) {
      bytes += 2;
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
      bytes += 4;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return false;
    } else {
      bytes += 3;
    }
    if (bytes > maxBytes) return false;
  }
  return true;
}

function isEdgeWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09;
}
