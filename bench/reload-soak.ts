/**
 * Reload soak: many reloads under load, each with a filled token cache; the heap after a forced GC
 * must stay flat and every Check must be right. `npm run build && npm run build:bench && node
 * --expose-gc dist-bench/bench/reload-soak.js [--reloads 200] [--tokens 500]`.
 *
 * The built server (dist/app/claimgate.js) runs in this process so the heap can be collected and measured;
 * h2load (CPU 1) keeps sending Checks over gRPC throughout. Each reload goes through reloadFromFile
 * (worker-thread parse, as SIGHUP does) with a changed file, then `--tokens` distinct tokens are
 * decided on the new generation, filling its fresh token cache. Reported: heap used after GC at reload
 * 10 and at the end, how many replaced generations were collected (FinalizationRegistry), and the
 * Checks: h2load failures and claimgate's own decision counters (all must be allows).
 *
 * A few of the most recent generations can still be alive at the end: optimised code (TurboFan) that
 * inlined a recent generation's decider holds it until that code is replaced. With `--no-opt` every
 * replaced generation is collected; either way the heap stays flat, which is the property that matters.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type * as App from '../src/app/claimgate.js';
import type * as Load from '../src/validation/load.js';
import {
  AUDIENCE,
  checkRequestBytes,
  generateKeys,
  grpcFrame,
  ISSUER,
  realisticClaims,
  REQUIRED_SCOPE,
  requestHeaders,
  ROUTE_PREFIX,
  signToken,
} from './lib/fixtures.js';
import { runH2load, type H2loadResult } from './lib/h2load.js';
import { CHECK_PATH } from './lib/probe.js';

const { values: opts } = parseArgs({
  options: { reloads: { type: 'string', default: '200' }, tokens: { type: 'string', default: '500' } },
});
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { startClaimgate } = (await import(join(ROOT, 'dist/app/claimgate.js'))) as typeof App;
const { parseConfigText } = (await import(join(ROOT, 'dist/validation/load.js'))) as typeof Load;
const RELOADS = Number(opts.reloads);
const TOKENS = Number(opts.tokens);

const work = mkdtempSync(join(tmpdir(), 'claimgate-reload-soak-'));
const keys = generateKeys();
const jwksFile = join(work, 'jwks.json');
writeFileSync(jwksFile, JSON.stringify(keys.jwks));
const nowS = Math.floor(Date.now() / 1000);
const tokens = Array.from({ length: TOKENS }, (_, i) => signToken('ES256', keys, realisticClaims(nowS, i)));
const frameFile = join(work, 'check.grpc');
writeFileSync(frameFile, grpcFrame(checkRequestBytes(tokens[0]!)));

const configFile = join(work, 'claimgate.yaml');
const configText = (
  variant: number,
) => `server: { grpc_address: "127.0.0.1:0", admin_address: "127.0.0.1:0", watch_config: false }
logging: { level: warn }
realm: "soak-${variant}"
issuers:
  - { name: bench, issuer: "${ISSUER}", audiences: [${AUDIENCE}], algorithms: [ES256, RS256], jwks_file: "${jwksFile}" }
routes:
  - { name: orders, match: { methods: [GET], path: { prefix: ${ROUTE_PREFIX} } }, require: { scope: "${REQUIRED_SCOPE}" } }
`;
writeFileSync(configFile, configText(0));
const app = await startClaimgate(parseConfigText(configText(0)), { configFileText: configText(0) });
await app.whenSettled();

const collected = { count: 0, ids: new Set<number>() };
const registry = new FinalizationRegistry<number>((id) => (collected.count++, collected.ids.add(id)));
registry.register(app.compiled(), 0);

async function heapAfterGc(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc!();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

const headers = new Map(Object.entries(requestHeaders('x')).map(([k, v]) => [k, [v]] as [string, string[]]));
const viewOf = (token: string) => ({
  method: 'GET',
  host: 'api.example.com',
  path: `${ROUTE_PREFIX}/42`,
  headers: new Map([...headers, ['authorization', [`Bearer ${token}`]]]),
});

let reloading = true;
const loadRuns: H2loadResult[] = [];
const load = (async () => {
  for (let run = 0; reloading; run++) {
    loadRuns.push(
      await runH2load({
        url: `http://127.0.0.1:${app.grpcPort}${CHECK_PATH}`,
        cpu: 1,
        shape: { c: 2, m: 4 },
        durationS: 5,
        dataFile: frameFile,
        headers: ['content-type: application/grpc', 'te: trailers'],
        logFile: join(work, `h2load-${run}.log`),
      }),
    );
  }
})();

const started = Date.now();
let heapAt10 = 0;
let wrongFills = 0;
for (let i = 1; i <= RELOADS; i++) {
  writeFileSync(configFile, configText(i));
  const result = await app.reloadFromFile(configFile);
  if (!result.ok || !result.changed) throw new Error(`reload ${i} failed: ${JSON.stringify(result)}`);
  registry.register(app.compiled(), i);
  // In batches, so the gRPC load keeps being served in between.
  for (let from = 0; from < tokens.length; from += 100) {
    const decisions = await Promise.all(tokens.slice(from, from + 100).map(async (t) => app.decider()(viewOf(t))));
    wrongFills += decisions.filter((d) => d.reason !== 'OK_AUTHENTICATED').length;
    await new Promise((r) => setImmediate(r));
  }
  if (i === 10) heapAt10 = await heapAfterGc();
}
const seconds = (Date.now() - started) / 1000;
const heapAtEnd = await heapAfterGc();
reloading = false;
await load;
const checks = (await app.metrics.registry.getSingleMetric('claimgate_checks_total')?.get())?.values ?? [];
await app.close(1000);
// Finalization callbacks run as tasks after a collection; give them rounds until every replaced one has.
for (let i = 0; i < 20 && collected.count < RELOADS; i++) await heapAfterGc();

const MiB = (b: number) => (b / 1024 / 1024).toFixed(1);
const wrongChecks = checks.filter((v) => v.labels.reason !== 'OK_AUTHENTICATED').reduce((n, v) => n + v.value, 0);
const allChecks = checks.reduce((n, v) => n + v.value, 0);
const failed = loadRuns.reduce((n, r) => n + r.failed + r.errored + r.timeout + r.non2xx, 0);
process.stdout.write(
  [
    `reloads: ${RELOADS} in ${seconds.toFixed(1)} s, ${TOKENS} distinct tokens decided per generation`,
    `load: ${loadRuns.length} h2load runs, ${loadRuns.reduce((n, r) => n + r.done, 0)} Checks, ${failed} failed`,
    `claimgate checks_total: ${allChecks}, not OK_AUTHENTICATED: ${wrongChecks}; wrong fill decisions: ${wrongFills}`,
    `heap after GC: reload 10 ${MiB(heapAt10)} MiB, reload ${RELOADS} ${MiB(heapAtEnd)} MiB (${heapAtEnd >= heapAt10 ? '+' : ''}${MiB(heapAtEnd - heapAt10)} MiB)`,
    `replaced generations collected: ${collected.count} of ${RELOADS}` +
      (collected.count < RELOADS
        ? ` (alive: ${[...Array(RELOADS).keys()].filter((i) => !collected.ids.has(i)).join(', ')})`
        : ''),
  ].join('\n') + '\n',
);
