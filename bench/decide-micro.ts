/**
 * Where claimgate's own per-Check time goes on a token-cache hit (scenario B), step by step, on one
 * core: request decoding, the request view, the decision, the response build and encoding, metrics,
 * the decision log line. Complements the h2load suite, which measures whole calls.
 *
 *   npm run build:bench && taskset -c 0 node dist-bench/bench/decide-micro.js 2>/dev/null
 *
 * (decision lines go to claimgate's own stderr destination, as in the server: hence 2>/dev/null)
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { validateConfig } from '../src/validation/load.js';
import { decodeCheckRequest } from '../src/envoy/fast-request.js';
import { encodeAllowResponse } from '../src/envoy/fast-response.js';
import type { CheckRequestMessage } from '../src/envoy/messages.js';
import { loadAuthorizationService } from '../src/envoy/proto.js';
import { toRequestView } from '../src/envoy/request.js';
import { decisionMetadata, toCheckResponse } from '../src/envoy/response.js';
import { createLogger } from '../src/core/log.js';
import { createDecisionLogger } from '../src/ops/decision-log.js';
import { createMetrics } from '../src/ops/metrics.js';
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
import { startSettledEngine } from '../test/support/gate.js';
import { answerView } from '../src/envoy/server.js';
import { limitConcurrency } from '../src/ops/concurrency.js';
import type { DecisionObserver } from '../src/core/types.js';

async function timeIt(name: string, n: number, f: () => unknown): Promise<number> {
  for (let i = 0; i < n / 10; i++) await f();
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await f();
  const us = Number(process.hrtime.bigint() - start) / n / 1000;
  console.log(`${name.padEnd(34)} ${us.toFixed(2).padStart(7)} µs`);
  return us;
}

async function main(): Promise<void> {
  const keys = generateKeys();
  const dir = mkdtempSync(join(tmpdir(), 'claimgate-micro-'));
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify(keys.jwks));
  const config = validateConfig({
    issuers: [{ name: 'auth', issuer: ISSUER, audiences: [AUDIENCE], jwks_file: join(dir, 'jwks.json') }],
    routes: [{ name: 'orders', match: { path: { prefix: ROUTE_PREFIX } }, require: { scope: REQUIRED_SCOPE } }],
    upstream: { headers: [...IDENTITY_HEADERS] },
  });
  const { decide, close } = await startSettledEngine(config);

  const service = loadAuthorizationService().Check!;
  const bytes = checkRequestBytes(signToken('RS256', keys, realisticClaims(Math.floor(Date.now() / 1000))));
  const request = service.requestDeserialize(bytes) as CheckRequestMessage;
  const view = toRequestView(request);
  const decision = await decide(view);
  if (decision.outcome !== 'allow') throw new Error(`expected an allow, got ${decision.reason}`);
  const metrics = createMetrics({ version: 'bench' }, { defaultMetrics: false });
  const devNull = () => pino.destination({ dest: '/dev/null', sync: false });
  // claimgate's own destination (batched writes to stderr): run with 2>/dev/null.
  const log = createDecisionLogger(createLogger('info'), { allowSampleRate: 1 });
  // A child logger is not claimgate's own: its lines go through pino (the path before issue 16).
  const pinoLog = createDecisionLogger(createLogger('info', devNull()).child({}), { allowSampleRate: 1 });
  const metadata = service.responseSerialize({ dynamic_metadata: decisionMetadata(decision) });

  const n = 100_000;
  console.log('the object path (proto-loader), before issue 16:');
  const before = [
    await timeIt('decode CheckRequest (proto-loader)', n, (): unknown => service.requestDeserialize(bytes)),
    await timeIt('toRequestView', n, () => toRequestView(request)),
    await timeIt('toCheckResponse + encode', n, () => service.responseSerialize(toCheckResponse(decision))),
  ];
  await timeIt('decision log line through pino', n, () => pinoLog(view, decision, 0.0001));
  console.log(
    `${'sum'.padEnd(34)} ${before
      .reduce((a, b) => a + b, 0)
      .toFixed(2)
      .padStart(7)} µs`,
  );
  console.log('the path the server takes:');
  const parts = [
    await timeIt('decodeCheckRequest (wire → view)', n, () => decodeCheckRequest(bytes)),
    await timeIt('decide (token cache hit)', n, () => decide(view)),
    await timeIt('encodeAllowResponse', n, () => encodeAllowResponse(decision, metadata)),
    await timeIt('metrics observeCheck', n, () => metrics.observeCheck(decision, 0.0001)),
  ];
  const logLine = await timeIt('decision log line (if logged)', n, () => log(view, decision, 0.0001));
  console.log(
    `${'sum without the log line'.padEnd(34)} ${parts
      .reduce((a, b) => a + b, 0)
      .toFixed(2)
      .padStart(7)} µs (log line: +${logLine.toFixed(2)} µs)`,
  );
  // What the Check handler runs per call, end to end in process: decode, the concurrency limiter, decide,
  // the response bytes, metrics and the decision line (to /dev/null), as the server wires them.
  const limit = limitConcurrency(
    () => decide,
    () => 1024,
  );
  const observe: DecisionObserver = (v, d, startedNs) => {
    const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
    metrics.observeCheck(d, seconds);
    log(v, d, seconds);
  };
  await timeIt('whole Check in process (+ log line)', n, () => {
    const decoded = decodeCheckRequest(bytes);
    return answerView(typeof decoded === 'symbol' ? undefined : decoded, limit.decide, observe);
  });
  close();
}

void main();
