/**
 * How many bytes claimgate allocates per Check on a token-cache hit (scenario B), and where: the whole
 * Check in process (wire decode, the concurrency limiter, decide, the response bytes, metrics, the decision
 * line) under V8's sampling heap profiler, counting objects the young-generation GC has already freed.
 * Garbage per Check is what sets how often the server scavenges; docs/benchmarks.md (issue 16) has why
 * that matters more than any one function's time.
 *
 *   npm run build:bench && node dist-bench/bench/check-allocations.js [--checks 200000] [--top 30] 2>/dev/null
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { validateConfig } from '../src/validation/load.js';
import { decodeCheckRequest } from '../src/envoy/fast-request.js';
import { createLogger } from '../src/core/log.js';
import { createDecisionLogger } from '../src/ops/decision-log.js';
import { createMetrics } from '../src/ops/metrics.js';
import { answerView } from '../src/envoy/server.js';
import { limitConcurrency } from '../src/ops/concurrency.js';
import type { DecisionObserver } from '../src/core/types.js';
import { startSettledEngine } from '../test/support/gate.js';
import {
  AUDIENCE,
  IDENTITY_HEADERS,
  ISSUER,
  REQUIRED_SCOPE,
  ROUTE_PREFIX,
  checkRequestBytes,
  generateKeys,
  realisticClaims,
  signToken,
} from './lib/fixtures.js';

interface SamplingNode {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly selfSize: number;
  readonly children: readonly SamplingNode[];
}

/** Bytes allocated by each function (self), from a sampling heap profile. */
function bytesByFunction(root: SamplingNode): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (node: SamplingNode) => {
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url.replace(/.*node_modules\//, '').replace(/.*\/dist(-bench)?\//, '');
    const key = `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`;
    if (node.selfSize > 0) out.set(key, (out.get(key) ?? 0) + node.selfSize);
    for (const child of node.children) walk(child);
  };
  walk(root);
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { checks: { type: 'string', default: '200000' }, top: { type: 'string', default: '30' } },
  });
  const checks = Number(values.checks);
  const keys = generateKeys();
  const dir = mkdtempSync(join(tmpdir(), 'claimgate-alloc-'));
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify(keys.jwks));
  const config = validateConfig({
    issuers: [{ name: 'auth', issuer: ISSUER, audiences: [AUDIENCE], jwks_file: join(dir, 'jwks.json') }],
    routes: [{ name: 'orders', match: { path: { prefix: ROUTE_PREFIX } }, require: { scope: REQUIRED_SCOPE } }],
    upstream: { headers: [...IDENTITY_HEADERS] },
  });
  const { decide, close } = await startSettledEngine(config);
  const bytes = checkRequestBytes(signToken('RS256', keys, realisticClaims(Math.floor(Date.now() / 1000))));
  const metrics = createMetrics({ version: 'bench' }, { defaultMetrics: false });
  const log = createDecisionLogger(createLogger('info'), { allowSampleRate: 1 });
  const limit = limitConcurrency(
    () => decide,
    () => 1024,
  );
  const observe: DecisionObserver = (v, d, startedNs) => {
    const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
    metrics.observeCheck(d, seconds);
    log(v, d, seconds);
  };
  // As the server receives it: a fresh buffer per call (grpc-js hands each message its own).
  const oneCheck = () => {
    const decoded = decodeCheckRequest(Buffer.from(bytes));
    return answerView(typeof decoded === 'symbol' ? undefined : decoded, limit.decide, observe);
  };
  for (let i = 0; i < 20_000; i++) await oneCheck();

  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 512,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  for (let i = 0; i < checks; i++) await oneCheck();
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: { head: SamplingNode } };
  session.disconnect();
  close();

  const byFunction = bytesByFunction(profile.head);
  const total = [...byFunction.values()].reduce((a, b) => a + b, 0);
  console.log(
    `${checks} Checks (cache hit, default config): ~${(total / checks).toFixed(0)} bytes allocated per Check`,
  );
  console.log('bytes per Check by function (sampled, so ±5 %):');
  const top = [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top));
  for (const [where, b] of top) console.log(`${(b / checks).toFixed(0).padStart(7)}  ${where}`);
}

void main();
