/**
 * The long main-thread tasks of a server CPU profile (`reload-latency --node-args "--cpu-prof
 * --cpu-prof-interval 100 --cpu-prof-dir=DIR"`): `node dist-bench/bench/reload-profile.js FILE.cpuprofile
 * [--min-ms 2]`. A task is a run of consecutive samples with the same bottom frame (the callback the
 * event loop entered: a timer, an immediate, an I/O callback, the garbage collector) and no idle sample
 * in between. Each task of at least `--min-ms` is listed with the frames present in at least half of its
 * samples (what it is) and its top self-time functions; tasks within a reload (from the first sample of
 * `reloadFile` to 300 ms after the last one of `commit`) are marked R. Sampling, so durations are ±one
 * interval and back-to-back Checks with the same entry frame can join into one task.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { 'min-ms': { type: 'string', default: '2' } },
});
const MIN_US = Number(values['min-ms']) * 1000;
const RELOAD_TAIL_US = 300_000;

const profile = JSON.parse(readFileSync(positionals[0] ?? '', 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const label = (n: ProfileNode) => {
  const { functionName, url, lineNumber } = n.callFrame;
  const where = url === '' ? '' : ` ${basename(url)}:${lineNumber + 1}`;
  return `${functionName === '' ? '(anonymous)' : functionName}${where}`;
};
/** Frames of a sample, leaf first, without "(root)". */
const stackOf = (id: number): ProfileNode[] => {
  const out: ProfileNode[] = [];
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const node = byId.get(at);
    if (node !== undefined && node.callFrame.functionName !== '(root)') out.push(node);
  }
  return out;
};

interface Task {
  readonly startUs: number;
  endUs: number;
  readonly entry: string;
  readonly stacks: ProfileNode[][];
}
const tasks: Task[] = [];
const reloadMarks: { first: number; lastCommit: number }[] = [];
let t = profile.startTime;
let open: Task | undefined;
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i] ?? 0;
  const stack = stackOf(profile.samples[i] ?? 0);
  const bottom = stack[stack.length - 1];
  const entry = bottom === undefined ? '(idle)' : label(bottom);
  const names = stack.map((n) => n.callFrame.functionName);
  if (names.includes('reloadFile')) {
    const last = reloadMarks[reloadMarks.length - 1];
    if (last === undefined || t - last.lastCommit > RELOAD_TAIL_US) reloadMarks.push({ first: t, lastCommit: t });
  }
  if (names.includes('commit')) {
    const last = reloadMarks[reloadMarks.length - 1];
    if (last !== undefined) last.lastCommit = t;
  }
  if (entry === '(idle)') {
    open = undefined;
    continue;
  }
  if (open === undefined || open.entry !== entry) {
    open = { startUs: t, endUs: t, entry, stacks: [] };
    tasks.push(open);
  }
  open.endUs = t;
  open.stacks.push(stack);
}

const inReload = (task: Task) =>
  reloadMarks.some((m) => task.startUs >= m.first - 1000 && task.startUs <= m.lastCommit + RELOAD_TAIL_US);
const top = (counts: Map<string, number>, n: number, atLeast = 0) =>
  [...counts]
    .filter(([, c]) => c >= atLeast)
    .sort((a, b) => b[1] - a[1])
    .slice(0, n);

process.stdout.write(
  `${positionals[0]}: ${profile.samples.length} samples, ${reloadMarks.length} reloads; tasks ≥ ${values['min-ms']} ms (R = during a reload)\n`,
);
for (const task of tasks) {
  const ms = (task.endUs - task.startUs) / 1000;
  if (ms * 1000 < MIN_US) continue;
  const inclusive = new Map<string, number>();
  const self = new Map<string, number>();
  for (const stack of task.stacks) {
    for (const name of new Set(stack.map(label))) inclusive.set(name, (inclusive.get(name) ?? 0) + 1);
    const leaf = stack[0];
    if (leaf !== undefined) self.set(label(leaf), (self.get(label(leaf)) ?? 0) + 1);
  }
  const n = task.stacks.length;
  const what = top(inclusive, 8, n / 2)
    .map(([name]) => name)
    .filter((name) => name !== task.entry)
    .slice(-4);
  const selfTop = top(self, 3).map(([name, c]) => `${name} ${Math.round((100 * c) / n)}%`);
  process.stdout.write(
    `${inReload(task) ? 'R' : ' '} +${((task.startUs - profile.startTime) / 1e6).toFixed(3)} s ${ms.toFixed(1).padStart(6)} ms  ${task.entry}\n` +
      `      in: ${what.join(' < ') || '-'}\n      self: ${selfTop.join(', ')}\n`,
  );
}
