/**
 * Assembles a running claimgate from a validated config: key sources per issuer, the compiled
 * decision engine, the gRPC server, the admin listener (metrics, health), decision logs, hot reload
 * and graceful shutdown.
 *
 * Reload builds and compiles the new config completely, then swaps one reference: a Check reads the
 * decider once when it starts, so it finishes on the config it started with, and no Check ever sees a
 * half-applied config. Key sources of issuers whose settings did not change are carried over.
 */
import type { CompiledConfig } from '../engine/compile.js';
import { configTextHash, readConfigFileOffThread } from '../validation/config-file.js';
import { lintConfig } from '../config/lint.js';
import type { Config } from '../config/schema.js';
import type { Decide } from '../engine/decide.js';
import type { GrpcServer } from '../envoy/server.js';
import type { DecisionObserver } from '../core/types.js';
import type { KeySource, KeySourceDeps, SetTimer } from '../keys/key-source.js';
import { unrefTimer } from '../keys/timers.js';
import {
  closeLater,
  compileGeneration,
  generationOf,
  keySourceFactory,
  type CompiledGeneration,
  type Generation,
  type GenerationDeps,
} from './generation.js';
import { startListeners, type Listeners } from './listeners.js';
import { silentLogger, type Logger } from '../core/log.js';
import type { AdminStatus } from '../ops/admin-server.js';
import { createDecisionLogger, createShadowLogger } from '../ops/decision-log.js';
import { limitConcurrency } from '../ops/concurrency.js';
import { createMetrics, type Metrics } from '../ops/metrics.js';
import { isReady } from '../ops/readiness.js';
import type { HttpDeps } from '../lookup/http.js';
import { VERSION } from '../core/version.js';

export interface ClaimgateOptions {
  readonly logger?: Logger;
  /** The one clock of the process (config load times, reload metrics, token expiry); `Date.now` by default. */
  readonly nowMs?: () => number;
  /**
   * The one timer of the process (readiness polling, closing replaced key sources, TLS file re-reads);
   * unref'd real timers by default.
   */
  readonly setTimer?: SetTimer;
  /** Overrides for key sources (tests inject fetch and clocks). */
  readonly keyDeps?: KeySourceDeps;
  /** Extra observer of every answered Check (tests). */
  readonly observe?: DecisionObserver;
  /** Metrics registry owner; a fresh one by default. */
  readonly metrics?: Metrics;
  /** Text of the config file `initial` came from, so reloadFromFile skips an unchanged file. */
  readonly configFileText?: string;
  /** Overrides for introspection and enrichment calls (tests inject fetch). */
  readonly lookupDeps?: HttpDeps;
  /** Start the admin listener (default true; cluster workers leave it to the primary). */
  readonly admin?: boolean;
}

export type ReloadResult =
  { readonly ok: true; readonly changed: boolean } | { readonly ok: false; readonly problems: readonly string[] };

export interface Claimgate {
  readonly grpcPort: number;
  /** Port of the admin listener, when this process runs one. */
  readonly adminPort: number | undefined;
  /** Port of the HTTP front door (Envoy HTTP mode, forward auth), when `http` is configured. */
  readonly httpPort: number | undefined;
  readonly grpc: GrpcServer;
  readonly metrics: Metrics;
  /** The compiled config currently in use. */
  compiled(): CompiledConfig;
  /** Key sources of the current config, by issuer name. */
  keySources(): ReadonlyMap<string, KeySource>;
  /** The decider adapters use: the current config's, behind the concurrency bound. */
  decider(): Decide;
  /** The readiness policy holds and the server is not draining. */
  ready(): boolean;
  /** Readiness and per-issuer key state (admin `/status`, `claimgate status`). */
  readonly status: () => AdminStatus;
  /** Resolves once every current issuer's first key fetch has settled (success or failure). */
  whenSettled(): Promise<void>;
  /** Validates, compiles and swaps in a new config; the old one keeps serving on failure. */
  reload(config: Config): ReloadResult;
  /**
   * Reads, validates and applies a config file; unchanged content is a no-op unless `force` (SIGHUP).
   * Parsing runs on a worker thread; file reloads apply one at a time, in order.
   */
  reloadFromFile(path: string, force?: boolean): Promise<ReloadResult>;
  close(graceMs?: number): Promise<void>;
}

const READINESS_POLL_MS = 500;

/** Lets the event loop answer Checks between the steps of a reload. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

const SHUTTING_DOWN: ReloadResult = Object.freeze({
  ok: false,
  problems: Object.freeze(['shutting down: reload ignored']),
});

export async function startClaimgate(initial: Config, options: ClaimgateOptions = {}): Promise<Claimgate> {
  const log = options.logger ?? silentLogger;
  const nowMs = options.nowMs ?? Date.now;
  const setTimer = options.setTimer ?? unrefTimer;
  const metrics = options.metrics ?? createMetrics({ version: VERSION });
  const logShadow = createShadowLogger(log);
  const warnShadowMode = (config: Config) => {
    if (config.shadow_mode)
      log.warn(
        { setting: 'shadow_mode' },
        'SHADOW MODE IS ON: every request the policy refuses is ALLOWED (without identity headers); for onboarding only',
      );
  };
  // Made once, here: a closure made next to the code that reads the previous generation would keep it alive.
  const generationDeps: GenerationDeps = {
    ...keySourceFactory(log, metrics, options.keyDeps),
    decider: {
      nowMs: options.nowMs,
      onTokenCache: (r) => metrics.observeTokenCache(r),
      onShadowDisagreement: (event) => {
        metrics.observeShadowDisagreement(event);
        logShadow(event);
      },
      lookups: {
        ...options.lookupDeps,
        log: (level, msg, fields) => log[level](fields, msg),
        onCall: (kind, name, result, seconds) => metrics.observeLookup(kind, name, result, seconds),
        onCache: (kind, name, result) => metrics.observeLookupCache(kind, name, result),
      },
    },
    nowMs,
  };
  // Warnings of a file's config are logged where it is read (serve at start, reloadFile), from the
  // validation pipeline, so check-config, serve and a reload report the same ones.
  const compileOn = (config: Config, previous?: Generation) =>
    compileGeneration(config, previous?.sources, generationDeps);

  let current = generationOf(compileOn(initial), generationDeps);
  warnShadowMode(initial);
  for (const source of current.sources.values()) source.start();
  metrics.markConfigLoaded(nowMs());
  let draining = false;

  const ready = () => {
    if (draining) return false;
    const issuers = current.config.issuers.map((i) => ({
      ready: current.sources.get(i.name)?.ready() ?? false,
      required: i.required,
    }));
    return isReady(current.config.server.readiness, issuers);
  };
  metrics.setKeySources(() => current.sources.values());
  metrics.setReady(ready);

  const decisionLogOptions = (config: Config) => ({
    allowSampleRate: config.logging.allow_sample_rate,
    denialLinesPerSecond: config.logging.denial_lines_per_second,
    includeSubject: config.logging.include_subject,
  });
  let logDecision = createDecisionLogger(log, decisionLogOptions(initial));
  const observe: DecisionObserver = (view, decision, startedNs) => {
    const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
    metrics.observeCheck(decision, seconds);
    logDecision(view, decision, seconds);
    options.observe?.(view, decision, startedNs);
  };

  // One bound for every adapter of this process; it reads the current config's decider per Check.
  const limit = limitConcurrency(
    () => current.decide,
    () => current.config.server.max_concurrent_checks,
  );
  metrics.setInFlight(limit.inFlight);
  metrics.setTokenCacheStats(() => current.decide.tokenCacheStats());
  const status = (): AdminStatus => ({
    ready: ready(),
    config_loaded_at: current.loadedAt.toISOString(),
    issuers: [...current.sources.values()].map((s) => s.state()),
    ...(current.compiled.upstreamIdentity === undefined
      ? {}
      : { upstream_identity_jwks: current.compiled.upstreamIdentity.jwks }),
  });
  let listeners: Listeners;
  try {
    listeners = await startListeners(initial, {
      log,
      metrics,
      decider: () => limit.decide,
      realm: () => current.config.realm,
      observe,
      ready,
      status,
      jwks: () => current.compiled.upstreamIdentity?.jwks,
      admin: options.admin !== false,
      setTimer,
    });
  } catch (e) {
    for (const source of current.sources.values()) source.close();
    throw e;
  }
  const { grpc: grpcServer, admin, frontDoor, grpcTls } = listeners;

  let serving = false;
  const updateHealth = () => {
    const now = ready();
    if (now !== serving) {
      serving = now;
      grpcServer.setServing(now ? 'SERVING' : 'NOT_SERVING');
      if (!draining)
        log.info({ ready: now }, now ? 'ready: signing keys available' : 'not ready: waiting for signing keys');
    }
  };
  updateHealth();
  let cancelReadinessPoll = setTimer(function poll() {
    updateHealth();
    cancelReadinessPoll = setTimer(poll, READINESS_POLL_MS);
  }, READINESS_POLL_MS);
  const settledOf = (g: Generation) =>
    Promise.all([...g.sources.values()].map((s) => s.whenSettled())).then(() => updateHealth());

  log.info(
    {
      grpc: initial.server.grpc_address,
      grpc_port: grpcServer.port,
      admin: initial.server.admin_address,
      admin_port: admin?.port,
      http_port: frontDoor?.port,
      issuers: initial.issuers.map((i) => i.name),
      routes: initial.routes.length,
      version: VERSION,
    },
    'claimgate listening',
  );

  let lastFileHash = options.configFileText === undefined ? undefined : configTextHash(options.configFileText);

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
    const old = current;
    current = generation;
    // The decision logger is a child: create it after the level changes so it inherits the new level.
    log.level = config.logging.level;
    logDecision = createDecisionLogger(log, decisionLogOptions(config));
    // Checks that started on the old config may still wait for its keys (up to the check deadline).
    closeLater(
      [...old.sources].filter(([name, source]) => current.sources.get(name) !== source).map(([, source]) => source),
      old.config.server.check_deadline_ms + 1000,
      setTimer,
    );
    for (const key of ['grpc_address', 'admin_address'] as const) {
      if (config.server[key] !== old.config.server[key])
        log.warn({ setting: `server.${key}` }, 'listen address changes take effect on restart only');
    }
    for (const key of ['http', 'tls', 'limits'] as const) {
      if (JSON.stringify(config[key]) !== JSON.stringify(old.config[key]))
        log.warn(
          { setting: key },
          `${key} settings take effect on restart only (certificate files are re-read on their own)`,
        );
    }
    metrics.observeReload('success', nowMs());
    warnShadowMode(config);
    log.info(
      { issuers: config.issuers.map((i) => i.name), routes: config.routes.length, new_key_sources: next.fresh.length },
      'config reloaded',
    );
    updateHealth();
    void settledOf(current);
    return { ok: true, changed: true };
  };

  const reload = (config: Config): ReloadResult => {
    if (draining) return SHUTTING_DOWN;
    for (const warning of lintConfig(config)) log.warn({ warning }, 'config warning');
    let next: CompiledGeneration;
    try {
      next = compileOn(config, current);
    } catch (e) {
      return reject([(e as Error).message]);
    }
    return commit(next);
  };

  /**
   * A file reload in steps, each a short task of its own so Checks are answered in between: read, parse
   * and validate on a worker thread; compile; make the decider and swap. See docs/benchmarks.md.
   */
  const reloadFile = async (path: string, force: boolean): Promise<ReloadResult> => {
    if (draining) return SHUTTING_DOWN;
    const read = await readConfigFileOffThread({ path, unchangedHash: force ? undefined : lastFileHash });
    if (read.kind === 'unchanged') return { ok: true, changed: false };
    if (read.kind === 'invalid') return reject(read.problems, { file: path });
    for (const warning of read.warnings) log.warn({ file: path, warning }, 'config warning');
    await nextTurn();
    if (draining) return SHUTTING_DOWN;
    const base = current;
    let next: CompiledGeneration;
    try {
      next = compileOn(read.config, base);
    } catch (e) {
      return reject([(e as Error).message], { file: path });
    }
    await nextTurn();
    if (draining) return SHUTTING_DOWN;
    // A direct reload() won meanwhile: compile again on top of it, so carried-over sources are its own.
    if (current !== base) next = compileOn(read.config, current);
    const result = commit(next);
    lastFileHash = read.hash;
    return result;
  };
  // File reloads apply one at a time, in the order they were asked for.
  let fileReloads: Promise<unknown> = Promise.resolve();

  return {
    grpcPort: grpcServer.port,
    adminPort: admin?.port,
    httpPort: frontDoor?.port,
    grpc: grpcServer,
    metrics,
    compiled: () => current.compiled,
    keySources: () => current.sources,
    decider: () => limit.decide,
    ready,
    status,
    whenSettled: () => settledOf(current),
    reload,
    reloadFromFile(path, force = false) {
      const run = fileReloads.then(() => reloadFile(path, force));
      fileReloads = run;
      return run;
    },
    async close(graceMs = current.config.server.shutdown_grace_ms) {
      draining = true;
      cancelReadinessPoll();
      updateHealth();
      await Promise.all([grpcServer.shutdown(graceMs), frontDoor?.close(graceMs)]);
      grpcTls?.stop();
      await admin?.close();
      for (const source of current.sources.values()) source.close();
    },
  };
}
