/**
 * How many bytes claimgate allocates per Check on a token-cache hit (scenario B), and where: the whole
 * Check in process (wire decode, the concurrency limiter, decide, the response bytes, metrics, the decision
 * line) under V8's sampling heap profiler, counting objects the young-generation GC has already freed.
 * Garbage per Check is what sets how often the server scavenges; docs/benchmarks.md (issue 16) has why
 * that matters more than any one function's time.
 *
 *   npm run build:bench && node dist-bench/bench/check-allocations.js [--checks 200000] [--top 30] 2>/dev/null
 */
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { startCachedCheck } from './lib/cached-check.js';

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
  const { bytes, wholeCheck, close } = await startCachedCheck();
  // As the server receives it: a fresh buffer per call (grpc-js hands each message its own).
  const oneCheck = () => wholeCheck(Buffer.from(bytes));
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
