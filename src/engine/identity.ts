/**
 * Identity headers: claim values handed to the upstream (SECURITY.md principle 13).
 *
 * claimgate owns every configured header name (and `payload_header`). For each answer, every owned
 * name lands in exactly one of `set` (claimgate's value, sent with OVERWRITE_IF_EXISTS_OR_ADD so it
 * replaces a client copy) or `remove` (so a client copy never reaches the upstream). Never both:
 * Envoy applies `headers_to_remove` after setting headers, so a header in both would be lost.
 *
 * Conversion: string as is; number/boolean via String(); an array of scalars joined with
 * `array_separator` in the token's order; objects and other arrays as JSON; null/absent not set.
 * A value is not forwarded (it goes to `remove`) when it is empty, has control characters (C0 except
 * tab, DEL, C1), lone surrogates, leading or trailing whitespace (parsers trim it, so ` admin@x.com`
 * would arrive as `admin@x.com`), exceeds `max_header_bytes` in UTF-8, or is a joined array with an
 * element that contains the separator (`["a,b"]` would read as two values upstream) or has
 * whitespace at its edges (list parsers trim elements too).
 */
import type { Config } from '../config/schema.js';
import { compileClaimPath, type Claims } from '../token/claims.js';
import { principalField, type Principal } from '../token/principal.js';
import type { HeaderToSet } from '../core/types.js';

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
}

/** Compiles `upstream:` once into the per-request header builder. */
export function compileIdentityHeaders(upstream: UpstreamConfig): CompiledIdentity {
  const sources: readonly HeaderSource[] = upstream.headers.map((h): HeaderSource => {
    if ('principal' in h) {
      const field = h.principal;
      return {
        name: h.name,
        read: (_claims, principal) => (principal === undefined ? undefined : principalField(principal, field)),
      };
    }
    const readClaim = compileClaimPath(h.claim);
    return { name: h.name, read: (claims) => readClaim(claims) };
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
      const value = claimToHeaderValue(source.read(claims, principal), separator, maxBytes);
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
export function claimToHeaderValue(value: unknown, separator: string, maxBytes: number): string | undefined {
  let text: string | undefined;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean') text = String(value);
  else if (Array.isArray(value) && value.every(isScalar)) {
    if (value.some((e) => typeof e === 'string' && !isJoinableElement(e, separator))) return undefined;
    text = value.join(separator);
  } else if (typeof value === 'object' && value !== null) text = safeJson(value);
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

/**
 * A separator inside an element would make one value read as several upstream, and whitespace at an
 * element's edge would be trimmed by list parsers (` admin` arriving as `admin`).
 */
function isJoinableElement(element: string, separator: string): boolean {
  const n = element.length;
  return (
    !element.includes(separator) &&
    (n === 0 || (!isEdgeWhitespace(element.charCodeAt(0)) && !isEdgeWhitespace(element.charCodeAt(n - 1))))
  );
}

function isScalar(v: unknown): v is string | number | boolean {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

function safeJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined; // pathological depth: not forwarded rather than thrown
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
