/**
 * What CEL conditions see of the principal and the claims: the one rule for claim values
 * (engine/claim-values.ts, SECURITY.md P17) holds through CEL too. A value the rule calls unusable (a
 * string with a control character, whitespace at an edge or the join separator inside, an array with
 * such an element), a number a double cannot hold exactly (InexactNumber: as a CEL double it would be
 * another number), and a principal field the principal marks unreadable, are replaced by a value CEL
 * cannot operate on: any expression that touches it ends in an evaluation error, which the condition
 * reports as "cannot tell" (fails, also under `not`). Expressions that do not touch it are unaffected.
 */
import { isUsableString } from '../engine/claim-values.js';
import type { Claims } from '../engine/claims.js';
import type { Principal } from '../engine/principal.js';
import { InexactNumber } from '../token/strict-json.js';

/** Not a CEL type: reading it raises an evaluation error (cel-js: "Unsupported type"). */
class CannotTell {}
const CANNOT_TELL = Object.freeze(new CannotTell());

/** Per separator, per claims object (verified tokens are cached, so a cached token is read once). */
const claimViews = new Map<string, WeakMap<object, Record<string, unknown>>>();

export function celClaims(claims: Claims, separator: string): Record<string, unknown> {
  let views = claimViews.get(separator);
  if (views === undefined) claimViews.set(separator, (views = new WeakMap()));
  let view = views.get(claims);
  if (view === undefined) views.set(claims, (view = readObject(claims, separator)));
  return view;
}

function readObject(value: object, separator: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) out[key] = readValue(v, separator);
  return out;
}

function readValue(v: unknown, separator: string): unknown {
  if (v === null || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : CANNOT_TELL;
  if (typeof v === 'string') return isUsableString(v, separator) ? v : CANNOT_TELL;
  if (v instanceof InexactNumber) return CANNOT_TELL;
  if (Array.isArray(v)) {
    const elements = v.map((e) => readValue(e, separator));
    // Like a list claim: one unusable element makes the whole list unusable.
    return elements.includes(CANNOT_TELL) ? CANNOT_TELL : elements;
  }
  if (typeof v === 'object') return readObject(v, separator);
  return CANNOT_TELL;
}

const principalViews = new WeakMap<Principal, object>();

/** The principal with its unreadable fields made unreadable to CEL too (they are empty in the principal). */
export function celPrincipal(principal: Principal): object {
  if (principal.unreadable === undefined || principal.unreadable.length === 0) return principal;
  let view = principalViews.get(principal);
  if (view === undefined) {
    const copy: Record<string, unknown> = { ...principal };
    for (const field of principal.unreadable) copy[field] = CANNOT_TELL;
    principalViews.set(principal, (view = copy));
  }
  return view;
}
