/**
 * The whole gRPC Check in process on a token-cache hit (scenario B's work without the transport), as the
 * server wires it: wire decode, the concurrency bound, decide, the answer bytes, metrics and the decision
 * line to claimgate's own stderr destination (run the benches with 2>/dev/null). Shared by
 * bench/decide-micro.ts (time per step) and bench/check-allocations.ts (bytes per Check).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../../src/validation/load.js';
import { decodeCheckRequest } from '../../src/envoy/fast-request.js';
import { answerView } from '../../src/envoy/server.js';
import { createLogger } from '../../src/core/log.js';
import { createDecisionLogger, type DecisionLogger } from '../../src/ops/decision-log.js';
import { createMetrics, type Metrics } from '../../src/ops/metrics.js';
import { limitConcurrency } from '../../src/ops/concurrency.js';
import type { Decide } from '../../src/engine/decide.js';
import type { DecisionObserver } from '../../src/core/types.js';
import { startSettledEngine } from '../../test/support/gate.js';
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
  type KeyMaterial,
} from './fixtures.js';

export interface CachedCheck {
  readonly keys: KeyMaterial;
  readonly decide: Decide;
  /** A CheckRequest carrying a valid RS256 token for the route (1,871 bytes, 15 headers). */
  readonly bytes: Buffer;
  readonly metrics: Metrics;
  /** The decision logger with the default config (every allow logged). */
  readonly log: DecisionLogger;
  /** One whole Check of `request` (as grpc-js hands it over): its answer bytes, at once or later. */
  readonly wholeCheck: (request: Buffer) => Buffer | Promise<Buffer>;
  readonly close: () => void;
}

export async function startCachedCheck(): Promise<CachedCheck> {
  const keys = generateKeys();
  const dir = mkdtempSync(join(tmpdir(), 'claimgate-bench-'));
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
  return {
    keys,
    decide,
    bytes,
    metrics,
    log,
    wholeCheck: (request) => {
      const decoded = decodeCheckRequest(request);
      return answerView(typeof decoded === 'symbol' ? undefined : decoded, limit.decide, observe);
    },
    close,
  };
}
