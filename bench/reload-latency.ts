/**
 * Check latency while a large config reloads. `npm run build && npm run build:bench && node
 * dist-bench/bench/reload-latency.js [--reps 3] [--duration 8] [--reloads 3]`.
 *
 * The built server (dist/cli.js, pinned to CPU 0) serves a config of 200 issuers (local JWKS files) and
 * 1,000 routes plus the route and issuer the load's token uses; h2load (CPU 1) sends Checks closed-loop
 * at 2 connections × 1 stream, so a Check's latency is its own service time plus any time the event loop
 * was busy elsewhere. Per repetition, two runs side by side: one without reloads, one with `--reloads`
 * SIGHUPs, each switching every tenant issuer's settings (so all 200 key sources are replaced) — the
 * worst case. Reported: p99 and max of the whole runs, and of the Checks started between each SIGHUP and
 * 100 ms after its `config reloaded` line. Every Check must be allowed (claimgate's own counters).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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
import { startPinned, waitForHttp200 } from './lib/proc.js';
import { freePort } from '../test/support/listen.js';
import { CHECK_PATH, scrapeCounters } from './lib/probe.js';

const { values: opts } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    duration: { type: 'string', default: '8' },
    reloads: { type: 'string', default: '3' },
    issuers: { type: 'string', default: '200' },
    routes: { type: 'string', default: '1000' },
    /** Another build's cli.js to measure instead (e.g. the code before a change). */
    cli: { type: 'string' },
  },
});
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DURATION_S = Number(opts.duration);
const RELOADS = Number(opts.reloads);

const work = mkdtempSync(join(tmpdir(), 'claimgate-reload-latency-'));
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

async function run(rep: number, withReloads: boolean): Promise<H2loadResult & { reloadMs: number[] }> {
  const ports = { grpc: await freePort(), admin: await freePort() };
  writeConfig(ports, 0);
  const stderrFile = join(work, `server-${rep}-${withReloads}.stderr`);
  const server = startPinned(
    0,
    process.execPath,
    [opts.cli ?? join(ROOT, 'dist/cli.js'), 'serve', '--config', configFile],
    stderrFile,
  );
  try {
    await waitForHttp200(`http://127.0.0.1:${ports.admin}/readyz`, 30000, () => server.child.exitCode === null);
    const sighups: number[] = [];
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
        await new Promise((r) => setTimeout(r, (DURATION_S * 1000) / (RELOADS + 1)));
        writeConfig(ports, i);
        sighups.push(Date.now());
        server.child.kill('SIGHUP');
        await waitUntil(() => reloadedLines(stderrFile).length === i, 15000, `reload ${i}`);
      }
    }
    const result = await load;
    const counters = await scrapeCounters(ports.admin);
    const reloaded = reloadedLines(stderrFile);
    if (withReloads && reloaded.length !== RELOADS)
      throw new Error(`expected ${RELOADS} reloads, saw ${reloaded.length}`);
    const wrong = Object.entries(counters.decisions).filter(([k]) => k !== 'allow/OK_AUTHENTICATED');
    if (wrong.length > 0 || result.failed > 0 || result.errored > 0)
      throw new Error(
        `wrong or failed Checks: ${JSON.stringify({ wrong, failed: result.failed, errored: result.errored })}`,
      );
    return { ...result, reloadMs: reloaded.map((at, i) => at - (sighups[i] ?? at)) };
  } finally {
    await server.stop();
  }
}

const fmt = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '-' : n.toFixed(2));
process.stdout.write(
  `reload latency: ${opts.issuers} issuers, ${opts.routes} routes, ${DURATION_S} s runs, ${RELOADS} reloads per run\n`,
);
process.stdout.write(
  'rep  run        checks/s   p99 ms   max ms   reload-window: checks  p99 ms  max ms   SIGHUP→reloaded ms\n',
);
for (let rep = 1; rep <= Number(opts.reps); rep++) {
  for (const withReloads of [false, true]) {
    const r = await run(rep, withReloads);
    process.stdout.write(
      `${String(rep).padEnd(4)} ${(withReloads ? 'reloads' : 'baseline').padEnd(9)} ${r.rps.toFixed(0).padStart(9)} ${fmt(r.p99Ms).padStart(8)} ${fmt(r.maxMs).padStart(8)}   ` +
        `${String(withReloads ? r.inWindows?.requests : '-').padStart(21)} ${fmt(withReloads ? r.inWindows?.p99Ms : undefined).padStart(7)} ${fmt(withReloads ? r.inWindows?.maxMs : undefined).padStart(7)}   ${r.reloadMs.join(', ')}\n`,
    );
  }
}
