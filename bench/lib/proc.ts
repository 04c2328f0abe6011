/**
 * Process helpers: start a server pinned to one CPU, read its CPU time from /proc, stop it for sure.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, openSync, closeSync, readdirSync, readFileSync } from 'node:fs';

export const CLK_TCK: number = (() => {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(out.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

export function commandExists(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** user+system CPU ticks of one process (all its threads), or undefined when it is gone. */
function ticksOf(pid: number, statFile = `/proc/${pid}/stat`): number | undefined {
  try {
    const stat = readFileSync(statFile, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return undefined;
  }
}

/** pid → ppid for every process (to follow a server's worker processes). */
function parentMap(): Map<number, number> {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(entry), Number(rest[1]));
    } catch {
      // exited meanwhile
    }
  }
  return parents;
}

/** CPU seconds used so far by `pid` and all its live descendants (cluster workers included). */
export function treeCpuSeconds(pid: number): number {
  const parents = parentMap();
  const tree = new Set([pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [child, parent] of parents) {
      if (!tree.has(child) && tree.has(parent)) {
        tree.add(child);
        grew = true;
      }
    }
  }
  let ticks = 0;
  for (const p of tree) ticks += ticksOf(p) ?? 0;
  return ticks / CLK_TCK;
}

/**
 * CPU seconds of the main thread of `pid` and of its other threads (V8's GC and compiler helpers,
 * libuv's pool), from /proc/<pid>/task: process CPU counts all of them, a CPU profile only the first.
 */
export function threadCpuSeconds(pid: number): { main: number; helpers: number } {
  let main = 0;
  let helpers = 0;
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return { main: Number.NaN, helpers: Number.NaN };
  }
  for (const tid of tasks) {
    const t = ticksOf(Number(tid), `/proc/${pid}/task/${tid}/stat`);
    if (t === undefined) continue;
    if (Number(tid) === pid) main += t;
    else helpers += t;
  }
  return { main: main / CLK_TCK, helpers: helpers / CLK_TCK };
}

export interface PinnedProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** stdout lines seen so far. */
  readonly lines: string[];
  /** Resolves with the first stdout line matching `re`. */
  waitForLine(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** SIGTERM, then SIGKILL after graceMs; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Kills every started process if the runner itself exits or is interrupted. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      killAll();
      process.exit(130);
    });
  }
}

/** Starts `command args` under `taskset -c cpu`; stderr goes to `stderrFile`. */
export function startPinned(
  cpu: number,
  command: string,
  args: readonly string[],
  stderrFile: string,
  env: NodeJS.ProcessEnv = process.env,
  stdoutFile?: string,
): PinnedProcess {
  installExitHook();
  const errFd = openSync(stderrFile, 'w');
  const child = spawn('taskset', ['-c', String(cpu), command, ...args], { stdio: ['ignore', 'pipe', errFd], env });
  closeSync(errFd);
  if (child.pid === undefined) throw new Error(`cannot start ${command}`);
  live.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => live.delete(child));
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  let buffer = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    if (stdoutFile !== undefined) appendFileSync(stdoutFile, chunk);
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      lines.push(line);
      for (let i = waiters.length - 1; i >= 0; i--) {
        const w = waiters[i];
        const m = w === undefined ? null : line.match(w.re);
        if (w !== undefined && m !== null) {
          waiters.splice(i, 1);
          w.resolve(m);
        }
      }
    }
  });
  return {
    child,
    pid: child.pid,
    lines,
    waitForLine(re, timeoutMs) {
      const seen = lines.map((l) => l.match(re)).find((m) => m !== null);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${command}: no line matching ${re} within ${timeoutMs} ms`)),
          timeoutMs,
        );
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`${command} exited (code ${child.exitCode}) before printing ${re}`));
        });
        waiters.push({ re, resolve: (m) => (clearTimeout(timer), resolve(m)) });
      });
    },
    async stop(graceMs = 3000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls an HTTP URL on loopback until it answers 200. */
export async function waitForHttp200(url: string, timeoutMs: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`server exited while waiting for ${url}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms (${last})`);
}
