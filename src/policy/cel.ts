/**
 * CEL conditions (`require: {cel: "..."}`), compiled and type-checked once at config load.
 *
 * Library: @marcbachmann/cel-js (zero dependencies, public type checker with source positions, about
 * 1.6 µs per evaluation of a typical rule here). Expressions see three variables:
 * - `principal`: the token's principal (engine/principal.ts), typed: `principal.scopes` is a
 *   `list<string>`, `principal.tenant` a `string` that may be absent (test with `has(principal.tenant)`);
 * - `claims`: the raw verified claims, `map<string, dyn>`;
 * - `request`: `method`, `path` (normalized, without query), `host`, `params` (the route template's
 *   `{name}` segments) and `headers` (only the ones the condition lists; several values joined by `, `).
 *
 * Cost bound: CEL has no loops except the comprehension macros (`all`, `exists`, `exists_one`, `map`,
 * `filter`), which iterate over a list or map from the request. Every such input is bounded by the
 * token size (`max_token_bytes`) or the adapter's header caps, so the worst-case cost of an expression
 * is bounded by its syntax tree: each node costs 1, a comprehension costs its range plus
 * MAX_ITERATIONS times its body. An expression whose bound exceeds MAX_COST is a config error, so a
 * nested comprehension over token lists (quadratic or worse) never reaches the request path.
 * `matches` is refused (see REFUSED_FUNCTIONS). Evaluation has no side effects (no functions beyond
 * the CEL standard library are registered).
 *
 * Three-valued, like every requirement leaf (engine/requirements.ts): true, false, or "cannot tell" for
 * a runtime error (a missing key, a claim of another type, a value the one claim-value rule calls
 * unusable: policy/cel-values.ts). "Cannot tell" fails the route and stays a failure under `not`.
 */
import { Environment } from '@marcbachmann/cel-js';
import type { Claims } from '../engine/claims.js';
import type { Principal } from '../engine/principal.js';
import { celClaims, celPrincipal } from './cel-values.js';

/** What a CEL condition reads about the request. */
export interface CelRequest {
  readonly method: string;
  readonly path: string;
  readonly host: string;
  readonly params: Readonly<Record<string, string>>;
  readonly headers: Readonly<Record<string, string>>;
}

export interface CelInput {
  readonly principal: Principal;
  readonly claims: Claims;
  readonly request: CelRequest;
}

/** true, false, or cannot tell (an evaluation error). */
export type CelVerdict = boolean | 'undecided';

export type CelCondition = (input: CelInput) => CelVerdict;

/** Longest expression accepted (characters). */
export const MAX_EXPRESSION_LENGTH = 4096;
/**
 * Elements any list or map a comprehension can range over may have: a JSON array in a 64 KiB token
 * (the largest `max_token_bytes`; base64url leaves 48 KiB of JSON) has at most ~24k elements (`0,`).
 */
export const MAX_ITERATIONS = 24_576;
/** Largest estimated cost accepted: one comprehension with a body of about 40 nodes. */
export const MAX_COST = 1_000_000;

const env = new Environment({
  limits: { maxAstNodes: 512, maxDepth: 32, maxListElements: 256, maxMapEntries: 256, maxCallArguments: 8 },
})
  .registerVariable({
    name: 'principal',
    schema: {
      subject: 'string',
      qualified_subject: 'string',
      issuer: 'string',
      scopes: 'list<string>',
      roles: 'list<string>',
      permissions: 'list<string>',
      groups: 'list<string>',
      tenant: 'string',
      email: 'string',
      client_id: 'string',
    },
  })
  .registerVariable('claims', 'map<string, dyn>')
  .registerVariable({
    name: 'request',
    schema: {
      method: 'string',
      path: 'string',
      host: 'string',
      params: 'map<string, string>',
      headers: 'map<string, string>',
    },
  });

/** A config error in a CEL expression; `message` carries the position (line:column) and a caret excerpt. */
export class CelConfigError extends Error {}

const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

/**
 * Compiles one expression. Throws CelConfigError when it does not parse, does not type-check, is not
 * of type bool, or its cost bound is over MAX_COST.
 */
export function compileCel(expression: string, separator = ','): CelCondition {
  if (expression.length > MAX_EXPRESSION_LENGTH)
    throw new CelConfigError(`is longer than ${MAX_EXPRESSION_LENGTH} characters`);
  let parsed: ReturnType<typeof env.parse>;
  try {
    parsed = env.parse(expression);
  } catch (e) {
    throw new CelConfigError(withPosition(expression, e));
  }
  refuseUnboundedCalls(expression, parsed.ast as unknown as AstNode);
  const checked = parsed.check();
  if (!checked.valid) throw new CelConfigError(withPosition(expression, checked.error));
  if (checked.type !== 'bool') throw new CelConfigError(`must be a bool expression, not ${String(checked.type)}`);
  const cost = estimateCost(parsed.ast as unknown as AstNode);
  if (cost > MAX_COST)
    throw new CelConfigError(
      `has an estimated worst-case cost of ${cost}, over the bound of ${MAX_COST} (nested comprehensions over token lists?)`,
    );
  return (input) => {
    try {
      const vars = {
        principal: celPrincipal(input.principal),
        claims: celClaims(input.claims, separator),
        request: input.request,
      };
      return parsed(vars) === true;
    } catch {
      // A missing key, a claim of an unexpected type or an unusable value: cannot tell (fails closed).
      return 'undecided';
    }
  };
}

/** `at line:column: message` (the library's own text, without its caret excerpt), for logs and the CLI. */
function withPosition(expression: string, error: unknown): string {
  const err = error as { message?: unknown; node?: { pos?: unknown } } | undefined;
  const message = String(err?.message ?? error).split('\n')[0] as string;
  const pos = err?.node?.pos;
  if (typeof pos !== 'number') return message;
  const before = expression.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  return `at ${line}:${column}: ${message}`;
}

interface AstNode {
  readonly op: string;
  readonly args: unknown;
  readonly pos?: number;
}

/**
 * `matches` is refused: the library runs it as a backtracking JavaScript RegExp built per call, so a
 * careless pattern, or a pattern taken from the token, over a claim of up to 64 KiB could stall the
 * event loop, and no static bound covers that. `startsWith`, `endsWith`, `contains` and `in` cover
 * most needs; a `claim: {regex}` node bounds its input to 4096 characters.
 */
const REFUSED_FUNCTIONS = new Set(['matches']);

function refuseUnboundedCalls(expression: string, node: AstNode): void {
  if ((node.op === 'rcall' || node.op === 'call') && Array.isArray(node.args)) {
    const name = node.args[0];
    if (typeof name === 'string' && REFUSED_FUNCTIONS.has(name))
      throw new CelConfigError(
        withPosition(expression, {
          message: `${name}() is not available (its regular expressions have no cost bound); use startsWith, endsWith, contains, or a claim: {regex} requirement`,
          node,
        }),
      );
  }
  const children: AstNode[] = [];
  collectNodes(node.args, children);
  for (const child of children) refuseUnboundedCalls(expression, child);
}

function isNode(value: unknown): value is AstNode {
  return typeof value === 'object' && value !== null && 'op' in value && typeof (value as AstNode).op === 'string';
}

/** Worst-case evaluation steps: 1 per node; a comprehension multiplies its body by MAX_ITERATIONS. */
export function estimateCost(node: AstNode): number {
  const children: AstNode[] = [];
  collectNodes(node.args, children);
  if ((node.op === 'rcall' || node.op === 'call') && Array.isArray(node.args)) {
    const name = node.args[0];
    if (typeof name === 'string' && COMPREHENSIONS.has(name) && node.op === 'rcall') {
      const [, range, params] = node.args as [string, unknown, unknown[]];
      const rangeCost = isNode(range) ? estimateCost(range) : 0;
      const body = Array.isArray(params) ? params.slice(1) : [];
      let bodyCost = 0;
      for (const b of body) if (isNode(b)) bodyCost += estimateCost(b);
      return 1 + rangeCost + MAX_ITERATIONS * (bodyCost + 1);
    }
  }
  let total = 1;
  for (const child of children) total += estimateCost(child);
  return total;
}

function collectNodes(value: unknown, into: AstNode[]): void {
  if (isNode(value)) into.push(value);
  else if (Array.isArray(value)) for (const v of value) collectNodes(v, into);
}
