/**
 * CEL conditions evaluated against a token (docs/policy.md). Parsing, type-checking and the cost bound
 * happen once at config load (config/cel.ts); this half reads the principal, the claims and the
 * request through the one claim-value rule (policy/cel-values.ts).
 *
 * Three-valued, like every requirement leaf (engine/requirements.ts): true, false, or "cannot tell" for
 * a runtime error (a missing key, a claim of another type, a value the one claim-value rule calls
 * unusable). "Cannot tell" fails the route and stays a failure under `not`.
 */
import { parseCel } from '../config/cel.js';
import type { Claims } from '../token/claims.js';
import type { Principal } from '../token/principal.js';
import { celClaims, celPrincipal } from './cel-values.js';

export { CelConfigError, MAX_COST } from '../config/cel.js';

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

/** Compiles one expression; throws CelConfigError as parseCel does (config/cel.ts). */
export function compileCel(expression: string, separator = ','): CelCondition {
  const program = parseCel(expression);
  return (input) => {
    try {
      const vars = {
        principal: celPrincipal(input.principal),
        claims: celClaims(input.claims, separator),
        request: input.request,
      };
      return program(vars) === true;
    } catch {
      // A missing key, a claim of an unexpected type or an unusable value: cannot tell (fails closed).
      return 'undecided';
    }
  };
}
