/**
 * Route requirements, compiled once from the validated config into a tree of closures.
 *
 * Semantics (see docs/routing.md, "Requirement predicates"):
 * - Values are compared exactly and case-sensitively; a claim of the wrong JSON type never matches
 *   (no coercion, no throwing).
 * - `scope`, `role`, `permission`, `group`, `tenant` read the token's principal (token/principal.ts),
 *   which the issuer's profile fills from wherever that provider puts them (`scope` or `scp`,
 *   `realm_access.roles`, `cognito:groups`, `tid`, ...). `issuer`: the configured issuer name.
 *   A list in the config means all are required (`issuer` and `tenant`: one of).
 * - `claim`: `equals`/`one_of` match a scalar, or an array containing a matching element; `prefix` and
 *   `regex` test string claims only; `exists` treats null like absent, so `exists: false` is exactly
 *   the negation of `exists: true`.
 * - `cel`: a CEL expression over the principal, the claims and the request (policy/cel.ts, docs/policy.md);
 *   an evaluation error, or touching a value the rule below calls unusable, is "cannot tell".
 * - Claim values are read by the one rule of token/claim-values.ts (the same one identity headers and
 *   the principal use). A leaf gives true, false, or "cannot tell" when the claim is there but unusable
 *   (a control character, edge whitespace, the separator inside), of another JSON type than the check
 *   compares (`"true"` for `equals: true`), behind an ambiguous dotted path, or a principal field the
 *   principal marks unreadable. "Cannot tell" fails the route and stays a failure under `not`
 *   (three-valued logic: `not` of it is still "cannot tell"), so a value the check cannot read never
 *   lets a request through.
 * - `missingScopes` lists the required scopes that were not granted, for the RFC 6750 `scope=`
 *   parameter of the 403 challenge; `any` reports the union of its children's, `not` none.
 * - `failed` names the first requirement that failed (its kind and place in the tree, e.g.
 *   `all[1].role`), for the reason code and the decision log; never a token value. `all` reports its
 *   first failing child, `any` (all children failed) its first child's failure, `not` itself when its
 *   child passed. A "cannot tell" keeps the leaf that could not tell (so `not: {role: admin}` over an
 *   unreadable roles claim reports `not.role`, ERR_ROLE_MISSING): the code always names the kind of
 *   the leaf that decided the failure, whether it said no or could not tell.
 */
import type { ClaimCondition, Requirement } from '../config/schema.js';
import type { ClaimField } from '../config/profiles.js';
import { readClaimValue, scalarType, SCOPE_TOKEN, type ClaimScalar, type ClaimValue } from '../token/claim-values.js';
import { compileClaimPath, type Claims } from '../token/claims.js';
import type { Principal } from '../token/principal.js';
import { compileCel, type CelRequest } from '../policy/cel.js';

/** What requirements read of a verified token (token/verify.ts has the whole VerifiedToken). */
export interface RequirementInput {
  readonly claims: Claims;
  /** Configured issuer name (not the `iss` URL). */
  readonly issuer: string;
  readonly principal: Principal;
  /** The request as CEL conditions read it; set only on routes with a `cel` node (policy/cel-request.ts). */
  readonly request?: CelRequest;
}

export type RequirementKind = 'scope' | 'role' | 'permission' | 'group' | 'tenant' | 'issuer' | 'claim' | 'cel' | 'not';

/** Which requirement failed: its kind and its place in the route's `require` tree. */
export interface FailedRequirement {
  readonly kind: RequirementKind;
  readonly at: string;
}

/**
 * `missingScopes` is read-only: the empty list is a shared frozen array. `undecided` marks a failure
 * that is "cannot tell" rather than "no": `not` keeps it a failure.
 */
export type RequirementResult =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly missingScopes: readonly string[];
      readonly failed: FailedRequirement;
      readonly undecided?: true;
    };

/** What the compiler needs from the rest of the config. */
export interface RequirementContext {
  /** `upstream.array_separator`: a string holding it is unusable (claim-values.ts). Default `,`. */
  readonly separator?: string;
}

/**
 * Told each requirement's result as it is evaluated (`claimgate explain`); absent on the request path,
 * where it costs one undefined check per node. Nodes an `any` short-circuits past are not reported.
 */
export type RequirementTrace = (at: string, kind: RequirementKind | 'all' | 'any', ok: boolean) => void;

/** A compiled requirement tree. Pure and deterministic. */
export type RequirementEvaluator = (token: RequirementInput, trace?: RequirementTrace) => RequirementResult;

/** Longest string a `regex` condition is run against; longer values do not match (bounds regex cost). */
export const MAX_REGEX_INPUT_LENGTH = 4096;

const OK: RequirementResult = Object.freeze({ ok: true });
const NONE_MISSING: readonly string[] = Object.freeze([]);

/** The shared failures ("no", "cannot tell") of a leaf that reports no scope (allocated at compile time). */
interface LeafFailures {
  readonly no: Failure;
  readonly undecided: Failure;
}

function failureOf(kind: RequirementKind, at: string): LeafFailures {
  const failed = Object.freeze({ kind, at });
  return {
    no: Object.freeze({ ok: false, missingScopes: NONE_MISSING, failed }),
    undecided: Object.freeze({ ok: false, missingScopes: NONE_MISSING, failed, undecided: true }),
  };
}

/** A leaf's answer: yes, no, or cannot tell (fails closed, also under `not`). */
type Verdict = boolean | 'undecided';

/** A leaf test, before results are shaped. */
type Predicate = (token: RequirementInput) => Verdict;

/**
 * Compiles a route's requirement tree. `undefined` (no `require:`) compiles to "any verified token".
 * Throws on a config the schema accepts but that could never be satisfied as written (a scope
 * containing a space, an empty claim name), so the mistake surfaces at startup.
 */
export function compileRequirement(req: Requirement | undefined, ctx: RequirementContext = {}): RequirementEvaluator {
  if (req === undefined) return () => OK;
  return compileNode(req, '', ctx.separator ?? ',');
}

function compileNode(req: Requirement, at: string, sep: string): RequirementEvaluator {
  const here = (key: string) => (at === '' ? key : `${at}.${key}`);
  if ('all' in req)
    return compileAll(
      req.all.map((r, i) => compileNode(r, `${here('all')}[${i}]`, sep)),
      here('all'),
    );
  if ('any' in req)
    return compileAny(
      req.any.map((r, i) => compileNode(r, `${here('any')}[${i}]`, sep)),
      here('any'),
    );
  if ('not' in req) {
    const inner = compileNode(req.not, here('not'), sep);
    const failed = failureOf('not', here('not')).no;
    return (token, trace) => {
      const result = inner(token, trace);
      // The trace's ok for `not`: the inner requirement definitely failed.
      trace?.(here('not'), 'not', !result.ok && result.undecided !== true);
      if (result.ok) return failed;
      if (result.undecided !== true) return OK;
      // Cannot tell stays a failure, names the leaf that could not tell, and (as `not`) no scope.
      return result.missingScopes.length === 0
        ? result
        : { ok: false, missingScopes: NONE_MISSING, failed: result.failed, undecided: true };
    };
  }
  if ('scope' in req) return compileScope(listOf(req.scope), here('scope'));
  if ('permission' in req)
    return fromPredicate(allOf(listOf(req.permission), 'permissions'), failureOf('permission', here('permission')));
  if ('role' in req) return fromPredicate(allOf(listOf(req.role), 'roles'), failureOf('role', here('role')));
  if ('group' in req) return fromPredicate(allOf(listOf(req.group), 'groups'), failureOf('group', here('group')));
  if ('tenant' in req) {
    const allowed = new Set(listOf(req.tenant));
    return fromPredicate(
      (token) => {
        const { tenant } = token.principal;
        if (tenant !== undefined) return allowed.has(tenant);
        return unreadable(token.principal, 'tenant') ? 'undecided' : false;
      },
      failureOf('tenant', here('tenant')),
    );
  }
  if ('issuer' in req) {
    const allowed = new Set(listOf(req.issuer));
    return fromPredicate((token) => allowed.has(token.issuer), failureOf('issuer', here('issuer')));
  }
  if ('claim' in req) return fromPredicate(compileClaimCondition(req.claim, sep), failureOf('claim', here('claim')));
  if ('cel' in req) {
    const condition = compileCel(typeof req.cel === 'string' ? req.cel : req.cel.expression, sep);
    return fromPredicate(
      (token) =>
        token.request === undefined
          ? 'undecided'
          : condition({ principal: token.principal, claims: token.claims, request: token.request }),
      failureOf('cel', here('cel')),
    );
  }
  throw new Error(`unknown requirement ${JSON.stringify(Object.keys(req))}`);
}

function listOf(value: string | readonly string[]): readonly string[] {
  return typeof value === 'string' ? [value] : value;
}

function fromPredicate(test: Predicate, failures: LeafFailures): RequirementEvaluator {
  const { kind, at } = failures.no.failed;
  return (token, trace) => {
    const verdict = test(token);
    trace?.(at, kind, verdict === true);
    return verdict === true ? OK : verdict === false ? failures.no : failures.undecided;
  };
}

function unreadable(principal: Principal, field: ClaimField): boolean {
  return principal.unreadable !== undefined && principal.unreadable.includes(field);
}

type Failure = Extract<RequirementResult, { ok: false }>;

/**
 * Every child is evaluated even after a failure, so the 403 names every missing scope. Undecided only
 * when no child definitely failed (a definite "no" decides `all`).
 */
function compileAll(children: readonly RequirementEvaluator[], at: string): RequirementEvaluator {
  return (token, trace) => {
    let first: Failure | undefined;
    let missing: string[] | undefined;
    let definitelyFailed = false;
    for (const child of children) {
      const result = child(token, trace);
      if (!result.ok) {
        first ??= result;
        missing = mergeScopes(missing, result.missingScopes);
        if (result.undecided !== true) definitelyFailed = true;
      }
    }
    trace?.(at, 'all', first === undefined);
    return combined(first, missing, !definitelyFailed);
  };
}

/** Undecided when no child passed and some child could not tell. */
function compileAny(children: readonly RequirementEvaluator[], at: string): RequirementEvaluator {
  return (token, trace) => {
    let first: Failure | undefined;
    let missing: string[] | undefined;
    let undecided = false;
    for (const child of children) {
      const result = child(token, trace);
      if (result.ok) {
        trace?.(at, 'any', true);
        return OK;
      }
      first ??= result;
      missing = mergeScopes(missing, result.missingScopes);
      if (result.undecided === true) undecided = true;
    }
    trace?.(at, 'any', false);
    return combined(first, missing, undecided);
  };
}

/**
 * The first failure, carrying the union of missing scopes and whether the whole is "cannot tell"
 * (the first failure's object itself when nothing changes).
 */
function combined(first: Failure | undefined, missing: string[] | undefined, undecided: boolean): RequirementResult {
  if (first === undefined) return OK;
  const sameScopes = missing === undefined || missing.length === first.missingScopes.length;
  if (sameScopes && (first.undecided === true) === undecided) return first;
  const missingScopes = sameScopes ? first.missingScopes : missing;
  return undecided
    ? { ok: false, missingScopes, failed: first.failed, undecided: true }
    : { ok: false, missingScopes, failed: first.failed };
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
    if (!SCOPE_TOKEN.test(scope))
      throw new Error(
        `scope ${JSON.stringify(scope)} contains a space or a character outside the RFC 6749 scope-token grammar; list scopes separately`,
      );
  }
  const failed: FailedRequirement = Object.freeze({ kind: 'scope', at });
  return (token, trace) => {
    const granted = token.principal.scopes;
    const cannotTell = unreadable(token.principal, 'scopes');
    let missing: string[] | undefined;
    for (const scope of required) {
      if (cannotTell || !granted.includes(scope)) (missing ??= []).push(scope);
    }
    trace?.(at, 'scope', missing === undefined);
    if (missing === undefined) return OK;
    return cannotTell
      ? { ok: false, missingScopes: missing, failed, undecided: true }
      : { ok: false, missingScopes: missing, failed };
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

/** Every required value is in the principal's list; cannot tell when the principal could not read it. */
function allOf(required: readonly string[], field: 'permissions' | 'roles' | 'groups'): Predicate {
  return (token) => {
    const list = token.principal[field];
    if (required.every((r) => list.includes(r))) return true;
    return unreadable(token.principal, field) ? 'undecided' : false;
  };
}

// ---- claim -------------------------------------------------------------------------------------

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
