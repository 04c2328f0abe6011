/**
 * The engine factory: one validated config in, a decider with its key sources out. Every caller that
 * needs decisions (the server's generations, the tests, the bench) builds them here, so "compile,
 * start the key sources, create the decider" is written once.
 */
import type { Config, IssuerConfig } from '../config/schema.js';
import { createKeySource, type KeySource, type KeySourceDeps } from '../keys/key-source.js';
import { compileConfig, compileConfigInSteps, type CompiledConfig } from './compile.js';
import { createDecider, type DecideDeps, type Decider } from './decide.js';

/** A compiled config and the key source of each issuer it names. */
export interface CompiledWithKeys {
  readonly compiled: CompiledConfig;
  /** Key source by issuer name. */
  readonly sources: ReadonlyMap<string, KeySource>;
  /** Sources made for this config (not handed in by `keySourceFor` from an earlier one); not started yet. */
  readonly fresh: readonly KeySource[];
}

/** Supplies an issuer's key source and says whether it was made for this config (not carried over). */
export type KeySourceChooser = (issuer: IssuerConfig) => { readonly source: KeySource; readonly fresh: boolean };

/**
 * Compiles `config`, asking `keySourceFor` for each issuer's key source (a reload hands back the sources
 * of unchanged issuers).
 */
export function compileWithKeySources(config: Config, keySourceFor: KeySourceChooser): CompiledWithKeys {
  const collected = collectKeySources(keySourceFor);
  return { compiled: compileConfig(config, collected.factory), sources: collected.sources, fresh: collected.fresh };
}

/** {@link compileWithKeySources} in steps, awaiting `betweenSteps` between them (a file reload). */
export async function compileWithKeySourcesInSteps(
  config: Config,
  keySourceFor: KeySourceChooser,
  betweenSteps: () => Promise<void>,
): Promise<CompiledWithKeys> {
  const collected = collectKeySources(keySourceFor);
  const compiled = await compileConfigInSteps(config, collected.factory, betweenSteps);
  return { compiled, sources: collected.sources, fresh: collected.fresh };
}

/**
 * A module-level function on purpose: its factory is the only closure that sees `keySourceFor`, so
 * nothing the compiled config keeps can retain what `keySourceFor` reads (the previous generation).
 */
function collectKeySources(keySourceFor: KeySourceChooser) {
  const sources = new Map<string, KeySource>();
  const fresh: KeySource[] = [];
  const factory = (issuer: IssuerConfig): KeySource => {
    const made = keySourceFor(issuer);
    if (made.fresh) fresh.push(made.source);
    sources.set(issuer.name, made.source);
    return made.source;
  };
  return { sources, fresh, factory };
}

export interface EngineDeps {
  /** Clock, fetch and timers of the key sources. */
  readonly keys?: KeySourceDeps;
  /** Clock and token-cache observer of the decider. */
  readonly decider?: DecideDeps;
}

export interface Engine {
  readonly config: Config;
  readonly compiled: CompiledConfig;
  readonly decide: Decider;
  /** Key source by issuer name. */
  readonly sources: ReadonlyMap<string, KeySource>;
  /** Resolves once every issuer's first key load has settled (success or failure). */
  readonly whenSettled: () => Promise<void>;
  /** Stops every key source (timers, fetches). */
  readonly close: () => void;
}

/** A standalone engine: compiles `config`, starts its key sources and creates its decider. */
export function createEngine(config: Config, deps: EngineDeps = {}): Engine {
  const keyDeps = deps.keys ?? {};
  const { compiled, sources, fresh } = compileWithKeySources(config, (issuer) => ({
    source: createKeySource(issuer, keyDeps),
    fresh: true,
  }));
  for (const source of fresh) source.start();
  return engineOf(config, compiled, sources, deps.decider ?? {});
}

function engineOf(
  config: Config,
  compiled: CompiledConfig,
  sources: ReadonlyMap<string, KeySource>,
  deciderDeps: DecideDeps,
): Engine {
  const all = [...sources.values()];
  return {
    config,
    compiled,
    decide: createDecider(compiled, deciderDeps),
    sources,
    whenSettled: async () => {
      await Promise.all(all.map((s) => s.whenSettled()));
    },
    close: () => all.forEach((s) => s.close()),
  };
}
