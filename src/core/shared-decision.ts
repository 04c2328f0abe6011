/**
 * Decisions the engine reuses across Checks are frozen (an allow per cached token, route and binding; a
 * refused token's denial per reason, route and issuer; the adapters' fixed refusals). Whatever an adapter
 * or observer derives from a decision alone (answer bytes, log fields, a rate-limit key) can then be worked
 * out once per such decision rather than once per Check. A decision that is not frozen was made for one
 * Check, so nothing is kept for it.
 */
import type { Decision } from './types.js';

/** `derive`, remembered for frozen (shared) decisions; weakly, so a replaced config's decisions go with it. */
export function perSharedDecision<T>(derive: (decision: Decision) => T): (decision: Decision) => T {
  const derived = new WeakMap<Decision, T>();
  return (decision) => {
    if (!Object.isFrozen(decision)) return derive(decision);
    const known = derived.get(decision);
    if (known !== undefined || derived.has(decision)) return known as T;
    const value = derive(decision);
    derived.set(decision, value);
    return value;
  };
}
