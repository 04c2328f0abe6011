/**
 * Where a reload of a large config spends its time on the event loop: YAML parse, schema validation,
 * compile (matchers, requirement trees, issuers, key sources, decider), and what a worker thread's
 * answer costs to receive (structured-clone deserialisation). `npm run build:bench && node
 * dist-bench/bench/reload-cost.js [--issuers 200] [--routes 1000] [--reps 7]`. Medians and maxima.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { deserialize, serialize } from 'node:v8';
import { parseDocument } from 'yaml';
import { compileConfig } from '../src/engine/compile.js';
import { validateConfig } from '../src/validation/load.js';
import { createDecider } from '../src/engine/decide.js';
import { createKeySource } from '../src/keys/key-source.js';
import { bigConfigText } from './lib/big-config.js';

const { values } = parseArgs({
  options: {
    issuers: { type: 'string', default: '200' },
    routes: { type: 'string', default: '1000' },
    reps: { type: 'string', default: '7' },
  },
});
const dir = mkdtempSync(join(tmpdir(), 'claimgate-reload-cost-'));
const text = bigConfigText({
  dir,
  issuers: Number(values.issuers),
  routes: Number(values.routes),
  head: ['server: { watch_config: false }', 'logging: { level: silent }'],
});

const phases: Record<string, number[]> = {
  'parse (YAML → JS)': [],
  'validate (zod)': [],
  'clone: serialize (worker side)': [],
  'clone: deserialize (main side)': [],
  'compile (config + key sources)': [],
  createDecider: [],
};
const time = <T>(name: string, f: () => T): T => {
  const t0 = performance.now();
  const out = f();
  phases[name]!.push(performance.now() - t0);
  return out;
};

for (let rep = 0; rep < Number(values.reps) + 1; rep++) {
  const raw = time('parse (YAML → JS)', (): unknown =>
    parseDocument(text, { uniqueKeys: true }).toJS({ maxAliasCount: 100 }),
  );
  const config = time('validate (zod)', () => validateConfig(raw));
  const bytes = time('clone: serialize (worker side)', () => serialize(config));
  const received = time('clone: deserialize (main side)', () => deserialize(bytes) as typeof config);
  const compiled = time('compile (config + key sources)', () =>
    compileConfig(received, (issuer) => createKeySource(issuer)),
  );
  time('createDecider', () => createDecider(compiled));
  if (rep === 0) for (const k of Object.keys(phases)) phases[k]!.length = 0; // warm-up
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
process.stdout.write(
  `config: ${values.issuers} issuers, ${values.routes} routes, ${(text.length / 1024).toFixed(0)} KiB of YAML\n`,
);
for (const [name, xs] of Object.entries(phases))
  process.stdout.write(
    `${name.padEnd(34)} median ${median(xs).toFixed(1).padStart(6)} ms   max ${Math.max(...xs)
      .toFixed(1)
      .padStart(6)} ms\n`,
  );
