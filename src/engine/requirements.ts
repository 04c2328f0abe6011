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
 * - Claim values are read by the one rule of engine/claim-values.ts (the same one identity headers use).
 *   A leaf gives true, false, or "cannot tell" when the claim is there but unusable (a control
 *   character, edge whitespace, the separator inside), of another JSON type than the check compares
 *   (`"true"` for `equals: true`), or behind an ambiguous dotted path. "Cannot tell" fails the route and
 *   stays a failure under `not` (three-valued logic: `not` of it is still "cannot tell"), so a value the
 *   check cannot read never lets a request through.
 * - `missingScopes` lists the required scopes that were not granted, for the RFC 6750 `scope=`
 *   parameter of the 403 challenge; `any` reports the union of its children's, `not` none.
 */
import type { ClaimCondition, Requirement } from '../config/schema.js';
import {
  readClaimValue,
  scalarType,
  SCOPE_STRING,
  SCOPE_TOKEN,
  type ClaimScalar,
  type ClaimValue,
} from './claim-values.js';
import { compileClaimPath, type ClaimReader, type Claims } from './claims.js';

/** The verified token as requirements see it. */
export interface VerifiedToken {
  readonly claims: Claims;
  /** Configured issuer name (not the `iss` URL). */
  readonly issuer: string;
}

/**
 * `missingScopes` is read-only: the empty list is a shared frozen array. `undecided` marks a failure
 * that is "cannot tell" rather than "no": `not` keeps it a failure.
 */
export type RequirementResult =
  { readonly ok: true } | { readonly ok: false; readonly missingScopes: readonly string[]; readonly undecided?: true };

/** A compiled requirement tree. Pure and deterministic. */
export type RequirementEvaluator = (token: VerifiedToken) => RequirementResult;

/** What the compiler needs from the rest of the config. */
export interface RequirementContext {
  /** The `roles_claim` of the configured issuer with this name, or undefined for an unknown name. */
  rolesClaimFor(issuerName: string): string | readonly string[] | undefined;
  /** `upstream.array_separator`: a string holding it is unusable (claim-values.ts). Default `,`. */
  readonly separator?: string;
}

/** Longest string a `regex` condition is run against; longer values do not match (bounds regex cost). */
export const MAX_REGEX_INPUT_LENGTH = 4096;

const OK: RequirementResult = Object.freeze({ ok: true });
const NO_SCOPE_MISSING: RequirementResult = Object.freeze({ ok: false, missingScopes: Object.freeze([]) });
const UNDECIDED: RequirementResult = Object.freeze({ ok: false, missingScopes: Object.freeze([]), undecided: true });

/** A leaf's answer: yes, no, or cannot tell (fails closed, also under `not`). */
type Verdict = boolean | 'undecided';

/** A leaf test, before results are shaped. */
type Predicate = (token: VerifiedToken) => Verdict;

/**
 * Compiles a route's requirement tree. `undefined` (no `require:`) compiles to "any verified token".
 * Throws on a config the schema accepts but that could never be satisfied as written (a scope
 * containing a space, an empty claim name), so the mistake surfaces at startup.
 */
export function compileRequirement(req: Requirement | undefined, ctx: RequirementContext): RequirementEvaluator {
  if (req === undefined) return () => OK;
  return compileNode(req, new RolesReaders(ctx), ctx.separator ?? ',');
}

function compileNode(req: Requirement, roles: RolesReaders, sep: string): RequirementEvaluator {
  if ('all' in req) return compileAll(req.all.map((r) => compileNode(r, roles, sep)));
  if ('any' in req) return compileAny(req.any.map((r) => compileNode(r, roles, sep)));
  if ('not' in req) {
    const inner = compileNode(req.not, roles, sep);
    return (token) => {
      const result = inner(token);
      return result.ok ? NO_SCOPE_MISSING : result.undecided ? UNDECIDED : OK;
    };
  }
  if ('scope' in req) return compileScope(listOf(req.scope), sep);
  if ('permission' in req) return fromPredicate(compilePermission(listOf(req.permission), sep));
  if ('role' in req) return fromPredicate(compileRole(listOf(req.role), roles, sep));
  if ('issuer' in req) {
    const allowed = new Set(listOf(req.issuer));
    return fromPredicate((token) => allowed.has(token.issuer));
  }
  if ('claim' in req) return fromPredicate(compileClaimCondition(req.claim, sep));
  throw new Error(`unknown requirement ${JSON.stringify(Object.keys(req))}`);
}

function listOf(value: string | readonly string[]): readonly string[] {
  return typeof value === 'string' ? [value] : value;
}

function fromPredicate(test: Predicate): RequirementEvaluator {
  return (token) => {
    const verdict = test(token);
    return verdict === true ? OK : verdict === false ? NO_SCOPE_MISSING : UNDECIDED;
  };
}

function failure(missing: readonly string[], undecided: boolean): RequirementResult {
  if (missing.length === 0) return undecided ? UNDECIDED : NO_SCOPE_MISSING;
  return undecided ? { ok: false, missingScopes: missing, undecided: true } : { ok: false, missingScopes: missing };
}

/**
 * Every child is evaluated even after a failure, so the 403 names every missing scope. Undecided only
 * when no child definitely failed (a definite "no" decides `all`).
 */
function compileAll(children: readonly RequirementEvaluator[]): RequirementEvaluator {
  return (token) => {
    let missing: string[] | undefined;
    let definitelyFailed = false;
    for (const child of children) {
      const result = child(token);
      if (result.ok) continue;
      missing = mergeScopes(missing, result.missingScopes);
      if (!result.undecided) definitelyFailed = true;
    }
    return missing === undefined ? OK : failure(missing, !definitelyFailed);
  };
}

/** Undecided when no child passed and some child could not tell. */
function compileAny(children: readonly RequirementEvaluator[]): RequirementEvaluator {
  return (token) => {
    let missing: string[] | undefined;
    let undecided = false;
    for (const child of children) {
      const result = child(token);
      if (result.ok) return OK;
      missing = mergeScopes(missing, result.missingScopes);
      if (result.undecided) undecided = true;
    }
    return failure(missing ?? [], undecided);
  };
}

/** Union preserving first-seen order (deterministic challenges). Allocates only on the deny path. */
function mergeScopes(into: string[] | undefined, add: readonly string[]): string[] {
  const out = into ?? [];
  for (const scope of add) if (!out.includes(scope)) out.push(scope);
  return out;
}

// ---- scope -------------------------------------------------------------------------------------

function compileScope(required: readonly string[], sep: string): RequirementEvaluator {
  for (const scope of required) {
    if (!SCOPE_TOKEN.test(scope))
      throw new Error(
        `scope ${JSON.stringify(scope)} contains a space or a character outside the RFC 6749 scope-token grammar; list scopes separately`,
      );
  }
  return (token) => {
    const granted = grantedScopes(token.claims, sep);
    let missing: string[] | undefined;
    for (const scope of required) {
      if (granted === 'undecided' || !hasScope(granted, scope)) (missing ??= []).push(scope);
    }
    if (missing === undefined) return OK;
    return granted === 'undecided'
      ? { ok: false, missingScopes: missing, undecided: true }
      : { ok: false, missingScopes: missing };
  };
}

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * The token's granted scopes: `scope` when present (authoritative; RFC 9068 makes it a string), else
 * `scp` (string or array). A string outside the RFC 6749 grammar (TAB, double or edge spaces), an
 * array element that is not a scope-token, or another type cannot be read: undecided.
 */
function grantedScopes(claims: Claims, sep: string): string | readonly ClaimScalar[] | undefined | 'undecided' {
  const fromScope = hasOwn.call(claims, 'scope');
  const raw = fromScope ? claims['scope'] : hasOwn.call(claims, 'scp') ? claims['scp'] : undefined;
  const value = readClaimValue(raw, sep);
  if (fromScope && value.kind === 'list') return 'undecided'; // RFC 9068 §2.2.3: `scope` is a string
  if (value.kind === 'absent') return undefined;
  if (value.kind === 'scalar' && typeof value.value === 'string' && SCOPE_STRING.test(value.value)) return value.value;
  if (value.kind === 'list' && value.values.every((e) => typeof e === 'string' && SCOPE_TOKEN.test(e)))
    return value.values;
  return 'undecided';
}

function hasScope(granted: string | readonly ClaimScalar[] | undefined, scope: string): boolean {
  if (typeof granted === 'string') return containsSpaceDelimitedToken(granted, scope);
  return granted !== undefined && granted.includes(scope);
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

/** Every required string is granted: a list of usable strings, or (`single`) one usable string. */
function grantsAll(value: ClaimValue, required: readonly string[], single: boolean): Verdict {
  if (value.kind === 'absent') return false;
  if (value.kind === 'list' && value.values.every((e) => typeof e === 'string'))
    return required.every((r) => value.values.includes(r));
  if (single && value.kind === 'scalar' && typeof value.value === 'string')
    return required.every((r) => r === value.value);
  return 'undecided';
}

/** Auth0's `permissions`: an array of strings. */
function compilePermission(required: readonly string[], sep: string): Predicate {
  return (token) => grantsAll(readClaimValue(readPermissions(token.claims), sep), required, false);
}

/** The issuer's roles claim: an array of strings, or one string (a single role). */
function compileRole(required: readonly string[], roles: RolesReaders, sep: string): Predicate {
  return (token) => {
    const read = roles.readerFor(token.issuer);
    if (read === undefined) return false;
    return grantsAll(readClaimValue(read(token.claims), sep), required, true);
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

// ---- claim ----------------------------------------------------------------------------------------

type Scalar = string | number | boolean;

function compileClaimCondition(cond: ClaimCondition, sep: string): Predicate {
  const read = compileClaimPath(cond.path);
  const test = compileValueTest(cond);
  return (token) => test(readClaimValue(read(token.claims), sep));
}

/**
 * Type-strict: a present value of another JSON type than the configured one(s) is undecided, never
 * "not equal" (so `not: {claim: {path: suspended, equals: true}}` does not pass on `"true"`).
 */
function compileValueTest(cond: ClaimCondition): (value: ClaimValue) => Verdict {
  if (cond.equals !== undefined) return matchScalars([cond.equals]);
  if (cond.one_of !== undefined) return matchScalars(cond.one_of);
  if (cond.prefix !== undefined) {
    const prefix = cond.prefix;
    return stringTest((v) => v.startsWith(prefix));
  }
  if (cond.regex !== undefined) {
    // No `g`/`y` flag: `test` keeps no state between requests. Anchoring is the author's job.
    const re = new RegExp(cond.regex, 'u');
    return stringTest((v) => v.length <= MAX_REGEX_INPUT_LENGTH && re.test(v));
  }
  if (cond.exists !== undefined) {
    const wanted = cond.exists;
    // An ambiguous path is unusable: whether the claim exists cannot be told.
    return (v) => (v.kind === 'unusable' ? 'undecided' : (v.kind !== 'absent') === wanted);
  }
  throw new Error('claim condition must set exactly one of equals, one_of, prefix, regex, exists');
}

/** `equals` / `one_of`: a scalar, or an array with a matching element; other types undecided. */
function matchScalars(allowed: readonly Scalar[]): (value: ClaimValue) => Verdict {
  const set = new Set<unknown>(allowed);
  const types = new Set(allowed.map((a) => typeof a));
  const one = (e: ClaimScalar): Verdict => (set.has(e) ? true : types.has(scalarType(e)) ? false : 'undecided');
  return (value) => {
    if (value.kind === 'absent') return false;
    if (value.kind === 'scalar') return one(value.value);
    if (value.kind !== 'list') return 'undecided';
    let verdict: Verdict = false;
    for (const e of value.values) {
      const r = one(e);
      if (r === true) return true;
      if (r === 'undecided') verdict = 'undecided';
    }
    return verdict;
  };
}

/** `prefix` / `regex`: a string claim only; another type is undecided. */
function stringTest(test: (v: string) => boolean): (value: ClaimValue) => Verdict {
  return (value) => {
    if (value.kind === 'absent') return false;
    if (value.kind === 'scalar' && typeof value.value === 'string') return test(value.value);
    return 'undecided';
  };
}
