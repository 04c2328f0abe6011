/**
 * Decision → HTTP answer, the HTTP analogue of `src/envoy/response.ts`. Denials reuse the shared
 * challenge, problem body and reason header (`src/engine/answer.ts`); this file only decides which
 * headers an allow carries for each front door.
 *
 * - **Envoy HTTP service mode**: 200 with each identity header claimgate sets (Envoy copies those
 *   listed in `allowed_upstream_headers` onto the upstream request, overwriting a client copy) and
 *   `x-envoy-auth-headers-to-remove: a, b` listing the owned headers it does not set (and the token's
 *   header with `strip_token`). Envoy applies removals after setting, so a header that is set is
 *   never listed for removal. Any 5xx is an authorization *error* to Envoy (`status_on_error`; allowed
 *   through only under `failure_mode_allow`, which must stay off).
 * - **Forward-auth mode**: 200 with each identity header set, for the proxy to copy. The proxy's own
 *   config clears client copies of every owned header (see docs/proxies.md); this answer lists nothing
 *   to remove because no forward-auth proxy reads such a list.
 */
import { denialHeaders, problemBody, REASON_HEADER } from '../engine/answer.js';
import type { AllowDecision, Decision, DenyDecision } from '../engine/types.js';

/** The response header Envoy's HTTP ext_authz client reads for upstream header removals. */
export const ENVOY_HEADERS_TO_REMOVE = 'x-envoy-auth-headers-to-remove';

/** Fixed-text detail of an adapter refusal (which forwarded header was wrong); never request data. */
export const DETAIL_HEADER = 'x-claimgate-detail';

export type FrontDoorMode = 'envoy' | 'forward-auth';

export interface HttpAnswer {
  readonly status: number;
  /** Lower-case name/value pairs, in order. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: string;
}

export function toHttpAnswer(decision: Decision, mode: FrontDoorMode | 'direct'): HttpAnswer {
  if (decision.outcome === 'allow') return allowAnswer(decision, mode === 'direct' ? 'forward-auth' : mode);
  // Both doors read any 2xx as "allow": a document is delivered only to a direct request; through a door
  // the request passes like a public route (owned headers stripped) and the proxy routes the path here.
  if (decision.document !== undefined && mode !== 'direct')
    return allowAnswer(
      {
        outcome: 'allow',
        reason: decision.reason,
        route: '',
        headersToSet: [],
        headersToRemove: decision.headersToRemove ?? [],
      },
      mode,
    );
  return denyAnswer(decision);
}

function allowAnswer(decision: AllowDecision, mode: FrontDoorMode): HttpAnswer {
  const headers: [string, string][] = [];
  const setNames = new Set<string>();
  for (const h of decision.headersToSet) {
    const name = h.name.toLowerCase();
    setNames.add(name);
    headers.push([name, h.value]);
  }
  if (mode === 'envoy') {
    const removals: string[] = [];
    for (const name of decision.headersToRemove) {
      const lower = name.toLowerCase();
      if (!setNames.has(lower) && !removals.includes(lower)) removals.push(lower);
    }
    if (removals.length > 0) headers.push([ENVOY_HEADERS_TO_REMOVE, removals.join(', ')]);
  }
  headers.push(['cache-control', 'no-store']);
  headers.push([REASON_HEADER, decision.reason]);
  return { status: 200, headers, body: '' };
}

function denyAnswer(decision: DenyDecision): HttpAnswer {
  return {
    status: decision.status,
    headers: denialHeaders(decision).map((h) => [h.name.toLowerCase(), h.value] as const),
    body: problemBody(decision),
  };
}
