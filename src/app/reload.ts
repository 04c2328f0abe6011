/**
 * Hot reload of a running server. A reload builds and compiles the new config completely, then swaps one
 * reference: a Check reads the decider once when it starts, so it finishes on the config it started
 * with, and no Check ever sees a half-applied config. Key sources of issuers whose settings did not
 * change are carried over. A reload that fails anywhere keeps the previous config serving.
 *
 * Nothing here makes a closure the new generation keeps: its deps (`GenerationDeps`) are made once, by
 * the caller, in a scope that never reads a previous generation (see ./generation.ts).
 */
import type { Config } from '../config/schema.js';
import { lintConfig } from '../config/lint.js';
import type { Logger } from '../core/log.js';
import type { SetTimer } from '../keys/key-source.js';
import type { Metrics } from '../ops/metrics.js';
import { configTextHash, readConfigFileOffThread } from '../validation/config-file.js';
import {
  closeLater,
  compileGeneration,
  compileGenerationInSteps,
  generationOf,
  startInTurns,
  type CompiledGeneration,
  type Generation,
  type GenerationDeps,
} from './generation.js';
import type { HealthReporter, ServingState } from './readiness.js';

export type ReloadResult =
  { readonly ok: true; readonly changed: boolean } | { readonly ok: false; readonly problems: readonly string[] };

export interface Reloader {
  /** Validates, compiles and swaps in a new config; the old one keeps serving on failure. */
  readonly reload: (config: Config) => ReloadResult;
  /** Reads, validates and applies a config file; unchanged content is a no-op unless `force`. */
  readonly reloadFromFile: (path: string, force?: boolean) => Promise<ReloadResult>;
}

export interface ReloadDeps {
  readonly state: ServingState;
  readonly generationDeps: GenerationDeps;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly nowMs: () => number;
  readonly setTimer: SetTimer;
  readonly health: HealthReporter;
  /** Applies a swapped-in config's logging settings (level, decision log). */
  readonly applyLogging: (config: Config) => void;
  /** Text of the config file the server started from, so an unchanged file is not applied again. */
  readonly configFileText: string | undefined;
}

/** Lets the event loop answer Checks between the steps of a reload. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

const SHUTTING_DOWN: ReloadResult = Object.freeze({
  ok: false,
  problems: Object.freeze(['shutting down: reload ignored']),
});

/** The loud warning of a config in shadow mode, at start and at every reload that keeps it on. */
export function warnShadowMode(log: Logger, config: Config): void {
  if (config.shadow_mode)
    log.warn(
      { setting: 'shadow_mode' },
      'SHADOW MODE IS ON: every request the policy refuses is ALLOWED (without identity headers); for onboarding only',
    );
}

/** Settings read once, when the listeners start: a reload that changes them says so. */
function warnRestartOnly(log: Logger, config: Config, old: Config): void {
  for (const key of ['grpc_address', 'admin_address'] as const) {
    if (config.server[key] !== old.server[key])
      log.warn({ setting: `server.${key}` }, 'listen address changes take effect on restart only');
  }
  for (const key of ['http', 'tls', 'limits'] as const) {
    if (JSON.stringify(config[key]) !== JSON.stringify(old[key]))
      log.warn(
        { setting: key },
        `${key} settings take effect on restart only (certificate files are re-read on their own)`,
      );
  }
}

export function createReloader(deps: ReloadDeps): Reloader {
  const { state, generationDeps, log, metrics, nowMs, setTimer, health } = deps;
  // Warnings of a file's config are logged where it is read (serve at start, reloadFile), from the
  // validation pipeline, so check-config, serve and a reload report the same ones.
  const compileOn = (config: Config, previous?: Generation) =>
    compileGeneration(config, previous?.sources, generationDeps);

  let lastFileHash = deps.configFileText === undefined ? undefined : configTextHash(deps.configFileText);

  const reject = (problems: readonly string[], fields: Record<string, unknown> = {}): ReloadResult => {
    metrics.observeReload('failure', nowMs());
    log.error({ ...fields, problems }, 'config reload rejected; the previous config keeps serving');
    return { ok: false, problems };
  };

  /** Swaps in a compiled generation: from here on new Checks use it; Checks in flight finish on theirs. */
  const commit = (next: CompiledGeneration): ReloadResult => {
    const { config } = next;
    let generation: Generation;
    try {
      // The decider reads introspection and enrichment secrets: one that cannot be read refuses the reload.
      generation = generationOf(next, generationDeps);
    } catch (e) {
      for (const source of next.fresh) source.close();
      return reject([(e as Error).message]);
    }
    for (const source of next.fresh) source.start();
    const old = state.current;
    state.current = generation;
    deps.applyLogging(config);
    // Checks that started on the old config may still wait for its keys (up to the check deadline).
    closeLater(
      [...old.sources]
        .filter(([name, source]) => state.current.sources.get(name) !== source)
        .map(([, source]) => source),
      old.config.server.check_deadline_ms + 1000,
      setTimer,
    );
    warnRestartOnly(log, config, old.config);
    metrics.observeReload('success', nowMs());
    warnShadowMode(log, config);
    log.info(
      { issuers: config.issuers.map((i) => i.name), routes: config.routes.length, new_key_sources: next.fresh.length },
      'config reloaded',
    );
    health.update();
    void health.settledOf(state.current);
    return { ok: true, changed: true };
  };

  const reload = (config: Config): ReloadResult => {
    if (state.draining) return SHUTTING_DOWN;
    for (const warning of lintConfig(config)) log.warn({ warning }, 'config warning');
    let next: CompiledGeneration;
    try {
      next = compileOn(config, state.current);
    } catch (e) {
      return reject([(e as Error).message]);
    }
    return commit(next);
  };

  /**
   * A file reload in steps, each a short task of its own so Checks are answered in between: read, parse
   * and validate on a worker thread; compile in steps; start the new key sources a few per turn; make
   * the decider and swap. See docs/benchmarks.md.
   */
  const reloadFile = async (path: string, force: boolean): Promise<ReloadResult> => {
    if (state.draining) return SHUTTING_DOWN;
    const read = await readConfigFileOffThread({ path, unchangedHash: force ? undefined : lastFileHash });
    if (read.kind === 'unchanged') return { ok: true, changed: false };
    if (read.kind === 'invalid') return reject(read.problems, { file: path });
    for (const warning of read.warnings) log.warn({ file: path, warning }, 'config warning');
    await nextTurn();
    if (state.draining) return SHUTTING_DOWN;
    const base = state.current;
    let next: CompiledGeneration;
    try {
      next = await compileGenerationInSteps(read.config, base.sources, generationDeps, nextTurn);
    } catch (e) {
      return reject([(e as Error).message], { file: path });
    }
    // Its new key sources load their keys before the swap, a few per turn.
    await startInTurns(next.fresh, nextTurn, setTimer, () => !state.draining);
    if (state.draining || state.current !== base) next.fresh.forEach((source) => source.close());
    if (state.draining) return SHUTTING_DOWN;
    // A direct reload() won meanwhile: compile again on top of it, so carried-over sources are its own.
    if (state.current !== base) next = compileOn(read.config, state.current);
    const result = commit(next);
    lastFileHash = read.hash;
    return result;
  };
  // File reloads apply one at a time, in the order they were asked for.
  let fileReloads: Promise<unknown> = Promise.resolve();

  return {
    reload,
    reloadFromFile: (path, force = false) => {
      const run = fileReloads.then(() => reloadFile(path, force));
      fileReloads = run;
      return run;
    },
  };
}
