import { mkdtempSync } from 'node:fs'; import { tmpdir } from 'node:os'; import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8'; import { performance } from 'node:perf_hooks';
const { parseDocument } = await import('yaml');
const R='/work/wt/h12r/dist-bench/';
const { validateConfig } = await import(R+'src/validation/load.js');
const { bigConfigText } = await import(R+'bench/lib/big-config.js');
const { compileGenerationInSteps, startInTurns, keySourceFactory, generationOf } = await import(R+'src/app/generation.js');
const { createMetrics } = await import(R+'src/ops/metrics.js');
const { silentLogger } = await import(R+'src/core/log.js');
const dir = mkdtempSync(join(tmpdir(), 'split-'));
const text = bigConfigText({ dir, issuers: 200, routes: 1000, head: ['server: { watch_config: false }', 'logging: { level: silent }'] });
const bytes = serialize(validateConfig(parseDocument(text).toJS()));
const deps = { ...keySourceFactory(silentLogger, createMetrics({version:'x'}), undefined), decider: {}, nowMs: Date.now };
let prev;
for (let i = 0; i < 5; i++) {
  const steps = []; let t = performance.now();
  const between = async () => { steps.push(performance.now() - t); await new Promise((r) => setImmediate(r)); t = performance.now(); };
  const c = deserialize(bytes);
  const g = await compileGenerationInSteps(c, undefined, deps, between);
  const compileSteps = steps.splice(0);
  await startInTurns(g.fresh, between);
  const startSteps = steps.splice(0);
  t = performance.now(); const gen = generationOf(g, deps); const dec = performance.now() - t;
  console.log('compile', compileSteps.map(x=>x.toFixed(1)).join(' '), '| start', startSteps.map(x=>x.toFixed(1)).join(' '), '| decider', dec.toFixed(1));
  g.fresh.forEach(s=>s.close());
}
