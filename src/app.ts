/**
 * Assembles a running claimgate from a validated config: key sources per issuer, the compiled
 * decision engine, the gRPC server, the admin listener (metrics, health), decision logs, hot reload
 * and graceful shutdown.
 *
 * Reload builds and compiles the new config completely, then swaps one reference: a Check reads the
 * decider once when it starts, so it finishes on the config it started with, and no Check ever sees a
 * half-applied config. Key sources of issuers whose settings did not change are carried over.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { compileConfig, type CompiledConfig } from './config/compile.js';
import { ConfigError, parseConfigText } from './config/load.js';
import type { Config, IssuerConfig } from './config/schema.js';
import { createDecider, type Decide } from './engine/decide.js';
import { startGrpcServer, type DecisionObserver, type GrpcServer } from './envoy/server.js';
import { createKeySource, type KeySource, type KeySourceDeps } from './keys/key-source.js';
import { silentLogger, type Logger } from './log.js';
import { frontDoorOptionsFromConfig, startHttpFrontDoor, type HttpFrontDoor } from './http/server.js';
import { compileClientCheck, grpcServerCredentials } from './net/tls.js';
import { startAdminServer, type AdminServer, type AdminStatus } from './ops/admin-server.js';
import { createDecisionLogger, createShadowLogger } from './ops/decision-log.js';
import { limitConcurrency } from './ops/concurrency.js';
import { createMetrics, type Metrics } from './ops/metrics.js';
import { isReady } from './ops/readiness.js';
import { VERSION } from './version.js';

export interface ClaimgateOptions {
  readonly logger?: Logger;
  readonly nowMs?: () => number;
  /** Overrides for key sources (tests inject fetch and clocks). */
  readonly keyDeps?: KeySourceDeps;
  /** Extra observer of every answered Check (tests). */
  readonly observe?: DecisionObserver;
  /** Metrics registry owner; a fresh one by default. */
  readonly metrics?: Metrics;
  /** Text of the config file `initial` came from, so reloadFromFile skips an unchanged file. */
  readonly configFileText?: string;
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
  status(): AdminStatus;
  /** Resolves once every current issuer's first key fetch has settled (success or failure). */
  whenSettled(): Promise<void>;
  /** Validates, compiles and swaps in a new config; the old one keeps serving on failure. */
  reload(config: Config): ReloadResult;
  /** Reads, validates and applies a config file; unchanged content is a no-op unless `force` (SIGHUP). */
  reloadFromFile(path: string, force?: boolean): ReloadResult;
  close(graceMs?: number): Promise<void>;
}

interface Generation {
  readonly config: Config;
  readonly compiled: CompiledConfig;
  readonly decide: Decide;
  readonly sources: ReadonlyMap<string, KeySource>;
  readonly loadedAt: Date;
}

const READINESS_POLL_MS = 500;

function fingerprint(issuer: IssuerConfig): string {
  return JSON.stringify(issuer);
}

export async function startClaimgate(initial: Config, options: ClaimgateOptions = {}): Promise<Claimgate> {
  const log = options.logger ?? silentLogger;
  const metrics = options.metrics ?? createMetrics({ version: VERSION });
  const sourceFingerprints = new WeakMap<KeySource, string>();

  const createSource = (issuer: IssuerConfig): KeySource => {
    const source = createKeySource(issuer, {
      log: (level, msg, fields) => log[level]({ issuer: issuer.name, ...fields }, msg),
      onFetch: (result, kind) => metrics.observeKeyFetch(issuer.name, kind, result),
      ...options.keyDeps,
    });
    sourceFingerprints.set(source, fingerprint(issuer));
    return source;
  };

  /** Builds a generation; reuses `previous` key sources whose issuer settings are identical. */
  const build = (config: Config, previous?: Generation): { generation: Generation; fresh: KeySource[] } => {
    const sources = new Map<string, KeySource>();
    const fresh: KeySource[] = [];
    const compiled = compileConfig(config, (issuer) => {
      const old = previous?.sources.get(issuer.name);
      // Sources with identical settings keep their keys (remote ones also heal on their own). A JWKS
      // file that could not be read is never retried by its source, so a reload reads it again.
      const reusable =
        old !== undefined &&
        sourceFingerprints.get(old) === fingerprint(issuer) &&
        (issuer.jwks_file === undefined || old.ready());
      if (old !== undefined && reusable) {
        sources.set(issuer.name, old);
        return old;
      }
      const source = createSource(issuer);
      fresh.push(source);
      sources.set(issuer.name, source);
      return source;
    });
    const decide = createDecider(compiled, {
      nowMs: options.nowMs,
      onTokenCache: (r) => metrics.observeTokenCache(r),
      onShadowDisagreement: (event) => {
        metrics.observeShadowDisagreement(event);
        logShadow(event);
      },
    });
    return { generation: { config, compiled, decide, sources, loadedAt: new Date() }, fresh };
  };

  const logShadow = createShadowLogger(log);
  const warnShadowMode = (config: Config) => {
    if (config.shadow_mode)
      log.warn(
        { setting: 'shadow_mode' },
        'SHADOW MODE IS ON: every request the policy refuses is ALLOWED (without identity headers); for onboarding only',
      );
  };
  let current = build(initial).generation;
  warnShadowMode(initial);
  for (const source of current.sources.values()) source.start();
  metrics.markConfigLoaded(Date.now());
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
  const status = (): AdminStatus => ({
    ready: ready(),
    config_loaded_at: current.loadedAt.toISOString(),
    issuers: [...current.sources.values()].map((s) => s.state()),
  });
  let grpcTls: ReturnType<typeof grpcServerCredentials> | undefined;
  let grpc: GrpcServer | undefined;
  let admin: AdminServer | undefined;
  let frontDoor: HttpFrontDoor | undefined;
  // Listeners start in order; if one fails, everything started before it is stopped again.
  try {
    grpcTls =
      initial.tls === undefined
        ? undefined
        : grpcServerCredentials(initial.tls, (e) =>
            log.error({ err: e.message }, 'cannot reload TLS certificate; keeping the previous one'),
          );
    grpc = await startGrpcServer({
      address: initial.server.grpc_address,
      decider: () => limit.decide,
      observe,
      ...(grpcTls === undefined
        ? {}
        : { credentials: grpcTls.credentials, clientAllowed: compileClientCheck(initial.tls?.allowed_clients) }),
    });
    if (options.admin !== false) {
      admin = await startAdminServer({
        address: initial.server.admin_address,
        metrics: () => metrics.registry.metrics(),
        metricsContentType: metrics.registry.contentType,
        ready,
        status,
      });
    }
    if (initial.http !== undefined) {
      frontDoor = await startHttpFrontDoor(
        frontDoorOptionsFromConfig(initial.http, {
          decider: () => limit.decide,
          realm: () => current.config.realm,
          observe,
          logger: log,
          tls: initial.tls,
        }),
      );
    }
  } catch (e) {
    await Promise.all([grpc?.shutdown(0), admin?.close(), frontDoor?.close(0)]);
    grpcTls?.stop();
    for (const source of current.sources.values()) source.close();
    throw e;
  }
  const grpcServer = grpc;

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
  const readinessTimer = setInterval(updateHealth, READINESS_POLL_MS);
  readinessTimer.unref();
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

  const hashOf = (text: string) => createHash('sha256').update(text).digest('hex');
  let lastFileHash = options.configFileText === undefined ? undefined : hashOf(options.configFileText);

  const reload = (config: Config): ReloadResult => {
    if (draining) return { ok: false, problems: ['shutting down: reload ignored'] };
    let next: { generation: Generation; fresh: KeySource[] };
    try {
      next = build(config, current);
    } catch (e) {
      metrics.observeReload('failure', Date.now());
      const problems = [(e as Error).message];
      log.error({ problems }, 'config reload rejected; the previous config keeps serving');
      return { ok: false, problems };
    }
    for (const source of next.fresh) source.start();
    const old = current;
    current = next.generation;
    // The decision logger is a child: create it after the level changes so it inherits the new level.
    log.level = config.logging.level;
    logDecision = createDecisionLogger(log, decisionLogOptions(config));
    // Checks that started on the old config may still wait for its keys (up to the check deadline).
    const retired = [...old.sources]
      .filter(([name, source]) => current.sources.get(name) !== source)
      .map(([, source]) => source);
    if (retired.length > 0)
      setTimeout(() => retired.forEach((source) => source.close()), old.config.server.check_deadline_ms + 1000).unref();
    for (const key of ['grpc_address', 'admin_address'] as const) {
      if (config.server[key] !== old.config.server[key])
        log.warn({ setting: `server.${key}` }, 'listen address changes take effect on restart only');
    }
    for (const key of ['http', 'tls'] as const) {
      if (JSON.stringify(config[key]) !== JSON.stringify(old.config[key]))
        log.warn(
          { setting: key },
          `${key} settings take effect on restart only (certificate files are re-read on their own)`,
        );
    }
    metrics.observeReload('success', Date.now());
    warnShadowMode(config);
    log.info(
      { issuers: config.issuers.map((i) => i.name), routes: config.routes.length, new_key_sources: next.fresh.length },
      'config reloaded',
    );
    updateHealth();
    void settledOf(current);
    return { ok: true, changed: true };
  };

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
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (e) {
        metrics.observeReload('failure', Date.now());
        const problems = [`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`];
        log.error({ problems }, 'config reload rejected; the previous config keeps serving');
        return { ok: false, problems };
      }
      const hash = hashOf(text);
      if (hash === lastFileHash && !force) return { ok: true, changed: false };
      let config: Config;
      try {
        config = parseConfigText(text, path);
      } catch (e) {
        metrics.observeReload('failure', Date.now());
        const problems = e instanceof ConfigError ? e.problems : [(e as Error).message];
        log.error({ file: path, problems }, 'config reload rejected; the previous config keeps serving');
        return { ok: false, problems };
      }
      const result = reload(config);
      if (result.ok) lastFileHash = hash;
      return result;
    },
    async close(graceMs = current.config.server.shutdown_grace_ms) {
      draining = true;
      clearInterval(readinessTimer);
      updateHealth();
      await Promise.all([grpcServer.shutdown(graceMs), frontDoor?.close(graceMs)]);
      grpcTls?.stop();
      await admin?.close();
      for (const source of current.sources.values()) source.close();
    },
  };
}
