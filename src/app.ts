/**
 * Assembles a running claimgate from a validated config: key sources per issuer, the compiled
 * decision engine, and the gRPC server with health tracking key readiness.
 */
import type { Config, IssuerConfig } from './config/schema.js';
import { compileConfig, type CompiledConfig } from './config/compile.js';
import { createDecider, type Decide } from './engine/decide.js';
import { startGrpcServer, type DecisionObserver, type GrpcServer } from './envoy/server.js';
import { createKeySource, type KeySource, type KeySourceDeps } from './keys/key-source.js';
import { silentLogger, type Logger } from './log.js';

export interface ClaimgateOptions {
  readonly logger?: Logger;
  readonly nowMs?: () => number;
  /** Overrides for key sources (tests inject fetch and clocks). */
  readonly keyDeps?: KeySourceDeps;
  readonly observe?: DecisionObserver;
}

export interface Claimgate {
  readonly grpcPort: number;
  readonly grpc: GrpcServer;
  readonly compiled: CompiledConfig;
  readonly keySources: ReadonlyMap<string, KeySource>;
  /** The decider of the current config (protocol adapters call it once per request). */
  decider(): Decide;
  /** The readiness policy holds (keys present for all / any issuer). */
  ready(): boolean;
  /** Resolves once every issuer's first key fetch has settled (success or failure). */
  whenSettled(): Promise<void>;
  close(graceMs?: number): Promise<void>;
}

const READINESS_POLL_MS = 500;

export async function startClaimgate(config: Config, options: ClaimgateOptions = {}): Promise<Claimgate> {
  const log = options.logger ?? silentLogger;
  const keySources = new Map<string, KeySource>();
  const keySourceFor = (issuer: IssuerConfig): KeySource => {
    const source = createKeySource(issuer, {
      log: (level, msg, fields) => log[level]({ issuer: issuer.name, ...fields }, msg),
      ...options.keyDeps,
    });
    keySources.set(issuer.name, source);
    return source;
  };
  const compiled = compileConfig(config, keySourceFor);
  const decide: Decide = createDecider(compiled, { nowMs: options.nowMs });
  for (const source of keySources.values()) source.start();

  const ready = () => {
    const states = [...keySources.values()].map((s) => s.ready());
    return config.server.readiness === 'any_issuer' ? states.some(Boolean) : states.every(Boolean);
  };

  const grpc = await startGrpcServer({ address: config.server.grpc_address, decider: () => decide, observe: options.observe });
  let serving = false;
  const updateHealth = () => {
    const now = ready();
    if (now !== serving) {
      serving = now;
      grpc.setServing(now ? 'SERVING' : 'NOT_SERVING');
      log.info({ ready: now }, now ? 'ready: signing keys available' : 'not ready: waiting for signing keys');
    }
  };
  updateHealth();
  const readinessTimer = setInterval(updateHealth, READINESS_POLL_MS);
  readinessTimer.unref();
  const settled = Promise.all([...keySources.values()].map((s) => s.whenSettled())).then(() => updateHealth());

  log.info({ address: config.server.grpc_address, port: grpc.port, issuers: config.issuers.map((i) => i.name), routes: config.routes.length }, 'claimgate listening');

  return {
    grpcPort: grpc.port,
    grpc,
    compiled,
    keySources,
    decider: () => decide,
    ready,
    whenSettled: () => settled,
    async close(graceMs = config.server.shutdown_grace_ms) {
      clearInterval(readinessTimer);
      await grpc.shutdown(graceMs);
      for (const source of keySources.values()) source.close();
    },
  };
}
