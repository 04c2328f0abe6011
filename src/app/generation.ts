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
import { compileWithKeySources, compileWithKeySourcesInSteps, type KeySourceChooser } from '../engine/engine.js';
import { createKeySource, type KeySource, type KeySourceDeps, type SetTimer } from '../keys/key-source.js';
import type { CancelTimer } from '../keys/timers.js';
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
 * keys; remote ones also heal on their own). Only `previousSources` is read, never kept: see
 * {@link chooseKeySources}.
 */
export function compileGeneration(
  config: Config,
  previousSources: ReadonlyMap<string, KeySource> | undefined,
  deps: GenerationDeps,
): CompiledGeneration {
  return { config, ...compileWithKeySources(config, chooseKeySources(previousSources, deps)) };
}

/**
 * {@link compileGeneration} in steps of a few milliseconds, awaiting `betweenSteps` between them, so
 * Checks are answered while a large config compiles (a file reload).
 */
export async function compileGenerationInSteps(
  config: Config,
  previousSources: ReadonlyMap<string, KeySource> | undefined,
  deps: GenerationDeps,
  betweenSteps: () => Promise<void>,
): Promise<CompiledGeneration> {
  const chooser = chooseKeySources(previousSources, deps);
  return { config, ...(await compileWithKeySourcesInSteps(config, chooser, betweenSteps)) };
}

/**
 * Lives in its own function scope on purpose: V8 gives every closure of a scope one shared context, so
 * a closure the new generation keeps (its decider's) must not be created in a scope whose other
 * closures read the previous generation, or each generation would keep the one before it, token cache
 * and all, for ever. The chooser made here is the only closure that reads `previousSources`.
 */
function chooseKeySources(
  previousSources: ReadonlyMap<string, KeySource> | undefined,
  deps: GenerationDeps,
): KeySourceChooser {
  return (issuer) => {
    const old = previousSources?.get(issuer.name);
    if (old !== undefined && deps.isReusable(old, issuer)) return { source: old, fresh: false };
    return { source: deps.createSource(issuer), fresh: true };
  };
}

/** Fresh key sources started per turn by {@link startInTurns}. */
const SOURCES_PER_TURN = 8;
/** How long a turn waits for its JWKS files at most (a file on a stalled mount or a FIFO must not stall reloads). */
export const FILE_LOAD_WAIT_MS = 2000;

/**
 * Starts a generation's fresh key sources a few per turn, before it is swapped in. Each local JWKS file
 * is read and imported (parse, key import, curve checks) on the event loop: started all at once, their
 * reads finish together and their imports run as one long task. A turn waits for its file sources'
 * first load (at most FILE_LOAD_WAIT_MS), so the new generation arrives with its file keys loaded;
 * remote sources only begin their first fetch (a Check joins it, within its deadline), as they did when
 * started at the swap.
 */
export async function startInTurns(
  sources: readonly KeySource[],
  betweenTurns: () => Promise<void>,
  setTimer: SetTimer,
  /** Checked before each turn: once false (shutdown began), no further source is started. */
  stillWanted: () => boolean = () => true,
): Promise<void> {
  for (let i = 0; i < sources.length && stillWanted(); i += SOURCES_PER_TURN) {
    const turn = sources.slice(i, i + SOURCES_PER_TURN);
    for (const source of turn) source.start();
    const files = turn.filter((source) => source.fromFile === true);
    if (files.length > 0) {
      let cancel: CancelTimer | undefined;
      const waited = new Promise<void>((resolve) => (cancel = setTimer(resolve, FILE_LOAD_WAIT_MS)));
      await Promise.race([Promise.all(files.map((source) => source.whenSettled())), waited]);
      cancel?.();
    }
    await betweenTurns();
  }
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
