/**
 * One rule for claim values, whether a route check compares them or an identity header forwards them
 * (SECURITY.md P17; docs/configuration.md, "Claim values"). A value is read into one of:
 *
 * - `absent`: not in the token (or null);
 * - `scalar` / `list`: a string, number or boolean, or an array of them, each *usable*;
 * - `structured`: an object, or an array holding objects/arrays/null (forwarded as JSON, never equal
 *   to a configured scalar);
 * - `unusable`: present, but a check cannot read it the way an upstream would, so it is neither
 *   compared nor forwarded: a string (alone or in an array) with a control character (TAB included),
 *   a lone surrogate, whitespace at either edge, or the join separator inside (`"user,admin"` would read
 *   as two roles upstream); an array with such an element; an ambiguous dotted path (UNREADABLE).
 *
 * Numbers a double cannot hold exactly (InexactNumber) are usable: forwarded as the token's text, equal
 * to no configured value (the config refuses values that are not exact themselves).
 */
import { InexactNumber } from '../token/strict-json.js';
import { UNREADABLE } from './claims.js';

export type ClaimScalar = string | number | boolean | InexactNumber;

export type ClaimValue =
  | { readonly kind: 'absent' }
  | { readonly kind: 'unusable' }
  | { readonly kind: 'scalar'; readonly value: ClaimScalar }
  | { readonly kind: 'list'; readonly values: readonly ClaimScalar[] }
  | { readonly kind: 'structured'; readonly value: object };

const ABSENT: ClaimValue = Object.freeze({ kind: 'absent' });
const UNUSABLE: ClaimValue = Object.freeze({ kind: 'unusable' });

/** Reads a raw claim (as a ClaimReader returns it) under the one rule. `separator`: `upstream.array_separator`. */
export function readClaimValue(raw: unknown, separator: string): ClaimValue {
  if (raw === undefined || raw === null) return ABSENT;
  if (raw === UNREADABLE) return UNUSABLE;
  if (isScalar(raw)) return isUsableScalar(raw, separator) ? { kind: 'scalar', value: raw } : UNUSABLE;
  if (Array.isArray(raw)) {
    if (!raw.every(isScalar)) return { kind: 'structured', value: raw };
    return raw.every((e) => isUsableScalar(e, separator)) ? { kind: 'list', values: raw } : UNUSABLE;
  }
  return typeof raw === 'object' ? { kind: 'structured', value: raw } : UNUSABLE;
}

export function isScalar(v: unknown): v is ClaimScalar {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v instanceof InexactNumber;
}

function isUsableScalar(v: ClaimScalar, separator: string): boolean {
  return typeof v !== 'string' || isUsableString(v, separator);
}

/**
 * A string a check may compare and a header may carry: no control characters (C0 including TAB, DEL,
 * C1), no lone surrogates, no space or TAB at either edge, no `separator` inside. Empty is usable for
 * checks (headers never carry an empty value).
 */
export function isUsableString(s: string, separator: string): boolean {
  const n = s.length;
  if (n === 0) return true;
  if (s.charCodeAt(0) === 0x20 || s.charCodeAt(n - 1) === 0x20) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c < 0xa0)) return false;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return false;
  }
  return !s.includes(separator);
}

/** The text a header carries for a usable scalar: strings as is, numbers as the token wrote inexact ones. */
export function scalarText(v: ClaimScalar): string {
  return v instanceof InexactNumber ? v.text : String(v);
}

/** The JSON type of a scalar, for type-strict comparisons (an InexactNumber is a number). */
export function scalarType(v: ClaimScalar): 'string' | 'number' | 'boolean' {
  return v instanceof InexactNumber ? 'number' : (typeof v as 'string' | 'number' | 'boolean');
}

/**
 * RFC 6749 §3.3 (and RFC 9068 §2.2.3): `scope = scope-token *( SP scope-token )`, scope-token =
 * 1*( %x21 / %x23-5B / %x5D-7E ). Single spaces only: a TAB, a double space or an edge space makes the
 * whole string unusable rather than guessed at.
 */
export const SCOPE_STRING = /^[\x21\x23-\x5b\x5d-\x7e]+(?: [\x21\x23-\x5b\x5d-\x7e]+)*$/;
export const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
