/**
 * One generation of the server: a config, compiled, with its key sources and decider. Each step lives in
 * a module-level function on purpose: V8 gives every closure of a scope one shared context, so a closure
 * the new generation keeps (its decider's) must never be created in a scope whose other closures read
 * the previous generation, or each generation would keep the one before it alive
 * (test/ops/reload-memory.test.ts guards this).
 */
import type { Config, IssuerConfig } from '../config/schema.js';
import type { Logger } from '../core/log.js';
import type { CompiledConfig } from '../engine/compile.js';
import { createDecider, type DecideDeps, type Decider } from '../engine/decide.js';
import { compileWithKeySources } from '../engine/engine.js';
import { createKeySource, type KeySource, type KeySourceDeps, type SetTimer } from '../keys/key-source.js';
import type { Metrics } from '../ops/metrics.js';

export interface Generation {
  readonly config: Config;
  readonly compiled: CompiledConfig;
  readonly decide: Decider;
  readonly sources: ReadonlyMap<string, KeySource>;
  readonly loadedAt: Date;
}

export interface GenerationDeps {
  readonly createSource: (issuer: IssuerConfig) => KeySource;
  /** Whether a previous generation's source can serve this issuer as it is now configured. */
  readonly isReusable: (old: KeySource, issuer: IssuerConfig) => boolean;
  readonly decider: DecideDeps;
  readonly nowMs: () => number;
}

/** A compiled config with its key sources, before its decider (and token cache) is made. */
export interface CompiledGeneration {
  readonly config: Config;
  readonly compiled: CompiledConfig;
  readonly sources: ReadonlyMap<string, KeySource>;
  /** Sources made for this generation (not carried over); started when it is swapped in. */
  readonly fresh: readonly KeySource[];
}

/**
 * Compiles a generation, reusing `previousSources` whose issuer settings are identical (they keep their
 * keys; remote ones also heal on their own). Lives in its own function scope on purpose: V8 gives every
 * closure of a scope one shared context, so a closure the new generation keeps (its decider's) must not
 * be created in a scope whose other closures read the previous generation, or each generation would
 * keep the one before it, token cache and all, for ever. Only `previousSources` is read, never kept.
 */
export function compileGeneration(
  config: Config,
  previousSources: ReadonlyMap<string, KeySource> | undefined,
  deps: GenerationDeps,
): CompiledGeneration {
  const { compiled, sources, fresh } = compileWithKeySources(config, (issuer) => {
    const old = previousSources?.get(issuer.name);
    if (old !== undefined && deps.isReusable(old, issuer)) return { source: old, fresh: false };
    return { source: deps.createSource(issuer), fresh: true };
  });
  return { config, compiled, sources, fresh };
}

/** A separate scope again: the decider's context holds only what this function receives. */
export function generationOf(c: CompiledGeneration, deps: GenerationDeps): Generation {
  const { config, compiled, sources } = c;
  return { config, compiled, decide: createDecider(compiled, deps.decider), sources, loadedAt: new Date(deps.nowMs()) };
}

/** Closes key sources a replaced generation no longer shares, once its Checks can no longer wait on them. */
export function closeLater(sources: readonly KeySource[], afterMs: number, setTimer: SetTimer): void {
  if (sources.length > 0) setTimer(() => sources.forEach((source) => source.close()), afterMs);
}

function fingerprint(issuer: IssuerConfig): string {
  return JSON.stringify(issuer);
}

/** How a server makes key sources (logged, measured) and when a reload may keep one. */
export function keySourceFactory(
  log: Logger,
  metrics: Metrics,
  keyDeps: KeySourceDeps | undefined,
): Pick<GenerationDeps, 'createSource' | 'isReusable'> {
  const sourceFingerprints = new WeakMap<KeySource, string>();
  const createSource = (issuer: IssuerConfig): KeySource => {
    const source = createKeySource(issuer, {
      log: (level, msg, fields) => log[level]({ issuer: issuer.name, ...fields }, msg),
      onFetch: (result, kind) => metrics.observeKeyFetch(issuer.name, kind, result),
      ...keyDeps,
    });
    sourceFingerprints.set(source, fingerprint(issuer));
    return source;
  };
  const isReusable = (old: KeySource, issuer: IssuerConfig) =>
    sourceFingerprints.get(old) === fingerprint(issuer) &&
    // A JWKS file that could not be read is never retried by its source, so a reload reads it again.
    (issuer.jwks_file === undefined || old.ready());
  return { createSource, isReusable };
}
