/**
 * Which tokens are opaque, and where each may be introspected: explicit config, never a guess.
 * A token with exactly two dots is a compact JWS and is always verified locally. Any other token is
 * opaque, and goes to the introspection endpoint of the first `opaque_tokens` rule whose `prefix` it
 * starts with (a rule without a prefix takes the rest); with no matching rule it is refused as before
 * (ERR_TOKEN_MALFORMED). An opaque token is never sent to every endpoint in turn.
 */
import type { CompiledConfig } from '../config/compile.js';
import { createIntrospector, type Introspector, type LookupDeps } from './introspector.js';

export type OpaqueRouter = (raw: string) => Introspector | undefined;

export function isCompactJws(raw: string): boolean {
  const first = raw.indexOf('.');
  if (first === -1) return false;
  const second = raw.indexOf('.', first + 1);
  return second !== -1 && raw.indexOf('.', second + 1) === -1;
}

/** Builds one introspector per issuer that has `introspection`; undefined when no rule is configured. */
export function createOpaqueRouter(config: CompiledConfig, deps: LookupDeps): OpaqueRouter | undefined {
  const rules = config.source.opaque_tokens;
  if (rules.length === 0) return undefined;
  const byName = new Map<string, Introspector>();
  for (const issuerConfig of config.source.issuers) {
    if (issuerConfig.introspection === undefined) continue;
    const compiled = config.issuers.get(issuerConfig.issuer);
    if (compiled === undefined) continue;
    byName.set(
      issuerConfig.name,
      createIntrospector(issuerConfig, issuerConfig.introspection, compiled, config.keyDeadlineMs, deps),
    );
  }
  const compiledRules = rules.map((r) => ({ prefix: r.prefix ?? '', introspector: byName.get(r.issuer)! }));
  return (raw) => {
    if (isCompactJws(raw)) return undefined;
    for (const rule of compiledRules) if (raw.startsWith(rule.prefix)) return rule.introspector;
    return undefined;
  };
}
