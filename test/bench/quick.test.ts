/**
 * The benchmark suite cannot rot: its quick mode (about a second per scenario, one repetition) runs
 * end to end here — every scenario (A0, A, A2, B, B-tuned, B-2w, C, D, E, F both sides) must produce a result with
 * RPS > 0 and no errors (each claimgate scenario also proves every Check got the intended decision),
 * and the jose and token-cache-memory micro-benchmarks must produce figures. No thresholds: speed is
 * recorded in docs/benchmarks.md, not asserted on a shared CI machine.
 *
 * h2load (Debian nghttp2-client) is required: a missing binary fails this suite, never skips it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface ShapeSummary {
  readonly rps: { readonly median: number };
}
interface ScenarioResult {
  readonly id: string;
  readonly loaded?: ShapeSummary;
  readonly unloaded?: ShapeSummary;
  readonly errors: readonly string[];
}
interface Results {
  readonly mode: string;
  readonly scenarios: readonly ScenarioResult[];
  readonly ratios: readonly { name: string; value: number }[];
  readonly joseVsCrypto: { results: { alg: string; verifiesPerSecond: Record<string, number> }[] };
  readonly tokenCacheMemory: {
    unbounded: { heapPerEntryBytes: number; entriesKept: number };
    bounded: { boundHolds: boolean | null };
  };
}

const EXPECTED = ['A0', 'A', 'A2', 'B', 'B-tuned', 'B-2w', 'C', 'D', 'E', 'F-claimgate', 'F-tutorial'];

describe('bench quick mode', () => {
  const dir = mkdtempSync(join(tmpdir(), 'claimgate-bench-test-'));
  const out = join(dir, 'quick.json');
  let results: Results;
  let output = '';

  beforeAll(() => {
    const h2load = spawnSync('sh', ['-c', 'command -v h2load'], { encoding: 'utf8' });
    if (h2load.status !== 0) {
      throw new Error(
        `h2load is required by the benchmark suite but was not found on PATH; ${process.env.CI ? 'CI must install nghttp2-client (APT_PACKAGES in .ci/run)' : 'install it with `apt-get install -y nghttp2-client`'}`,
      );
    }
    execFileSync('npm', ['run', 'build:bench', '--silent'], { stdio: 'pipe', cwd: ROOT });
    const run = spawnSync(process.execPath, ['dist-bench/bench/run.js', 'all', '--quick', '--out', out], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 110_000,
      killSignal: 'SIGKILL',
    });
    output = `${run.stdout}\n${run.stderr}`;
    if (run.status !== 0) throw new Error(`bench exited with ${run.status ?? run.signal}:\n${output}`);
    results = JSON.parse(readFileSync(out, 'utf8')) as Results;
  }, 180_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('ran in quick mode', () => {
    expect(results.mode).toBe('quick');
  });

  it.each(EXPECTED)('scenario %s produced a result with RPS > 0 and no errors', (id) => {
    const s = results.scenarios.find((r) => r.id === id);
    expect(s).toBeDefined();
    expect(s?.errors).toEqual([]);
    expect(s?.loaded?.rps.median).toBeGreaterThan(0);
    expect(s?.unloaded?.rps.median).toBeGreaterThan(0);
  });

  it('computed every ratio of the issue (values reported, not judged)', () => {
    expect(results.ratios.map((r) => r.name).length).toBeGreaterThanOrEqual(6);
    for (const r of results.ratios) expect(Number.isFinite(r.value)).toBe(true);
  });

  it('measured jose and node:crypto for RS256 and ES256', () => {
    expect(results.joseVsCrypto.results.map((r) => r.alg)).toEqual(['RS256', 'ES256']);
    for (const r of results.joseVsCrypto.results)
      for (const v of Object.values(r.verifiesPerSecond)) expect(v).toBeGreaterThan(0);
  });

  it('measured token cache memory and checked the max_bytes bound', () => {
    expect(results.tokenCacheMemory.unbounded.heapPerEntryBytes).toBeGreaterThan(0);
    expect(typeof results.tokenCacheMemory.bounded.boundHolds).toBe('boolean');
  });
});
