/**
 * Where claimgate's own per-Check time goes on a token-cache hit (scenario B), step by step, on one
 * core: request decoding, the request view, the decision, the response build and encoding, metrics,
 * the decision log line. Complements the h2load suite, which measures whole calls.
 *
 *   npm run build:bench && taskset -c 0 node dist-bench/bench/decide-micro.js 2>/dev/null
 *
 * (decision lines go to claimgate's own stderr destination, as in the server: hence 2>/dev/null)
 */
import { pino } from 'pino';
import { decodeCheckRequest } from '../src/envoy/fast-request.js';
import { encodeAllowResponse } from '../src/envoy/fast-response.js';
import type { CheckRequestMessage } from '../src/envoy/messages.js';
import { loadAuthorizationService } from '../src/envoy/proto.js';
import { toRequestView } from '../src/envoy/request.js';
import { decisionMetadata, toCheckResponse } from '../src/envoy/response.js';
import { createLogger } from '../src/core/log.js';
import { createDecisionLogger } from '../src/ops/decision-log.js';
import { startCachedCheck } from './lib/cached-check.js';

async function timeIt(name: string, n: number, f: () => unknown): Promise<number> {
  for (let i = 0; i < n / 10; i++) await f();
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await f();
  const us = Number(process.hrtime.bigint() - start) / n / 1000;
  console.log(`${name.padEnd(34)} ${us.toFixed(2).padStart(7)} µs`);
  return us;
}

async function main(): Promise<void> {
  const { decide, bytes, metrics, log, wholeCheck, close } = await startCachedCheck();

  const service = loadAuthorizationService().Check!;
  const request = service.requestDeserialize(bytes) as CheckRequestMessage;
  const view = toRequestView(request);
  const decision = await decide(view);
  if (decision.outcome !== 'allow') throw new Error(`expected an allow, got ${decision.reason}`);
  const devNull = () => pino.destination({ dest: '/dev/null', sync: false });
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
  // the response bytes, metrics and the decision line (claimgate's own stderr destination), as the server wires them.
  await timeIt('whole Check in process (+ log line)', n, () => wholeCheck(bytes));
  close();
}

void main();
