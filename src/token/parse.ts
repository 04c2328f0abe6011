/**
 * Strict compact-JWS parsing (SECURITY.md principles 9 and 10). This reads hostile input before any
 * signature is checked, so it does the minimum: bound the size, split, decode canonically, parse
 * strict JSON, and refuse JOSE features claimgate does not implement.
 */
import { parseStrictJsonObject } from './strict-json.js';

/** Claims of a token, read only through own properties (see engine/claims.ts). */
export type Claims = Readonly<Record<string, unknown>>;

export interface JoseHeader {
  readonly alg: string;
  readonly kid?: string;
  readonly typ?: string;
}

export interface ParsedJws {
  readonly header: JoseHeader;
  readonly claims: Claims;
  /** `base64url(header).base64url(payload)`, the bytes the signature covers. */
  readonly signingInput: string;
  readonly signature: Buffer;
  /** The payload segment as received: base64url JSON, reusable without re-serializing. */
  readonly payloadSegment: string;
}

export type ParseFailure = 'ERR_TOKEN_TOO_LARGE' | 'ERR_TOKEN_MALFORMED' | 'ERR_TOKEN_UNSUPPORTED';
export type ParseResult = { ok: true; jws: ParsedJws } | { ok: false; reason: ParseFailure; problem: string };

/** Maximum JSON nesting in a token header or payload. */
export const MAX_JSON_DEPTH = 16;

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Canonical base64url: no padding, no stray bits (re-encoding must give the same text). */
export function decodeSegment(segment: string): Buffer | undefined {
  if (!BASE64URL.test(segment) || segment.length % 4 === 1) return undefined;
  const bytes = Buffer.from(segment, 'base64url');
  return bytes.toString('base64url') === segment ? bytes : undefined;
}

function fail(reason: ParseFailure, problem: string): ParseResult {
  return { ok: false, reason, problem };
}

/** Header parameters that change how a JWS must be processed; claimgate implements none of them. */
export const UNSUPPORTED_HEADER_PARAMS = ['crit', 'b64', 'zip', 'enc'] as const;

export function parseCompactJws(token: string, maxBytes: number): ParseResult {
  if (token.length > maxBytes) return fail('ERR_TOKEN_TOO_LARGE', `longer than ${maxBytes} bytes`);
  const first = token.indexOf('.');
  const second = first === -1 ? -1 : token.indexOf('.', first + 1);
  if (first === -1 || second === -1 || token.indexOf('.', second + 1) !== -1) {
    // Five segments is a JWE; claimgate verifies signed access tokens only.
    return token.split('.').length === 5
      ? fail('ERR_TOKEN_UNSUPPORTED', 'JWE is not accepted')
      : fail('ERR_TOKEN_MALFORMED', 'not three segments');
  }
  const headerBytes = decodeSegment(token.slice(0, first));
  const payloadSegment = token.slice(first + 1, second);
  const payloadBytes = decodeSegment(payloadSegment);
  const signature = decodeSegment(token.slice(second + 1));
  if (!headerBytes || !payloadBytes || !signature)
    return fail('ERR_TOKEN_MALFORMED', 'segment is not canonical base64url');

  const header = parseStrictJsonObject(headerBytes, MAX_JSON_DEPTH);
  if (!header.ok) return fail('ERR_TOKEN_MALFORMED', `header: ${header.problem}`);
  const h = header.value;
  if (typeof h.alg !== 'string') return fail('ERR_TOKEN_MALFORMED', 'header: alg missing');
  if (Object.hasOwn(h, 'kid') && typeof h.kid !== 'string')
    return fail('ERR_TOKEN_MALFORMED', 'header: kid is not a string');
  if (Object.hasOwn(h, 'typ') && typeof h.typ !== 'string')
    return fail('ERR_TOKEN_MALFORMED', 'header: typ is not a string');
  for (const param of UNSUPPORTED_HEADER_PARAMS) {
    if (Object.hasOwn(h, param)) return fail('ERR_TOKEN_UNSUPPORTED', `header: ${param} is not supported`);
  }
  // A nested token (cty: JWT) would be a second token inside the first. RFC 7515 §4.1.10: a cty
  // without '/' means application/<cty>, so `application/jwt` is the same media type.
  if (typeof h.cty === 'string' && /^(?:application\/)?jwt$/i.test(h.cty))
    return fail('ERR_TOKEN_UNSUPPORTED', 'nested JWT');

  const payload = parseStrictJsonObject(payloadBytes, MAX_JSON_DEPTH);
  if (!payload.ok) return fail('ERR_TOKEN_MALFORMED', `payload: ${payload.problem}`);

  return {
    ok: true,
    jws: {
      // jku, x5u, x5c and jwk are deliberately not carried over: keys never come from the token.
      header: { alg: h.alg, kid: h.kid as string | undefined, typ: h.typ as string | undefined },
      claims: payload.value,
      signingInput: token.slice(0, second),
      signature,
      payloadSegment,
    },
  };
}

/**
 * Reads `iss` with a minimal parse, to select the issuer before full work. Returns undefined for
 * anything that is not a well-formed token with a string `iss`.
 */
export function issuerOf(jws: ParsedJws): string | undefined {
  const iss = Object.hasOwn(jws.claims, 'iss') ? jws.claims.iss : undefined;
  return typeof iss === 'string' ? iss : undefined;
}
