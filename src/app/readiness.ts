/**
 * Readiness of one running server: whether it may take traffic (the readiness policy over the current
 * generation's key sources, and not draining), the gRPC health status that follows it, and the status
 * the admin listener and `claimgate status` report.
 */
import type { GrpcServer } from '../envoy/server.js';
import type { Logger } from '../core/log.js';
import type { SetTimer } from '../keys/key-source.js';
import type { AdminStatus } from '../ops/admin-server.js';
import { isReady } from '../ops/readiness.js';
import type { Generation } from './generation.js';

/** What readiness, reload and the adapters share: the generation in use, and whether the server drains. */
export interface ServingState {
  current: Generation;
  draining: boolean;
}

const READINESS_POLL_MS = 500;

/** The readiness policy holds and the server is not draining. */
export function readinessOf(state: ServingState): () => boolean {
  return () => {
    if (state.draining) return false;
    const { current } = state;
    const issuers = current.config.issuers.map((i) => ({
      ready: current.sources.get(i.name)?.ready() ?? false,
      required: i.required,
    }));
    return isReady(current.config.server.readiness, issuers);
  };
}

/** Readiness and per-issuer key state (admin `/status`, `claimgate status`). */
export function statusOf(state: ServingState, ready: () => boolean): () => AdminStatus {
  return () => {
    const { current } = state;
    return {
      ready: ready(),
      config_loaded_at: current.loadedAt.toISOString(),
      issuers: [...current.sources.values()].map((s) => s.state()),
      ...(current.compiled.upstreamIdentity === undefined
        ? {}
        : { upstream_identity_jwks: current.compiled.upstreamIdentity.jwks }),
    };
  };
}

export interface HealthReporter {
  /** Sets the gRPC health status to the readiness of now, logging a change unless draining. */
  update(): void;
  /** Resolves once every key source of `g` has settled its first fetch, then updates health. */
  settledOf(g: Generation): Promise<void>;
  /** Stops the readiness poll (shutdown). */
  stop(): void;
}

/**
 * Keeps the gRPC health status in step with readiness: now, on every poll (keys arrive and expire on
 * their own), and whenever the caller says something changed.
 */
export function reportHealth(
  ready: () => boolean,
  state: ServingState,
  grpcServer: Pick<GrpcServer, 'setServing'>,
  log: Logger,
  setTimer: SetTimer,
): HealthReporter {
  let serving = false;
  const update = () => {
    const now = ready();
    if (now !== serving) {
      serving = now;
      grpcServer.setServing(now ? 'SERVING' : 'NOT_SERVING');
      if (!state.draining)
        log.info({ ready: now }, now ? 'ready: signing keys available' : 'not ready: waiting for signing keys');
    }
  };
  update();
  let cancelReadinessPoll = setTimer(function poll() {
    update();
    cancelReadinessPoll = setTimer(poll, READINESS_POLL_MS);
  }, READINESS_POLL_MS);
  // `g` is only read here, never captured: a pending settle holds its key sources, not the generation.
  const settledOf = (g: Generation) =>
    Promise.all([...g.sources.values()].map((s) => s.whenSettled())).then(() => update());
  return { update, settledOf, stop: () => cancelReadinessPoll() };
}
