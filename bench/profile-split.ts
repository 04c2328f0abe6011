/**
 * Where each server's main-thread CPU goes, per request, from the profiles `run.js --profile DIR` writes:
 * self time of every sample, grouped by part (claimgate, grpc-js, node's HTTP/2, GC, …) and divided by the
 * requests that server answered (the `.requests.json` beside each profile). Scenarios side by side, and
 * each one's difference from the first: which parts make B cost more than A0.
 *
 *   node dist-bench/bench/profile-split.js DIR [--base A0] [--top 25] [--part "node's HTTP/2"]
 *
 * A V8 CPU profile covers the main thread only; run.js's "of it helpers" column has the other threads.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** The part of the process a frame belongs to. */
export function partOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(program)') return 'native, no JS on the stack';
    if (functionName === '(idle)') return 'idle';
    return 'native, called from JS';
  }
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (nm) return nm[1] === '@grpc/grpc-js' ? 'grpc-js' : `npm: ${nm[1]}`;
  if (url.startsWith('node:internal/http2')) return "node's HTTP/2";
  if (url.startsWith('node:internal/streams') || url.startsWith('node:stream')) return "node's streams";
  if (url.startsWith('node:')) return 'node, other';
  if (/\/dist\/(src\/)?/.test(url) || url.includes('/dist-bench/')) return 'claimgate / bench server';
  return 'other';
}

interface Split {
  readonly id: string;
  readonly requests: number;
  /** µs of main-thread CPU per request, by part and by function. */
  readonly byPart: Map<string, number>;
  readonly byFunction: Map<string, number>;
}

function split(file: string, id: string, requests: number): Split {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const byPart = new Map<string, number>();
  const byFunction = new Map<string, number>();
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  profile.samples.forEach((nodeId, i) => {
    const frame = nodes.get(nodeId)?.callFrame;
    if (frame === undefined) return;
    const us = (profile.timeDeltas[i] ?? 0) / requests;
    const part = partOf(frame);
    if (part === 'idle') return;
    add(byPart, part, us);
    const where = frame.url.replace(/.*node_modules\//, '').replace(/.*\/dist(-bench)?\//, '');
    add(byFunction, `${part}\t${frame.functionName || '(anonymous)'} ${where}:${frame.lineNumber + 1}`, us);
  });
  return { id, requests, byPart, byFunction };
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '25' }, base: { type: 'string' }, part: { type: 'string' } },
  });
  const dir = positionals[0];
  if (dir === undefined) throw new Error('usage: profile-split DIR [--top N]');
  const splits: Split[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.cpuprofile')) continue;
    let counted: { id: string; requests: number };
    try {
      counted = JSON.parse(readFileSync(join(dir, `${name}.requests.json`), 'utf8')) as typeof counted;
    } catch {
      console.error(`${name}: no .requests.json beside it (not written by run.js --profile), skipped`);
      continue;
    }
    splits.push(split(join(dir, name), counted.id, counted.requests));
  }
  if (values.base !== undefined) {
    const i = splits.findIndex((s) => s.id === values.base);
    if (i < 0) throw new Error(`--base ${values.base}: no such scenario among ${splits.map((s) => s.id).join(', ')}`);
    splits.unshift(...splits.splice(i, 1));
  }
  const first = splits[0];
  if (first === undefined) throw new Error(`no profiles with request counts in ${dir}`);

  const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const parts = [...new Set(splits.flatMap((s) => [...s.byPart.keys()]))].sort(
    (a, b) => (splits.at(-1)?.byPart.get(b) ?? 0) - (splits.at(-1)?.byPart.get(a) ?? 0),
  );
  const f = (n: number) => n.toFixed(2).padStart(8);
  console.log(`main-thread CPU µs per request (self time); Δ against ${first.id}`);
  console.log(`${'part'.padEnd(30)}${splits.map((s) => s.id.padStart(8) + (s === first ? '' : '       Δ')).join('')}`);
  for (const part of [...parts, 'total']) {
    const row = splits.map((s) => {
      const v = part === 'total' ? total(s.byPart) : (s.byPart.get(part) ?? 0);
      const base = part === 'total' ? total(first.byPart) : (first.byPart.get(part) ?? 0);
      return f(v) + (s === first ? '' : f(v - base));
    });
    console.log(`${part.padEnd(30)}${row.join('')}`);
  }
  console.log(`requests: ${splits.map((s) => `${s.id} ${s.requests}`).join(', ')}`);

  const top = Number(values.top);
  for (const s of splits.slice(1)) {
    const keys = [...new Set([...s.byFunction.keys(), ...first.byFunction.keys()])].filter(
      (k) => values.part === undefined || k.startsWith(`${values.part}\t`),
    );
    const fns = keys.map((k): [string, number, number] => [k, s.byFunction.get(k) ?? 0, first.byFunction.get(k) ?? 0]);
    fns.sort((a, b) => b[1] - b[2] - (a[1] - a[2]));
    const which = values.part === undefined ? '' : ` in "${values.part}"`;
    console.log(`\n${s.id} − ${first.id}: functions${which} that cost more per request (µs; ${s.id}, ${first.id}, Δ)`);
    for (const [k, v, base] of fns.slice(0, top))
      console.log(`${f(v)}${f(base)}${f(v - base)}  ${k.replace(/^[^\t]*\t/, '')}`);
  }
}

main();
