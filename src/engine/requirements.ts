/**
 * Route requirements, compiled once from the validated config into a tree of closures.
 *
 * Semantics (see docs/routing.md, "Requirement predicates"):
 * - Values are compared exactly and case-sensitively; a claim of the wrong JSON type never matches
 *   (no coercion, no throwing).
 * - `scope`: the `scope` claim, a space-delimited string (RFC 6749 §3.3, RFC 9068). When the token has
 *   no `scope` claim, `scp` is read instead: an array of strings (Okta) or a space-delimited string
 *   (Entra ID). A present `scope` is authoritative, even when it has the wrong type.
 * - `permission`: Auth0's `permissions` array; `role`: the issuer's `roles_claim` (array or string);
 *   `issuer`: the configured issuer name. A list in the config means all are required (`issuer`: one of).
 * - `claim`: `equals`/`one_of` match a scalar, or an array containing a matching element; `prefix` and
 *   `regex` test string claims only; `exists` treats null like absent, so `exists: false` is exactly
 *   the negation of `exists: true`.
 * - `missingScopes` lists the required scopes that were not granted, for the RFC 6750 `scope=`
 *   parameter of the 403 challenge; `any` reports the union of its children's, `not` none.
 */
import type { ClaimCondition, Requirement } from '../config/schema.js';
import { compileClaimPath, type ClaimReader, type Claims } from './claims.js';

/** The verified token as requirements see it. */
export interface VerifiedToken {
  readonly claims: Claims;
  /** Configured issuer name (not the `iss` URL). */
  readonly issuer: string;
}

/** `missingScopes` is read-only: the empty list is a shared frozen array. */
export type RequirementResult =
  { readonly ok: true } | { readonly ok: false; readonly missingScopes: readonly string[] };

/** A compiled requirement tree. Pure and deterministic. */
export type RequirementEvaluator = (token: VerifiedToken) => RequirementResult;

/** What the compiler needs from the rest of the config. */
export interface RequirementContext {
  /** The `roles_claim` of the configured issuer with this name, or undefined for an unknown name. */
  rolesClaimFor(issuerName: string): string | readonly string[] | undefined;
}

/** Longest string a `regex` condition is run against; longer values do not match (bounds regex cost). */
export const MAX_REGEX_INPUT_LENGTH = 4096;

const OK: RequirementResult = Object.freeze({ ok: true });
const NO_SCOPE_MISSING: RequirementResult = Object.freeze({ ok: false, missingScopes: Object.freeze([]) });

/** A leaf test, before results are shaped. */
type Predicate = (token: VerifiedToken) => boolean;

/**
 * Compiles a route's requirement tree. `undefined` (no `require:`) compiles to "any verified token".
 * Throws on a config the schema accepts but that could never be satisfied as written (a scope
 * containing a space, an empty claim name), so the mistake surfaces at startup.
 */
export function compileRequirement(req: Requirement | undefined, ctx: RequirementContext): RequirementEvaluator {
  if (req === undefined) return () => OK;
  return compileNode(req, new RolesReaders(ctx));
}

function compileNode(req: Requirement, roles: RolesReaders): RequirementEvaluator {
  if ('all' in req) return compileAll(req.all.map((r) => compileNode(r, roles)));
  if ('any' in req) return compileAny(req.any.map((r) => compileNode(r, roles)));
  if ('not' in req) {
    const inner = compileNode(req.not, roles);
    return (token) => (inner(token).ok ? NO_SCOPE_MISSING : OK);
  }
  if ('scope' in req) return compileScope(listOf(req.scope));
  if ('permission' in req) return fromPredicate(compilePermission(listOf(req.permission)));
  if ('role' in req) return fromPredicate(compileRole(listOf(req.role), roles));
  if ('issuer' in req) {
    const allowed = new Set(listOf(req.issuer));
    return fromPredicate((token) => allowed.has(token.issuer));
  }
  if ('claim' in req) return fromPredicate(compileClaimCondition(req.claim));
  throw new Error(`unknown requirement ${JSON.stringify(Object.keys(req))}`);
}

function listOf(value: string | readonly string[]): readonly string[] {
  return typeof value === 'string' ? [value] : value;
}

function fromPredicate(test: Predicate): RequirementEvaluator {
  return (token) => (test(token) ? OK : NO_SCOPE_MISSING);
}

/** Every child is evaluated even after a failure, so the 403 names every missing scope. */
function compileAll(children: readonly RequirementEvaluator[]): RequirementEvaluator {
  return (token) => {
    let missing: string[] | undefined;
    for (const child of children) {
      const result = child(token);
      if (!result.ok) missing = mergeScopes(missing, result.missingScopes);
    }
    return missing === undefined ? OK : missing.length === 0 ? NO_SCOPE_MISSING : { ok: false, missingScopes: missing };
  };
}

function compileAny(children: readonly RequirementEvaluator[]): RequirementEvaluator {
  return (token) => {
    let missing: string[] | undefined;
    for (const child of children) {
      const result = child(token);
      if (result.ok) return OK;
      missing = mergeScopes(missing, result.missingScopes);
    }
    return missing === undefined || missing.length === 0 ? NO_SCOPE_MISSING : { ok: false, missingScopes: missing };
  };
}

/** Union preserving first-seen order (deterministic challenges). Allocates only on the deny path. */
function mergeScopes(into: string[] | undefined, add: readonly string[]): string[] {
  const out = into ?? [];
  for (const scope of add) if (!out.includes(scope)) out.push(scope);
  return out;
}

// ---- scope -------------------------------------------------------------------------------------

function compileScope(required: readonly string[]): RequirementEvaluator {
  for (const scope of required) {
    if (scope.includes(' ')) throw new Error(`scope ${JSON.stringify(scope)} contains a space; list scopes separately`);
  }
  return (token) => {
    const granted = grantedScopes(token.claims);
    let missing: string[] | undefined;
    for (const scope of required) {
      if (!hasScope(granted, scope)) (missing ??= []).push(scope);
    }
    return missing === undefined ? OK : { ok: false, missingScopes: missing };
  };
}

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * The token's granted scopes: `scope` when present (authoritative; RFC 9068 makes it a string, so any
 * other type grants nothing), else `scp` (string or array).
 */
function grantedScopes(claims: Claims): unknown {
  if (hasOwn.call(claims, 'scope')) return typeof claims['scope'] === 'string' ? claims['scope'] : undefined;
  return hasOwn.call(claims, 'scp') ? claims['scp'] : undefined;
}

function hasScope(granted: unknown, scope: string): boolean {
  if (typeof granted === 'string') return containsSpaceDelimitedToken(granted, scope);
  if (Array.isArray(granted)) return granted.includes(scope);
  return false;
}

/**
 * Whether `list`, split on single spaces, contains `token` as a whole element; without splitting
 * (no allocation). `orders` is not found in `orders:read`; `a` is found in `a  b`.
 */
export function containsSpaceDelimitedToken(list: string, token: string): boolean {
  if (token.length === 0) return false;
  let from = 0;
  for (;;) {
    const at = list.indexOf(token, from);
    if (at < 0) return false;
    const end = at + token.length;
    if ((at === 0 || list.charCodeAt(at - 1) === 0x20) && (end === list.length || list.charCodeAt(end) === 0x20))
      return true;
    from = at + 1;
  }
}

// ---- permission and role -----------------------------------------------------------------------

const readPermissions = compileClaimPath(['permissions']);

function compilePermission(required: readonly string[]): Predicate {
  return (token) => {
    const granted = readPermissions(token.claims);
    return Array.isArray(granted) && required.every((p) => granted.includes(p));
  };
}

function compileRole(required: readonly string[], roles: RolesReaders): Predicate {
  return (token) => {
    const read = roles.readerFor(token.issuer);
    if (read === undefined) return false;
    const granted = read(token.claims);
    if (typeof granted === 'string') return required.every((r) => r === granted);
    return Array.isArray(granted) && required.every((r) => granted.includes(r));
  };
}

/**
 * Per-issuer readers for the roles claim. Issuer names are a closed, configured set, so each reader
 * is compiled on first use and kept; unknown names are not cached (they cannot grow the map).
 */
class RolesReaders {
  private readonly readers = new Map<string, ClaimReader>();
  constructor(private readonly ctx: RequirementContext) {}

  readerFor(issuer: string): ClaimReader | undefined {
    let reader = this.readers.get(issuer);
    if (reader === undefined) {
      const path = this.ctx.rolesClaimFor(issuer);
      if (path === undefined) return undefined;
      reader = compileClaimPath(path);
      this.readers.set(issuer, reader);
    }
    return reader;
  }
}

// ---- claim -------------------------------------------------------------------------------------

type Scalar = string | number | boolean;

function compileClaimCondition(cond: ClaimCondition): Predicate {
  const read = compileClaimPath(cond.path);
  const test = compileValueTest(cond);
  return (token) => test(read(token.claims));
}

function compileValueTest(cond: ClaimCondition): (value: unknown) => boolean {
  if (cond.equals !== undefined) {
    const expected: Scalar = cond.equals;
    return (v) => v === expected || (Array.isArray(v) && v.includes(expected));
  }
  if (cond.one_of !== undefined) {
    const allowed = new Set<unknown>(cond.one_of);
    return (v) => (isScalar(v) ? allowed.has(v) : Array.isArray(v) && v.some((e) => isScalar(e) && allowed.has(e)));
  }
  if (cond.prefix !== undefined) {
    const prefix = cond.prefix;
    return (v) => typeof v === 'string' && v.startsWith(prefix);
  }
  if (cond.regex !== undefined) {
    // No `g`/`y` flag: `test` keeps no state between requests. Anchoring is the author's job.
    const re = new RegExp(cond.regex, 'u');
    return (v) => typeof v === 'string' && v.length <= MAX_REGEX_INPUT_LENGTH && re.test(v);
  }
  if (cond.exists !== undefined) {
    const wanted = cond.exists;
    return (v) => (v !== undefined && v !== null) === wanted;
  }
  throw new Error('claim condition must set exactly one of equals, one_of, prefix, regex, exists');
}

function isScalar(v: unknown): v is Scalar {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}
