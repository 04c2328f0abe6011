/**
 * Starting claimgate for tests and the bench, ready to answer: a full server (listeners, reload,
 * metrics) or a bare engine (decider and key sources), each returned once every issuer's first key
 * load has settled, so the first request does not race the key fetch.
 */
import { startClaimgate, type Claimgate, type ClaimgateOptions } from '../../src/app/claimgate.js';
import type { Config } from '../../src/config/schema.js';
import { createEngine, type Engine, type EngineDeps } from '../../src/engine/engine.js';

/** A running server on the config's addresses (use port 0 for a free one), keys settled. */
export async function startSettledGate(config: Config, options?: ClaimgateOptions): Promise<Claimgate> {
  const gate = await startClaimgate(config, options);
  await gate.whenSettled();
  return gate;
}

/** A standalone engine for `config`, keys settled; `close()` stops its key sources. */
export async function startSettledEngine(config: Config, deps?: EngineDeps): Promise<Engine> {
  const engine = createEngine(config, deps);
  await engine.whenSettled();
  return engine;
}
