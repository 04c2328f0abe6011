/**
 * Route requirements, compiled once from the validated config into a tree of closures.
 *
 * Semantics (see docs/routing.md, "Requirement predicates"):
 * - Values are compared exactly and case-sensitively; a claim of the wrong JSON type never matches
 *   (no coercion, no throwing).
 * - `scope`, `role`, `permission`, `group`, `tenant` read the token's principal (engine/principal.ts),
 *   which the issuer's profile fills from wherever that provider puts them (`scope` or `scp`,
 *   `realm_access.roles`, `cognito:groups`, `tid`, ...). `issuer`: the configured issuer name.
 *   A list in the config means all are required (`issuer` and `tenant`: one of).
 * - `claim`: `equals`/`one_of` match a scalar, or an array containing a matching element; `prefix` and
 *   `regex` test string claims only; `exists` treats null like absent, so `exists: false` is exactly
 *   the negation of `exists: true`.
 * - `missingScopes` lists the required scopes that were not granted, for the RFC 6750 `scope=`
 *   parameter of the 403 challenge; `any` reports the union of its children's, `not` none.
 * - `failed` names the first requirement that failed (its kind and place in the tree, e.g.
 *   `all[1].role`), for the reason code and the decision log; never a token value. `all` reports its
 *   first failing child, `any` (all children failed) its first child's failure, `not` itself.
 */
import type { ClaimCondition, Requirement } from '../config/schema.js';
import { compileClaimPath, type Claims } from './claims.js';
import type { Principal } from './principal.js';

/** The verified token as requirements see it. */
export interface VerifiedToken {
  readonly claims: Claims;
  /** Configured issuer name (not the `iss` URL). */
  readonly issuer: string;
  readonly principal: Principal;
}

export type RequirementKind = 'scope' | 'role' | 'permission' | 'group' | 'tenant' | 'issuer' | 'claim' | 'not';

/** Which requirement failed: its kind and its place in the route's `require` tree. */
export interface FailedRequirement {
  readonly kind: RequirementKind;
  readonly at: string;
}

/** `missingScopes` is read-only: the empty list is a shared frozen array. */
export type RequirementResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly missingScopes: readonly string[]; readonly failed: FailedRequirement };

/**
 * Told each requirement's result as it is evaluated (`claimgate explain`); absent on the request path,
 * where it costs one undefined check per node. Nodes an `any` short-circuits past are not reported.
 */
export type RequirementTrace = (at: string, kind: RequirementKind | 'all' | 'any', ok: boolean) => void;

/** A compiled requirement tree. Pure and deterministic. */
export type RequirementEvaluator = (token: VerifiedToken, trace?: RequirementTrace) => RequirementResult;

/** Longest string a `regex` condition is run against; longer values do not match (bounds regex cost). */
export const MAX_REGEX_INPUT_LENGTH = 4096;

const OK: RequirementResult = Object.freeze({ ok: true });
const NONE_MISSING: readonly string[] = Object.freeze([]);

/** The shared failure of a leaf that reports no scope (allocated once, at compile time). */
function failureOf(kind: RequirementKind, at: string): Failure {
  return Object.freeze({ ok: false, missingScopes: NONE_MISSING, failed: Object.freeze({ kind, at }) });
}

/** A leaf test, before results are shaped. */
type Predicate = (token: VerifiedToken) => boolean;

/**
 * Compiles a route's requirement tree. `undefined` (no `require:`) compiles to "any verified token".
 * Throws on a config the schema accepts but that could never be satisfied as written (a scope
 * containing a space, an empty claim name), so the mistake surfaces at startup.
 */
export function compileRequirement(req: Requirement | undefined): RequirementEvaluator {
  if (req === undefined) return () => OK;
  return compileNode(req, '');
}

function compileNode(req: Requirement, at: string): RequirementEvaluator {
  const here = (key: string) => (at === '' ? key : `${at}.${key}`);
  if ('all' in req)
    return compileAll(
      req.all.map((r, i) => compileNode(r, `${here('all')}[${i}]`)),
      here('all'),
    );
  if ('any' in req)
    return compileAny(
      req.any.map((r, i) => compileNode(r, `${here('any')}[${i}]`)),
      here('any'),
    );
  if ('not' in req) {
    const inner = compileNode(req.not, here('not'));
    const failed = failureOf('not', here('not'));
    return (token, trace) => {
      const ok = !inner(token, trace).ok;
      trace?.(here('not'), 'not', ok);
      return ok ? OK : failed;
    };
  }
  if ('scope' in req) return compileScope(listOf(req.scope), here('scope'));
  if ('permission' in req)
    return fromPredicate(
      allOf(listOf(req.permission), (p) => p.permissions),
      failureOf('permission', here('permission')),
    );
  if ('role' in req)
    return fromPredicate(
      allOf(listOf(req.role), (p) => p.roles),
      failureOf('role', here('role')),
    );
  if ('group' in req)
    return fromPredicate(
      allOf(listOf(req.group), (p) => p.groups),
      failureOf('group', here('group')),
    );
  if ('tenant' in req) {
    const allowed = new Set(listOf(req.tenant));
    return fromPredicate(
      (token) => token.principal.tenant !== undefined && allowed.has(token.principal.tenant),
      failureOf('tenant', here('tenant')),
    );
  }
  if ('issuer' in req) {
    const allowed = new Set(listOf(req.issuer));
    return fromPredicate((token) => allowed.has(token.issuer), failureOf('issuer', here('issuer')));
  }
  if ('claim' in req) return fromPredicate(compileClaimCondition(req.claim), failureOf('claim', here('claim')));
  throw new Error(`unknown requirement ${JSON.stringify(Object.keys(req))}`);
}

function listOf(value: string | readonly string[]): readonly string[] {
  return typeof value === 'string' ? [value] : value;
}

function fromPredicate(test: Predicate, failed: Failure): RequirementEvaluator {
  return (token, trace) => {
    const ok = test(token);
    trace?.(failed.failed.at, failed.failed.kind, ok);
    return ok ? OK : failed;
  };
}

type Failure = Extract<RequirementResult, { ok: false }>;

/** Every child is evaluated even after a failure, so the 403 names every missing scope. */
function compileAll(children: readonly RequirementEvaluator[], at: string): RequirementEvaluator {
  return (token, trace) => {
    let first: Failure | undefined;
    let missing: string[] | undefined;
    for (const child of children) {
      const result = child(token, trace);
      if (!result.ok) {
        first ??= result;
        missing = mergeScopes(missing, result.missingScopes);
      }
    }
    trace?.(at, 'all', first === undefined);
    return combined(first, missing);
  };
}

function compileAny(children: readonly RequirementEvaluator[], at: string): RequirementEvaluator {
  return (token, trace) => {
    let first: Failure | undefined;
    let missing: string[] | undefined;
    for (const child of children) {
      const result = child(token, trace);
      if (result.ok) {
        trace?.(at, 'any', true);
        return OK;
      }
      first ??= result;
      missing = mergeScopes(missing, result.missingScopes);
    }
    trace?.(at, 'any', false);
    return combined(first, missing);
  };
}

/** The first failure, carrying the union of missing scopes (shared object when nothing to add). */
function combined(first: Failure | undefined, missing: string[] | undefined): RequirementResult {
  if (first === undefined) return OK;
  if (missing === undefined || missing.length === first.missingScopes.length) return first;
  return { ok: false, missingScopes: missing, failed: first.failed };
}

/** Union preserving first-seen order (deterministic challenges). Allocates only on the deny path. */
function mergeScopes(into: string[] | undefined, add: readonly string[]): string[] {
  const out = into ?? [];
  for (const scope of add) if (!out.includes(scope)) out.push(scope);
  return out;
}

// ---- scope -------------------------------------------------------------------------------------

function compileScope(required: readonly string[], at: string): RequirementEvaluator {
  for (const scope of required) {
    if (scope.includes(' ')) throw new Error(`scope ${JSON.stringify(scope)} contains a space; list scopes separately`);
  }
  const failed: FailedRequirement = Object.freeze({ kind: 'scope', at });
  return (token, trace) => {
    const granted = token.principal.scopes;
    let missing: string[] | undefined;
    for (const scope of required) {
      if (!granted.includes(scope)) (missing ??= []).push(scope);
    }
    trace?.(at, 'scope', missing === undefined);
    return missing === undefined ? OK : { ok: false, missingScopes: missing, failed };
  };
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

// ---- permission, role, group --------------------------------------------------------------------

function allOf(required: readonly string[], granted: (p: Principal) => readonly string[]): Predicate {
  return (token) => {
    const list = granted(token.principal);
    return required.every((r) => list.includes(r));
  };
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
