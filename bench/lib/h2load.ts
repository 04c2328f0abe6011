/**
 * Runs h2load (Debian nghttp2-client) pinned to one CPU and reads its results: throughput and counts
 * from its summary, latency percentiles from its per-request log (`--log-file`: start µs, status,
 * µs until the end of the response), and h2load's own CPU time (the shell's `times` after it exits).
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

export interface LoadShape {
  /** Connections. */
  readonly c: number;
  /** In-flight streams per connection (HTTP/2) — 1 for HTTP/1.1 (no pipelining). */
  readonly m: number;
}

export interface H2loadRequest {
  readonly url: string;
  readonly cpu: number;
  readonly shape: LoadShape;
  readonly durationS: number;
  /** HTTP/1.1 instead of h2c. */
  readonly h1?: boolean;
  /** Request body file (makes the method POST). */
  readonly dataFile?: string;
  readonly headers: readonly string[];
  /** Where the per-request log goes (deleted after parsing). */
  readonly logFile: string;
  /** Time windows (epoch ms), read after the run: latencies of requests started inside them are reported apart. */
  readonly windowsMs?: () => readonly (readonly [number, number])[];
}

export interface WindowLatency {
  readonly requests: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface H2loadResult {
  readonly rps: number;
  readonly done: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly errored: number;
  readonly timeout: number;
  readonly status2xx: number;
  readonly non2xx: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** CPU seconds h2load itself used (user+sys): near durationS means the load generator was the limit. */
  readonly loadgenCpuS: number;
  /** Requests started inside `windowsMs`, when given. */
  readonly inWindows?: WindowLatency;
  readonly wallS: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] ?? Number.NaN;
}

/** The log's columns: request start (µs since the epoch), HTTP status, µs until the response ended. */
function readLatencies(
  file: string,
  windowsMs: readonly (readonly [number, number])[] = [],
): { latenciesUs: Float64Array; badStatus: number; inWindowsUs: Float64Array } {
  const text = readFileSync(file, 'utf8');
  const rows = text.split('\n');
  const out = new Float64Array(rows.length);
  const windowed = new Float64Array(rows.length);
  let n = 0;
  let w = 0;
  let badStatus = 0;
  for (const row of rows) {
    if (row === '') continue;
    const cols = row.split('\t');
    const startMs = Number(cols[0]) / 1000;
    const status = Number(cols[1]);
    const us = Number(cols[2]);
    if (!(status >= 200 && status < 300)) badStatus++;
    if (!Number.isFinite(us)) continue;
    out[n++] = us;
    if (windowsMs.some(([from, to]) => startMs >= from && startMs <= to)) windowed[w++] = us;
  }
  const latenciesUs = out.subarray(0, n).sort();
  return { latenciesUs, badStatus, inWindowsUs: windowed.subarray(0, w).sort() };
}

const num = (re: RegExp, text: string): number => {
  const m = re.exec(text);
  return m?.[1] === undefined ? Number.NaN : Number(m[1]);
};

/** Parses dash/bash `times` output: the second line is the children's user and system time. */
function childrenCpu(stderr: string): number {
  const all = [...stderr.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  if (all.length < 4) return Number.NaN;
  return (all[all.length - 2] ?? 0) + (all[all.length - 1] ?? 0);
}

export async function runH2load(req: H2loadRequest): Promise<H2loadResult> {
  const args = [
    '-c',
    String(req.shape.c),
    '-m',
    String(req.shape.m),
    '-t',
    '1',
    '-D',
    `${Math.max(1, Math.round(req.durationS * 1000))}ms`,
    '--log-file',
    req.logFile,
    ...(req.h1 ? ['--h1'] : []),
    ...(req.dataFile ? ['-d', req.dataFile] : []),
    ...req.headers.flatMap((h) => ['-H', h]),
    req.url,
  ];
  // The shell runs h2load pinned, then prints its own and its children's CPU times (`times`).
  const script = `taskset -c ${req.cpu} h2load "$@"; rc=$?; times >&2; exit $rc`;
  const started = process.hrtime.bigint();
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
    (resolve, reject) => {
      const child = spawn('sh', ['-c', script, 'h2load', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
      const guard = setTimeout(() => child.kill('SIGKILL'), (req.durationS + 30) * 1000);
      child.once('error', (e) => (clearTimeout(guard), reject(e)));
      child.once('close', (c) => (clearTimeout(guard), resolve({ code: c, stdout: out, stderr: err })));
    },
  );
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  if (code !== 0) throw new Error(`h2load exited with ${code}: ${stderr.trim()}\n${stdout.trim()}`);
  let latencies: ReturnType<typeof readLatencies>;
  try {
    latencies = readLatencies(req.logFile, req.windowsMs?.());
  } finally {
    rmSync(req.logFile, { force: true });
  }
  const done = num(/requests: \d+ total, \d+ started, (\d+) done/, stdout);
  const s = latencies.latenciesUs;
  return {
    rps: num(/finished in [\d.]+\w*, ([\d.]+) req\/s/, stdout),
    done,
    succeeded: num(/(\d+) succeeded/, stdout),
    failed: num(/(\d+) failed/, stdout),
    errored: num(/(\d+) errored/, stdout),
    timeout: num(/(\d+) timeout/, stdout),
    status2xx: num(/status codes: (\d+) 2xx/, stdout),
    non2xx: latencies.badStatus,
    p50Ms: percentile(s, 50) / 1000,
    p90Ms: percentile(s, 90) / 1000,
    p99Ms: percentile(s, 99) / 1000,
    maxMs: percentile(s, 100) / 1000,
    loadgenCpuS: childrenCpu(stderr),
    wallS,
    ...(req.windowsMs === undefined
      ? {}
      : {
          inWindows: {
            requests: latencies.inWindowsUs.length,
            p99Ms: percentile(latencies.inWindowsUs, 99) / 1000,
            maxMs: percentile(latencies.inWindowsUs, 100) / 1000,
          },
        }),
  };
}
