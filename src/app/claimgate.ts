/**
 * Assembles a running claimgate from a validated config, in the order it starts: the first generation
 * (compiled config, key sources, decider), readiness, the Check observer and concurrency bound, the
 * listeners, gRPC health, hot reload (./reload.ts) and graceful shutdown. Each piece lives in its own
 * module; this file only wires them.
 */
import type { Config } from '../config/schema.js';
import { silentLogger, type Logger } from '../core/log.js';
import type { DecisionObserver } from '../core/types.js';
import { VERSION } from '../core/version.js';
import type { CompiledConfig } from '../engine/compile.js';
import type { Decide } from '../engine/decide.js';
import type { GrpcServer } from '../envoy/server.js';
import type { KeySource, KeySourceDeps, SetTimer } from '../keys/key-source.js';
import { unrefTimer } from '../keys/timers.js';
import type { HttpDeps } from '../lookup/http.js';
import type { AdminStatus } from '../ops/admin-server.js';
import { limitConcurrency } from '../ops/concurrency.js';
import { createShadowLogger } from '../ops/decision-log.js';
import { createMetrics, type Metrics } from '../ops/metrics.js';
import { compileGeneration, generationOf, keySourceFactory, type GenerationDeps } from './generation.js';
import { startListeners, type Listeners } from './listeners.js';
import { observeChecks } from './observe.js';
import { readinessOf, reportHealth, statusOf, type ServingState } from './readiness.js';
import { createReloader, warnShadowMode, type ReloadResult } from './reload.js';

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

export async function startClaimgate(initial: Config, options: ClaimgateOptions = {}): Promise<Claimgate> {
  const log = options.logger ?? silentLogger;
  const nowMs = options.nowMs ?? Date.now;
  const setTimer = options.setTimer ?? unrefTimer;
  const metrics = options.metrics ?? createMetrics({ version: VERSION });
  const generationDeps = generationDepsOf(log, metrics, options);

  const state: ServingState = {
    current: generationOf(compileGeneration(initial, undefined, generationDeps), generationDeps),
    draining: false,
  };
  warnShadowMode(log, initial);
  for (const source of state.current.sources.values()) source.start();
  metrics.markConfigLoaded(nowMs());

  const ready = readinessOf(state);
  metrics.setKeySources(() => state.current.sources.values());
  metrics.setReady(ready);
  const checks = observeChecks(log, metrics, initial, options.observe);
  // One bound for every adapter of this process; it reads the current config's decider per Check.
  const limit = limitConcurrency(
    () => state.current.decide,
    () => state.current.config.server.max_concurrent_checks,
  );
  metrics.setInFlight(limit.inFlight);
  metrics.setTokenCacheStats(() => state.current.decide.tokenCacheStats());
  const status = statusOf(state, ready);

  let listeners: Listeners;
  try {
    listeners = await startListeners(initial, {
      log,
      metrics,
      decider: () => limit.decide,
      realm: () => state.current.config.realm,
      observe: checks.observe,
      ready,
      status,
      jwks: () => state.current.compiled.upstreamIdentity?.jwks,
      admin: options.admin !== false,
      setTimer,
    });
  } catch (e) {
    for (const source of state.current.sources.values()) source.close();
    throw e;
  }
  const { grpc: grpcServer, admin, frontDoor, grpcTls } = listeners;
  const health = reportHealth(ready, state, grpcServer, log, setTimer);
  logListening(log, initial, listeners);

  const reloader = createReloader({
    state,
    generationDeps,
    log,
    metrics,
    nowMs,
    setTimer,
    health,
    applyLogging: checks.applyLogging,
    configFileText: options.configFileText,
  });

  return {
    grpcPort: grpcServer.port,
    adminPort: admin?.port,
    httpPort: frontDoor?.port,
    grpc: grpcServer,
    metrics,
    compiled: () => state.current.compiled,
    keySources: () => state.current.sources,
    decider: () => limit.decide,
    ready,
    status,
    whenSettled: () => health.settledOf(state.current),
    reload: reloader.reload,
    reloadFromFile: reloader.reloadFromFile,
    async close(graceMs = state.current.config.server.shutdown_grace_ms) {
      state.draining = true;
      health.stop();
      health.update();
      await Promise.all([grpcServer.shutdown(graceMs), frontDoor?.close(graceMs)]);
      grpcTls?.stop();
      await admin?.close();
      for (const source of state.current.sources.values()) source.close();
    },
  };
}

/**
 * How every generation of this server makes its key sources and decider. Made once, in a scope of its
 * own: a closure made next to code that reads the previous generation would keep it alive (see
 * ./generation.ts).
 */
function generationDepsOf(log: Logger, metrics: Metrics, options: ClaimgateOptions): GenerationDeps {
  const logShadow = createShadowLogger(log);
  return {
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
    nowMs: options.nowMs ?? Date.now,
  };
}

function logListening(log: Logger, initial: Config, { grpc, admin, frontDoor }: Listeners): void {
  log.info(
    {
      grpc: initial.server.grpc_address,
      grpc_port: grpc.port,
      admin: initial.server.admin_address,
      admin_port: admin?.port,
      http_port: frontDoor?.port,
      issuers: initial.issuers.map((i) => i.name),
      routes: initial.routes.length,
      version: VERSION,
    },
    'claimgate listening',
  );
}
