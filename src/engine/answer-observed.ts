/**
 * Decide, answer, observe, never throw: the one way every adapter (gRPC, the HTTP doors) turns a request
 * into its protocol's answer. Whatever fails on the way (the decider, shaping the answer) becomes the
 * error answer, so a request is never answered by an exception (fail closed); whatever the observer does
 * (metrics, the decision line) cannot change the answer.
 */
import { INTERNAL_ERROR_DECISION } from '../core/answer.js';
import type { Decision, DecisionObserver, RequestView } from '../core/types.js';
import type { Decide } from './decide.js';

/**
 * @param view the request as the adapter read it; `undefined` when it could not be read (then `decide`
 *   must be the adapter's own refusal)
 * @param decide the decider to ask, or a decision the adapter already made (a refusal)
 * @param respond the protocol's answer for a decision
 * @param failed the protocol's answer for {@link INTERNAL_ERROR_DECISION}, made ahead of time
 * @param started `process.hrtime.bigint()` when the request arrived (for the duration observed)
 * @returns the answer: at once when the decider answered at once (a token-cache hit), else a promise that
 *   never rejects. A cached allow allocates no promise on the way (docs/benchmarks.md, issue 16).
 */
export function answerObserved<R>(
  view: RequestView | undefined,
  decide: Decide | Decision,
  respond: (decision: Decision) => R,
  failed: R,
  observe: DecisionObserver | undefined,
  started: bigint,
): R | Promise<R> {
  const finish = (decision: Decision): R => {
    let answer: R;
    try {
      answer = respond(decision);
    } catch {
      // A malformed decision the response builder cannot shape fails closed.
      decision = INTERNAL_ERROR_DECISION;
      answer = failed;
    }
    try {
      observe?.(view, decision, started);
    } catch {
      // Observability must never change an answer.
    }
    return answer;
  };
  let decided: Decision | Promise<Decision>;
  try {
    decided = typeof decide === 'function' ? decide(view ?? NO_REQUEST) : decide;
  } catch {
    return finish(INTERNAL_ERROR_DECISION);
  }
  // Any failure of the decider, thrown or rejected, fails closed.
  return decided instanceof Promise ? decided.then(finish, () => finish(INTERNAL_ERROR_DECISION)) : finish(decided);
}

/** What a decider sees if an adapter asks it without a view: nothing to route, so a denial. */
const NO_REQUEST: RequestView = Object.freeze({ method: '', host: '', path: '', headers: new Map() });
