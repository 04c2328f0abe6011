/** The real decider for a validated config, with its key sources started and settled (micro-benchmarks). */
import type { Config } from '../../src/config/schema.js';
import type { Decider } from '../../src/engine/decide.js';
import { createEngine } from '../../src/engine/engine.js';

export async function settledDecider(
  config: Config,
): Promise<{ readonly decide: Decider; readonly close: () => void }> {
  const engine = createEngine(config);
  await engine.whenSettled();
  return { decide: engine.decide, close: engine.close };
}
