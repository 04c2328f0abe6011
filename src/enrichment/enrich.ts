/** The enrichment step of a Check: every enricher that applies to the token's issuer, in config order. */
import type { CompiledConfig } from '../config/compile.js';
import type { Principal } from '../engine/principal.js';
import type { LookupDeps } from '../introspection/introspector.js';
import { createEnricher, type Enricher } from './enricher.js';

export function createEnrichers(config: CompiledConfig, deps: LookupDeps): readonly Enricher[] {
  return config.source.enrichment.map((e) => createEnricher(e, config.keyDeadlineMs, deps));
}

/** The enriched principal, or undefined when a lookup failed (the Check gets an error answer). */
export async function enrichPrincipal(
  enrichers: readonly Enricher[],
  principal: Principal,
): Promise<Principal | undefined> {
  let current = principal;
  for (const enricher of enrichers) {
    if (!enricher.appliesTo(principal.issuer)) continue;
    try {
      current = await enricher.enrich(current);
    } catch {
      return undefined;
    }
  }
  return current;
}
