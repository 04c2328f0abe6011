/** The real decider for a validated config, with its key sources started and settled (micro-benchmarks). */
import { compileConfig } from '../../src/config/compile.js';
import type { Config } from '../../src/config/schema.js';
import { createDecider, type Decide } from '../../src/engine/decide.js';
import { createKeySource, type KeySource } from '../../src/keys/key-source.js';

export async function settledDecider(config: Config): Promise<{ decide: Decide; close(): void }> {
  const sources: KeySource[] = [];
  const decide = createDecider(
    compileConfig(config, (issuer) => {
      const source = createKeySource(issuer);
      sources.push(source);
      source.start();
      return source;
    }),
  );
  await Promise.all(sources.map((s) => s.whenSettled()));
  return { decide, close: () => sources.forEach((s) => s.close()) };
}
