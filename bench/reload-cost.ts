/**
 * Where a reload of a large config spends its time on the event loop: YAML parse, schema validation,
 * compile (matchers, requirement trees, issuers, key sources, decider), and what a worker thread's
 * answer costs to receive (structured-clone deserialisation). `npm run build:bench && node
 * dist-bench/bench/reload-cost.js [--issuers 200] [--routes 1000] [--reps 7]`. Medians and maxima.
 *
 * Then the longest event-loop turn of the main-thread part of a file reload (compile, start the new key
 * sources and let their JWKS files load, make the decider), done in one go (compile as one task, all
 * sources started at once) and in steps (what reloadFile does). An immediate ticker measures each turn:
 * wall time and the process's CPU time in it (the latter barely moves with other load on the machine).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { deserialize, serialize } from 'node:v8';
import { parseDocument } from 'yaml';
import { compileConfig } from '../src/engine/compile.js';
import { validateConfig } from '../src/validation/load.js';
import { createDecider } from '../src/engine/decide.js';
import { createKeySource } from '../src/keys/key-source.js';
import {
  compileGeneration,
  compileGenerationInSteps,
  generationOf,
  keySourceFactory,
  startInTurns,
  type GenerationDeps,
} from '../src/app/generation.js';
import { silentLogger } from '../src/core/log.js';
import { unrefTimer } from '../src/keys/timers.js';
import { createMetrics } from '../src/ops/metrics.js';
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

interface Turn {
  readonly wallMs: number;
  readonly cpuMs: number;
  /** GC pauses that started inside the turn. */
  readonly gcMs: number;
}

/** GC pauses seen so far: [start (performance.now() ms), duration ms]. */
const gcPauses: [number, number][] = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcPauses.push([entry.startTime, entry.duration]);
}).observe({ entryTypes: ['gc'] });

/**
 * Runs `work` while an immediate ticker records every event-loop turn (wall, process CPU, GC inside it).
 * Returns the longest turn, and the longest turn once its GC pauses are taken out (the tasks themselves).
 */
async function longestTurn(work: () => Promise<void>): Promise<{ longest: Turn; longestWithoutGc: number }> {
  const turns: { startMs: number; endMs: number; cpuMs: number }[] = [];
  let running = true;
  let wallAt = performance.now();
  let cpuAt = process.cpuUsage();
  const tick = () => {
    const cpu = process.cpuUsage(cpuAt);
    const now = performance.now();
    turns.push({ startMs: wallAt, endMs: now, cpuMs: (cpu.user + cpu.system) / 1000 });
    wallAt = now;
    cpuAt = process.cpuUsage();
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  await work();
  running = false;
  await new Promise((resolve) => setTimeout(resolve, 10)); // the last turn, and the GC entries of the work
  const measured = turns.map(({ startMs, endMs, cpuMs }): Turn => {
    const gcMs = gcPauses.filter(([at]) => at >= startMs && at < endMs).reduce((sum, [, ms]) => sum + ms, 0);
    return { wallMs: endMs - startMs, cpuMs, gcMs };
  });
  const longest = measured.reduce((a, b) => (b.wallMs > a.wallMs ? b : a));
  return { longest, longestWithoutGc: Math.max(...measured.map((t) => t.wallMs - t.gcMs)) };
}

const turnWith = () => new Promise<void>((resolve) => setImmediate(resolve));
const generationDeps: GenerationDeps = {
  ...keySourceFactory(silentLogger, createMetrics({ version: 'bench' }, { defaultMetrics: false }), undefined),
  decider: {},
  nowMs: Date.now,
};
const bytes = serialize(validateConfig(parseDocument(text, { uniqueKeys: true }).toJS({ maxAliasCount: 100 })));
const ways: Record<string, { wall: number[]; cpu: number[]; gc: number[]; withoutGc: number[] }> = {
  'in one go': { wall: [], cpu: [], gc: [], withoutGc: [] },
  'in steps (reloadFile)': { wall: [], cpu: [], gc: [], withoutGc: [] },
};
for (let rep = 0; rep < Number(values.reps) + 1; rep++) {
  for (const way of Object.keys(ways)) {
    const config = deserialize(bytes) as ReturnType<typeof validateConfig>;
    let sources: readonly { close(): void }[] = [];
    const turn = await longestTurn(async () => {
      if (way === 'in one go') {
        const next = compileGeneration(config, undefined, generationDeps);
        await turnWith();
        generationOf(next, generationDeps);
        next.fresh.forEach((source) => source.start());
        await Promise.all(next.fresh.map((source) => source.whenSettled()));
        sources = next.fresh;
      } else {
        const next = await compileGenerationInSteps(config, undefined, generationDeps, turnWith);
        await startInTurns(next.fresh, turnWith, unrefTimer);
        generationOf(next, generationDeps);
        sources = next.fresh;
      }
    });
    sources.forEach((source) => source.close());
    if (rep > 0) {
      ways[way]!.wall.push(turn.longest.wallMs);
      ways[way]!.cpu.push(turn.longest.cpuMs);
      ways[way]!.gc.push(turn.longest.gcMs);
      ways[way]!.withoutGc.push(turn.longestWithoutGc);
    }
  }
}
process.stdout.write(
  '\nlongest event-loop turn of a file reload (compile, start key sources, decider), medians:\n' +
    `${''.padEnd(24)} ${'wall ms'.padStart(8)} ${'CPU ms'.padStart(8)} ${'GC in it'.padStart(9)}   longest without GC   max wall\n`,
);
for (const [way, m] of Object.entries(ways))
  process.stdout.write(
    `${way.padEnd(24)} ${median(m.wall).toFixed(1).padStart(8)} ${median(m.cpu).toFixed(1).padStart(8)} ${median(m.gc)
      .toFixed(1)
      .padStart(9)}   ${median(m.withoutGc).toFixed(1).padStart(18)}   ${Math.max(...m.wall)
      .toFixed(1)
      .padStart(8)}\n`,
  );
