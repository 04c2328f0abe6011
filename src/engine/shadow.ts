/**
 * Shadow policy: look at what a stricter (or looser) policy would do without enforcing it.
 *
 * - Per route, `shadow.require` is evaluated beside `require` for every verified token; when the two
 *   disagree (one allows, the other denies) a ShadowDisagreement is reported (decision log line and
 *   `claimgate_shadow_disagreements_total`). The answer is always the enforced requirement's.
 * - Whole-config `shadow_mode` wraps the decider: a request the policy refuses is still allowed, with
 *   reason OK_SHADOW_MODE and no identity: every owned identity header (and with strip_token the token
 *   carrier) is removed, nothing is set, so an unverified or spoofed identity never reaches the upstream.
 *   Refusals that protect the upstream's reading of the request itself stay refusals: a header spelled
 *   to read as an owned header (P16), a method override, a path or host that cannot be normalized, and
 *   a request with header lines the adapter could not read (they could hide such a spelling).
 */
import type { CompiledConfig } from './compile.js';
import type { ReasonCode } from '../core/reasons.js';
import type { RequirementKind, RequirementResult } from './requirements.js';
import type { AllowDecision, Decision, RequestView } from '../core/types.js';

/** decide.ts's Decide, spelled out here because decide.ts imports this module. */
type Decide = (view: RequestView) => Decision | Promise<Decision>;

export interface ShadowDisagreement {
  readonly route: string;
  readonly issuer: string;
  readonly enforced: 'allow' | 'deny';
  readonly enforcedReason: ReasonCode;
  readonly candidate: 'allow' | 'deny';
  readonly candidateReason: ReasonCode;
  /** Where in the candidate (or enforced) tree the first failure is. */
  readonly requirement?: string;
}

export type ShadowObserver = (event: ShadowDisagreement) => void;

/** Compares the enforced result with the candidate's; reports only a disagreement. */
export function compareShadow(
  route: string,
  issuer: string,
  enforced: RequirementResult,
  candidate: RequirementResult,
  reasonOf: (kind: RequirementKind) => ReasonCode,
  report: ShadowObserver,
): void {
  if (enforced.ok === candidate.ok) return;
  report({
    route,
    issuer,
    enforced: enforced.ok ? 'allow' : 'deny',
    enforcedReason: enforced.ok ? 'OK_AUTHENTICATED' : reasonOf(enforced.failed.kind),
    candidate: candidate.ok ? 'allow' : 'deny',
    candidateReason: candidate.ok ? 'OK_AUTHENTICATED' : reasonOf(candidate.failed.kind),
    requirement: candidate.ok ? (enforced.ok ? undefined : enforced.failed.at) : candidate.failed.at,
  });
}

/**
 * Refusals shadow mode keeps: they protect how the upstream reads the request, not who may call. The
 * RFC 9728 metadata answer is claimgate's own reply (a "deny" carrying the document), not a refusal.
 */
const ALWAYS_ENFORCED: ReadonlySet<ReasonCode> = new Set<ReasonCode>([
  'OK_RESOURCE_METADATA',
  'ERR_HEADER_NAME_AMBIGUOUS',
  'ERR_METHOD_OVERRIDE',
  'ERR_PATH_INVALID',
  'ERR_HOST_INVALID',
]);

/** Wraps a decider for whole-config shadow mode (see the module comment). */
export function withShadowMode(decide: Decide, config: CompiledConfig): Decide {
  return async (view) => {
    const decision = await decide(view);
    if (decision.outcome === 'allow' || ALWAYS_ENFORCED.has(decision.reason)) return decision;
    // Header lines the adapter could not read reach the upstream unchecked (a forged spelling among them).
    if (view.incomplete === true) return decision;
    const allowed: AllowDecision = {
      outcome: 'allow',
      reason: 'OK_SHADOW_MODE',
      route: decision.route ?? '(unmatched)',
      issuer: decision.issuer,
      headersToSet: [],
      headersToRemove: config.publicRouteRemovals,
      wouldDeny: decision.reason,
    };
    return allowed;
  };
}
