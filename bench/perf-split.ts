/**
 * Where a server's CPU goes per request, from the `perf record` files `run.js --perf DIR` writes: every
 * sample of the process (all threads, kernel included) grouped into parts — V8's garbage collector,
 * V8's runtime and builtins, JavaScript by origin (claimgate, grpc-js, node), node's C++ HTTP/2, malloc,
 * the kernel — per request, for the main thread and for the helper threads (GC workers, libuv's pool).
 *
 *   node dist-bench/bench/perf-split.js DIR A0=<requests> B=<requests> …
 *
 * Request counts: the loaded run's RPS × duration, as run.js printed them. Needs `perf` (linux-perf).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** The part a sample belongs to, from its DSO and symbol (node's JIT code is named through perf-<pid>.map). */
export function partOfSample(dso: string, symbol: string): string {
  if (dso.includes('kernel')) return 'kernel';
  if (
    /Scaveng|Heap::|MarkCompact|Marking|Sweep|Evacuat|RememberedSet|SlotSet|MinorGC|GCTracer|ArrayBufferSweeper/.test(
      symbol,
    )
  )
    return 'V8 garbage collector';
  if (dso.includes('JIT') || dso.includes('/perf-')) {
    if (symbol.includes('/dist/')) return 'JS: claimgate';
    if (symbol.includes('grpc-js')) return 'JS: grpc-js';
    if (symbol.includes('node:internal/http2')) return "JS: node's HTTP/2";
    if (symbol.includes('node_modules')) return 'JS: other packages';
    if (symbol.includes('node:')) return 'JS: node, other';
    return 'JS: stubs, unnamed';
  }
  if (symbol.startsWith('Builtins_')) return 'V8 builtins';
  if (/malloc|free|_int_|unlink_chunk|consolidate|tcache/.test(symbol)) return 'malloc/free';
  if (/nghttp2|http2/.test(symbol)) return 'node C++: HTTP/2';
  if (symbol.includes('v8::')) return 'V8 runtime';
  if (/node::|uv_|uv__/.test(symbol)) return 'node C++ / libuv, other';
  return 'other native';
}

interface Split {
  readonly id: string;
  readonly main: Map<string, number>;
  readonly helpers: number;
}

function splitOf(dir: string, id: string, requests: number): Split {
  const file = join(dir, `${id}.1.loaded.perf.data`);
  const out = spawnSync('perf', ['script', '-i', file, '-F', 'pid,tid,ip,sym,dso', '-G'], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  if (out.status !== 0) throw new Error(`perf script ${file}: ${out.stderr}`);
  const main = new Map<string, number>();
  let helpers = 0;
  let samples = 0;
  for (const line of out.stdout.split('\n')) {
    // "pid/tid  ip sym (dso)" with -G (no call graph): one line per sample, its own frame.
    const m = /^\s*(\d+)\/(\d+)\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$/.exec(line);
    if (m === null) continue;
    samples++;
    if (m[1] !== m[2]) {
      helpers++;
      continue;
    }
    const part = partOfSample(m[4] ?? '', m[3] ?? '');
    main.set(part, (main.get(part) ?? 0) + 1);
  }
  if (samples === 0) throw new Error(`${file}: no samples`);
  // perf record -F 1999: each sample stands for 1/1999 s of CPU.
  const us = (n: number) => (n / 1999 / requests) * 1e6;
  return { id, main: new Map([...main].map(([k, v]) => [k, us(v)])), helpers: us(helpers) };
}

function main(): void {
  const [dir, ...pairs] = process.argv.slice(2);
  if (dir === undefined || pairs.length === 0) throw new Error('usage: perf-split DIR ID=REQUESTS …');
  const splits = pairs.map((p) => {
    const [id, n] = p.split('=');
    return splitOf(dir, id ?? '', Number(n));
  });
  const parts = [...new Set(splits.flatMap((s) => [...s.main.keys()]))].sort(
    (a, b) => (splits.at(-1)?.main.get(b) ?? 0) - (splits.at(-1)?.main.get(a) ?? 0),
  );
  const f = (n: number) => n.toFixed(1).padStart(8);
  const first = splits[0]!;
  console.log(`CPU µs per request by part (perf, -F 1999); Δ against ${first.id}`);
  console.log(`${'part'.padEnd(28)}${splits.map((s) => s.id.padStart(8) + (s === first ? '' : '       Δ')).join('')}`);
  const row = (name: string, value: (s: Split) => number) =>
    console.log(
      `${name.padEnd(28)}${splits.map((s) => f(value(s)) + (s === first ? '' : f(value(s) - value(first)))).join('')}`,
    );
  for (const part of parts) row(`main: ${part}`, (s) => s.main.get(part) ?? 0);
  row('main thread, total', (s) => [...s.main.values()].reduce((a, b) => a + b, 0));
  row('helper threads (GC, libuv)', (s) => s.helpers);
  row('process, total', (s) => [...s.main.values()].reduce((a, b) => a + b, 0) + s.helpers);
}

main();
