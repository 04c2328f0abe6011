/**
 * Check latency while a large config reloads. `npm run build && npm run build:bench && node
 * dist-bench/bench/reload-latency.js [--reps 3] [--duration 12] [--reloads 3]`.
 *
 * The built server (dist/cli.js, pinned to CPU 0) serves a config of 200 issuers (local JWKS files) and
 * 1,000 routes plus the route and issuer the load's token uses; h2load (CPU 1) sends Checks closed-loop
 * at 2 connections × 1 stream, so a Check's latency is its own service time plus any time the event loop
 * was busy elsewhere. Per repetition, two runs side by side: one without reloads, one with `--reloads`
 * SIGHUPs, each switching every tenant issuer's settings (so all 200 key sources are replaced) — the
 * worst case. Reported: p99 and max of the whole runs, and of the Checks started between each SIGHUP and
 * 100 ms after its `config reloaded` line. Every Check must be allowed (claimgate's own counters).
 *
 * The server runs with bench/reload-loop-probe.ts preloaded: "loop max" is the longest event-loop block
 * it saw and "GC max" the longest GC pause (over the load, and inside the reload windows), which name
 * the cause of a slow Check where h2load's latencies only show its effect (and include the load
 * generator's own scheduling). `--node-args "--cpu-prof --cpu-prof-dir=DIR --trace-gc"`
 * profiles the server (its stdout, where --trace-gc writes, is kept next to its log); `reload-profile`
 * lists the long tasks of such a profile.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bigConfigText } from './lib/big-config.js';
import {
  AUDIENCE,
  checkRequestBytes,
  generateKeys,
  grpcFrame,
  ISSUER,
  realisticClaims,
  REQUIRED_SCOPE,
  ROUTE_PREFIX,
  signToken,
} from './lib/fixtures.js';
import { runH2load, type H2loadResult } from './lib/h2load.js';
import { startPinned, treeCpuSeconds, waitForHttp200 } from './lib/proc.js';
import { freePort } from '../test/support/listen.js';
import { CHECK_PATH, scrapeCounters } from './lib/probe.js';

const { values: opts } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    duration: { type: 'string', default: '12' },
    reloads: { type: 'string', default: '3' },
    issuers: { type: 'string', default: '200' },
    routes: { type: 'string', default: '1000' },
    /** Another build's cli.js to measure instead (e.g. the code before a change). */
    cli: { type: 'string' },
    /** Extra node options for the server, space-separated (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p"). */
    'node-args': { type: 'string', default: '' },
    /** Where the servers' logs, stdout and loop-probe bins are kept (a fresh temporary directory by default). */
    out: { type: 'string' },
  },
});
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DURATION_S = Number(opts.duration);
const RELOADS = Number(opts.reloads);

const work = opts.out ?? mkdtempSync(join(tmpdir(), 'claimgate-reload-latency-'));
mkdirSync(work, { recursive: true });
const PROBE = join(dirname(fileURLToPath(import.meta.url)), 'reload-loop-probe.js');
const nodeArgs = opts['node-args'].split(' ').filter((a) => a !== '');
const keys = generateKeys();
const jwksFile = join(work, 'bench.jwks.json');
writeFileSync(jwksFile, JSON.stringify(keys.jwks));
const token = signToken('ES256', keys, realisticClaims(Math.floor(Date.now() / 1000)));
const frameFile = join(work, 'check.grpc');
writeFileSync(frameFile, grpcFrame(checkRequestBytes(token)));

const configFile = join(work, 'claimgate.yaml');
const writeConfig = (ports: { grpc: number; admin: number }, variant: number) =>
  writeFileSync(
    configFile,
    bigConfigText({
      dir: work,
      issuers: Number(opts.issuers),
      routes: Number(opts.routes),
      variant,
      head: [
        `server: { grpc_address: "127.0.0.1:${ports.grpc}", admin_address: "127.0.0.1:${ports.admin}", watch_config: false }`,
        'logging: { level: info, allow_sample_rate: 0 }',
      ],
      extraIssuers: [
        `  - { name: bench, issuer: "${ISSUER}", audiences: [${AUDIENCE}], algorithms: [ES256], jwks_file: "${jwksFile}" }`,
      ],
      extraRoutes: [
        `  - { name: orders, match: { methods: [GET], path: { prefix: ${ROUTE_PREFIX} } }, require: { scope: "${REQUIRED_SCOPE}" } }`,
      ],
    }),
  );

const reloadedLines = (stderrFile: string): number[] =>
  readFileSync(stderrFile, 'utf8')
    .split('\n')
    .filter((l) => l.includes('"msg":"config reloaded"'))
    .map((l) => Date.parse((JSON.parse(l) as { time: string }).time));

async function waitUntil(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

type Span = readonly [number, number];

interface Worst {
  /** Longest event-loop block (ms). */
  readonly loop: number;
  /** Longest GC pause (ms). */
  readonly gc: number;
}

/** The longest event-loop block and GC pause the probe saw during the load, and inside `windows`. */
function worstOf(probeFile: string, load: Span, windows: readonly Span[]): { run: Worst; window: Worst } {
  const probe = JSON.parse(readFileSync(probeFile, 'utf8')) as {
    binMs: number;
    bins: [number, number][];
    gcs: [number, number, string][];
  };
  const worstIn = ([from, to]: Span): Worst => {
    const inside = <T extends [number, number, ...unknown[]]>(list: T[], slackMs: number) =>
      list.filter(([end]) => end >= from && end <= to + slackMs).reduce((m, [, ms]) => Math.max(m, ms), 0);
    return { loop: inside(probe.bins, probe.binMs), gc: inside(probe.gcs, 0) };
  };
  const clipped = windows
    .map(([from, to]): Span => [Math.max(from, load[0]), Math.min(to, load[1])])
    .filter(([from, to]) => from < to)
    .map(worstIn);
  return {
    run: worstIn(load),
    window: { loop: Math.max(0, ...clipped.map((w) => w.loop)), gc: Math.max(0, ...clipped.map((w) => w.gc)) },
  };
}

type RunResult = H2loadResult & {
  /** Server CPU (all its threads, the reloads included) per answered Check. */
  cpuUsPerCheck: number;
  reloadMs: number[];
  worst: { run: Worst; window: Worst };
};

async function run(rep: number, withReloads: boolean): Promise<RunResult> {
  const ports = { grpc: await freePort(), admin: await freePort() };
  writeConfig(ports, 0);
  const name = `server-${rep}-${withReloads ? 'reloads' : 'baseline'}`;
  const stderrFile = join(work, `${name}.stderr`);
  const probeFile = join(work, `${name}.loop.json`);
  const server = startPinned(
    0,
    process.execPath,
    [...nodeArgs, '--import', PROBE, opts.cli ?? join(ROOT, 'dist/cli.js'), 'serve', '--config', configFile],
    stderrFile,
    { ...process.env, CLAIMGATE_LOOP_PROBE_FILE: probeFile },
  );
  let windows: Span[] = [];
  let loadSpan: Span = [0, 0];
  let measured: Omit<RunResult, 'worst'>;
  try {
    await waitForHttp200(`http://127.0.0.1:${ports.admin}/readyz`, 30000, () => server.child.exitCode === null);
    const sighups: number[] = [];
    const loadStart = Date.now();
    const cpuAtStart = treeCpuSeconds(server.pid);
    const load = runH2load({
      url: `http://127.0.0.1:${ports.grpc}${CHECK_PATH}`,
      cpu: 1,
      shape: { c: 2, m: 1 },
      durationS: DURATION_S,
      dataFile: frameFile,
      headers: ['content-type: application/grpc', 'te: trailers'],
      logFile: join(work, `h2load-${rep}-${withReloads}.log`),
      windowsMs: () => sighups.map((at, i) => [at, (reloadedLines(stderrFile)[i] ?? at + 5000) + 100] as const),
    });
    if (withReloads) {
      for (let i = 1; i <= RELOADS; i++) {
        // Evenly spread over the run (the first reload also starts the reader thread, so it takes longer).
        const due = loadStart + (i * DURATION_S * 1000) / (RELOADS + 1);
        await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
        writeConfig(ports, i);
        sighups.push(Date.now());
        server.child.kill('SIGHUP');
        await waitUntil(() => reloadedLines(stderrFile).length === i, 15000, `reload ${i}`);
      }
    }
    const result = await load;
    loadSpan = [loadStart, Date.now()];
    const cpuUsPerCheck = ((treeCpuSeconds(server.pid) - cpuAtStart) * 1e6) / Math.max(1, result.done);
    const counters = await scrapeCounters(ports.admin);
    const reloaded = reloadedLines(stderrFile);
    if (withReloads && reloaded.length !== RELOADS)
      throw new Error(`expected ${RELOADS} reloads, saw ${reloaded.length}`);
    const wrong = Object.entries(counters.decisions).filter(([k]) => k !== 'allow/OK_AUTHENTICATED');
    if (wrong.length > 0 || result.failed > 0 || result.errored > 0)
      throw new Error(
        `wrong or failed Checks: ${JSON.stringify({ wrong, failed: result.failed, errored: result.errored })}`,
      );
    windows = sighups.map((at, i) => [at, (reloaded[i] ?? at) + 100] as const);
    measured = { ...result, cpuUsPerCheck, reloadMs: reloaded.map((at, i) => at - (sighups[i] ?? at)) };
  } finally {
    // A graceful stop: the probe's bins and a --cpu-prof profile are written at exit.
    await server.stop(10000);
    writeFileSync(join(work, `${name}.stdout`), server.lines.join('\n'));
  }
  return { ...measured, worst: worstOf(probeFile, loadSpan, windows) };
}

const fmt = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '-' : n.toFixed(2));
process.stdout.write(`results in ${work}\n`);
process.stdout.write(
  `reload latency: ${opts.issuers} issuers, ${opts.routes} routes, ${DURATION_S} s runs, ${RELOADS} reloads per run\n`,
);
const COLUMNS = ['rep', 'run', 'checks/s', 'CPU µs/Check', 'p99 ms', 'max ms', 'loop max', 'GC max'];
const WINDOW_COLUMNS = ['window checks', 'p99 ms', 'max ms', 'loop max', 'GC max', 'SIGHUP→reloaded ms'];
const row = (cells: readonly string[]) =>
  cells.map((c, i) => (i < 2 ? c.padEnd(8) : c.padStart(Math.max(9, COLUMNS[i]?.length ?? 0)))).join(' ');
process.stdout.write(`${row(COLUMNS)}  | ${WINDOW_COLUMNS.join(' | ')}\n`);
for (let rep = 1; rep <= Number(opts.reps); rep++) {
  for (const withReloads of [false, true]) {
    const r = await run(rep, withReloads);
    const whole = [
      String(rep),
      withReloads ? 'reloads' : 'baseline',
      r.rps.toFixed(0),
      r.cpuUsPerCheck.toFixed(0),
      fmt(r.p99Ms),
      fmt(r.maxMs),
    ];
    const window = withReloads
      ? [
          String(r.inWindows?.requests ?? 0),
          fmt(r.inWindows?.p99Ms),
          fmt(r.inWindows?.maxMs),
          fmt(r.worst.window.loop),
          fmt(r.worst.window.gc),
          r.reloadMs.join(', '),
        ]
      : [];
    process.stdout.write(`${row([...whole, fmt(r.worst.run.loop), fmt(r.worst.run.gc)])}  | ${window.join(' | ')}\n`);
  }
}
