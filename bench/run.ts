/**
 * claimgate benchmark suite. `npm run bench -- [suite] [--quick] [--only B,C] [--out FILE]`
 *
 *   suite  scenarios (default): A0, A, A2, B (default config), B-tuned, B-2w, C, D, E, F side by side under h2load
 *          jose:         jose.jwtVerify vs node:crypto verify, one core
 *          cache-memory: token cache bytes per entry at 1,000,000 entries, and the max_bytes bound
 *          all:          the three
 *
 * Every server runs pinned to CPU 0 (`taskset -c 0`), h2load to CPU 1, loopback only. Per scenario and
 * repetition: start, one probe request (the answer must be the intended one), warm-up, a measured
 * closed-loop run at 4 connections × 16 streams (throughput, p99), a measured run at 1 × 1 (unloaded
 * p50), then claimgate's own counters (every Check must have had the intended decision), then stop.
 * Repetitions are interleaved across scenarios so drift on a shared machine hits all of them alike.
 * Results: a table on stdout and JSON in bench/results/latest.json. Thresholds are reported, never asserted.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  AUDIENCE,
  checkRequestBytes,
  generateKeys,
  grpcFrame,
  IDENTITY_HEADERS,
  ISSUER,
  realisticClaims,
  requestHeaders,
  REQUIRED_SCOPE,
  ROUTE_PREFIX,
  RSA_KID,
  signToken,
  type KeyMaterial,
} from './lib/fixtures.js';
import { stringify as stringifyYaml } from 'yaml';
import { runH2load, type H2loadResult, type LoadShape } from './lib/h2load.js';
import {
  commandExists,
  startPinned,
  threadCpuSeconds,
  treeCpuSeconds,
  waitForHttp200,
  type PinnedProcess,
} from './lib/proc.js';
import { CHECK_PATH, probeGrpc, probeHttp, scrapeCounters, type ServerCounters } from './lib/probe.js';
import { freePort, listen } from '../test/support/listen.js';
import { withFlippedSignatureBit } from '../test/support/tokens.js';

const HERE = dirname(fileURLToPath(import.meta.url));

/** The profile file each scenario's running server writes (--profile), to record its request count beside it. */
const profileNames = new Map<string, string>();

/** node flags for a server: `--cpu-prof` into --profile DIR when asked. */
function profileFlags(id: string): string[] {
  const extra = args.opts['node-flags']?.split(' ').filter((f) => f !== '') ?? [];
  return [...extra, ...profilerFlags(id)];
}

function profilerFlags(id: string): string[] {
  // perf names JIT-compiled JavaScript through the /tmp/perf-<pid>.map node writes with this flag.
  if (args.opts.perf !== undefined) return ['--perf-basic-prof-only-functions'];
  if (args.opts.profile === undefined) return [];
  const name = `${id}-${Date.now()}.cpuprofile`;
  profileNames.set(id, name);
  return ['--cpu-prof', '--cpu-prof-dir', resolve(args.opts.profile), '--cpu-prof-name', name];
}

/** Starts a node server pinned to the server CPU with the profiling/diagnostic flags asked for. */
function startNodeServer(ctx: Context, id: string, nodeArgs: readonly string[]): PinnedProcess {
  const kept = args.opts['keep-output'] === undefined ? undefined : resolve(args.opts['keep-output']);
  if (kept !== undefined) mkdirSync(kept, { recursive: true });
  return startPinned(
    args.serverCpu,
    process.execPath,
    [...profileFlags(id), ...nodeArgs],
    join(kept ?? ctx.work, `${id}-${Date.now()}.stderr`),
    process.env,
    kept === undefined ? undefined : join(kept, `${id}-${Date.now()}.stdout`),
  );
}

/** Writes `<profile>.requests.json` (requests the server answered in its life) for bench/profile-split. */
function recordProfiledRequests(id: string, requests: number): void {
  const name = profileNames.get(id);
  if (args.opts.profile === undefined || name === undefined) return;
  writeFileSync(join(resolve(args.opts.profile), `${name}.requests.json`), JSON.stringify({ id, requests }) + '\n');
}
/** Repository root (this file runs from dist-bench/bench/). */
const ROOT = resolve(HERE, '../..');
const CLAIMGATE_CLI = join(ROOT, 'dist/cli.js');

/** The command line, read by main() (importing this module reads no arguments). */
function parseBenchArgs(argv: string[]) {
  const { values: opts, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      /** --only names whole scenario ids (B alone, not B-tuned and B-2w too). */
      exact: { type: 'boolean', default: false },
      out: { type: 'string' },
      reps: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      'server-cpu': { type: 'string', default: '0' },
      'load-cpu': { type: 'string', default: '1' },
      /** Diagnostics: claimgate's logging.level and logging.allow_sample_rate (default: info and the config default, 1). */
      'log-level': { type: 'string', default: 'info' },
      'allow-sample-rate': { type: 'string' },
      /** Write a V8 CPU profile of every server into this directory (node --cpu-prof). */
      profile: { type: 'string' },
      /** Record each server's loaded run with Linux perf into this directory (native, kernel and JIT frames). */
      perf: { type: 'string' },
      /** Also run scenario B on the build in this directory (its dist/cli.js) as B-baseline, interleaved. */
      'baseline-build': { type: 'string' },
      /** Extra node flags for every node server (e.g. `--trace-gc`), space-separated. */
      'node-flags': { type: 'string' },
      /** Keep each server's stdout and stderr in this directory (with --node-flags=--trace-gc, its GC trace). */
      'keep-output': { type: 'string' },
    },
  });
  const suite = positionals[0] ?? 'scenarios';
  if (!['scenarios', 'jose', 'cache-memory', 'all'].includes(suite))
    throw new Error(`unknown suite ${suite}: scenarios | jose | cache-memory | all`);
  const quick = opts.quick ?? false;
  const serverCpu = Number(opts['server-cpu']);
  return {
    opts,
    suite,
    quick,
    reps: Number(opts.reps ?? (quick ? 1 : 3)),
    durationS: Number(opts.duration ?? (quick ? 1 : 10)),
    warmupS: Number(opts.warmup ?? (quick ? 0.5 : 3)),
    serverCpu,
    loadCpu: availableParallelism() >= 2 ? Number(opts['load-cpu']) : serverCpu,
    out: resolve(opts.out ?? join(ROOT, 'bench/results/latest.json')),
  };
}
type BenchArgs = ReturnType<typeof parseBenchArgs>;
let args: BenchArgs;

const LOADED: LoadShape = { c: 4, m: 16 };
const UNLOADED: LoadShape = { c: 1, m: 1 };
/** HTTP/1.1 has no multiplexing (and proxies do not pipeline auth subrequests): 64 connections × 1. */
const LOADED_H1: LoadShape = { c: 64, m: 1 };

// ---------------------------------------------------------------------------------------------
// Scenario definitions

interface Target {
  readonly proc: PinnedProcess;
  readonly url: string;
  readonly h1: boolean;
  readonly dataFile?: string;
  readonly headers: readonly string[];
  /** claimgate's admin port, for counters. */
  readonly adminPort?: number;
}

interface Scenario {
  readonly id: string;
  readonly title: string;
  /** Decision every Check of a claimgate scenario must get (`decision/reason`). */
  readonly expectDecision?: string;
  start(ctx: Context): Promise<Target>;
  /** Throws unless the answer to one request is the intended one. */
  probe(ctx: Context, target: Target): Promise<void>;
}

interface Context {
  readonly work: string;
  readonly keys: KeyMaterial;
  readonly tokens: { rs256: string; es256: string; badRs256: string };
  readonly jwksFile: string;
  readonly jwksUrl: string;
  readonly frames: { rs256: string; es256: string; badRs256: string };
  readonly frameBytes: { rs256: Buffer; es256: Buffer; badRs256: Buffer };
  readonly verifyMaterial: string;
}

const GRPC_HEADERS = ['content-type: application/grpc', 'te: trailers'];

function bareServer(id: string, title: string, verify: boolean, raw = false): Scenario {
  return {
    id,
    title,
    async start(ctx) {
      const proc = startNodeServer(ctx, id, [
        join(HERE, 'servers/bare-grpc.js'),
        ...(verify ? ['--verify', ctx.verifyMaterial] : []),
        ...(raw ? ['--raw'] : []),
      ]);
      const port = Number((await proc.waitForLine(/^ready (\d+)$/, 15000))[1]);
      return {
        proc,
        url: `http://127.0.0.1:${port}${CHECK_PATH}`,
        h1: false,
        dataFile: ctx.frames.rs256,
        headers: GRPC_HEADERS,
      };
    },
    async probe(ctx, target) {
      const r = await probeGrpc(Number(new URL(target.url).port), grpcFrame(ctx.frameBytes.rs256));
      if (r.grpcStatus !== '0' || r.code !== 0)
        throw new Error(`${id}: probe got grpc-status ${r.grpcStatus}, code ${r.code}`);
    },
  };
}

interface ClaimgateVariant {
  readonly cacheEntries?: number;
  readonly http?: boolean;
  /** The tuned configuration: allows not logged (`logging.allow_sample_rate: 0`). Default: the default config. */
  readonly tuned?: boolean;
  /** `server.workers` (node:cluster), all pinned to the server CPU. */
  readonly workers?: number;
  /** Another build's dist/cli.js (--baseline-build), to compare two builds interleaved in one run. */
  readonly cli?: string;
}

function claimgateConfig(
  ctx: Context,
  ports: { grpc: number; admin: number; http?: number },
  v: ClaimgateVariant,
): string {
  const config = {
    server: {
      grpc_address: `127.0.0.1:${ports.grpc}`,
      admin_address: `127.0.0.1:${ports.admin}`,
      watch_config: false,
      ...(v.workers === undefined ? {} : { workers: v.workers }),
    },
    logging: {
      level: args.opts['log-level'],
      // Only what the variant (or --allow-sample-rate, for diagnostics) changes: everything else is the default.
      ...(v.tuned ? { allow_sample_rate: 0 } : {}),
      ...(!v.tuned && args.opts['allow-sample-rate'] !== undefined
        ? { allow_sample_rate: Number(args.opts['allow-sample-rate']) }
        : {}),
    },
    ...(v.cacheEntries === undefined ? {} : { token_cache: { max_entries: v.cacheEntries } }),
    issuers: [
      { name: 'bench', issuer: ISSUER, jwks_file: ctx.jwksFile, audiences: [AUDIENCE], algorithms: ['RS256', 'ES256'] },
    ],
    routes: [
      {
        name: 'orders',
        match: { methods: ['GET'], path: { prefix: ROUTE_PREFIX } },
        require: { scope: REQUIRED_SCOPE },
      },
    ],
    upstream: { headers: IDENTITY_HEADERS.map((h) => ({ name: h.name, claim: h.claim })) },
    ...(ports.http === undefined ? {} : { http: { address: `127.0.0.1:${ports.http}` } }),
  };
  return stringifyYaml(config);
}

/** The forward-auth request (nginx auth_request style): the original request's headers plus X-Forwarded-*. */
function forwardAuthHeaders(token: string): Record<string, string> {
  const original = requestHeaders(token);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(original)) if (!name.startsWith(':')) headers[name] = value;
  headers['x-forwarded-method'] = original[':method'] ?? 'GET';
  headers['x-forwarded-uri'] = original[':path'] ?? '/';
  headers['x-forwarded-host'] = original[':authority'] ?? 'api.example.com';
  return headers;
}

const headerLines = (h: Record<string, string>) => Object.entries(h).map(([k, v]) => `${k}: ${v}`);

function claimgateScenario(
  id: string,
  title: string,
  token: 'rs256' | 'es256' | 'badRs256',
  v: ClaimgateVariant,
  expectDecision: string,
): Scenario {
  return {
    id,
    title,
    expectDecision,
    async start(ctx) {
      const ports = { grpc: await freePort(), admin: await freePort(), ...(v.http ? { http: await freePort() } : {}) };
      const configFile = join(ctx.work, `${id}.yaml`);
      writeFileSync(configFile, claimgateConfig(ctx, ports, v));
      const proc = startNodeServer(ctx, id, [v.cli ?? CLAIMGATE_CLI, 'serve', '--config', configFile]);
      await waitForHttp200(`http://127.0.0.1:${ports.admin}/readyz`, 15000, () => proc.child.exitCode === null);
      if (ports.http !== undefined) {
        return {
          proc,
          url: `http://127.0.0.1:${ports.http}/auth`,
          h1: true,
          headers: headerLines(forwardAuthHeaders(ctx.tokens[token])),
          adminPort: ports.admin,
        };
      }
      return {
        proc,
        url: `http://127.0.0.1:${ports.grpc}${CHECK_PATH}`,
        h1: false,
        dataFile: ctx.frames[token],
        headers: GRPC_HEADERS,
        adminPort: ports.admin,
      };
    },
    async probe(ctx, target) {
      const wantAllow = expectDecision.startsWith('allow/');
      if (target.h1) {
        const r = await probeHttp(target.url, forwardAuthHeaders(ctx.tokens[token]));
        if (wantAllow && (r.status !== 200 || IDENTITY_HEADERS.some((h) => r.headers[h.name] === undefined)))
          throw new Error(`${id}: probe got HTTP ${r.status}`);
        return;
      }
      const r = await probeGrpc(Number(new URL(target.url).port), grpcFrame(ctx.frameBytes[token]));
      if (r.grpcStatus !== '0') throw new Error(`${id}: probe got grpc-status ${r.grpcStatus}`);
      if (wantAllow && (r.code !== 0 || IDENTITY_HEADERS.some((h) => !r.headersSet.includes(h.name)))) {
        throw new Error(
          `${id}: probe expected an allow with ${IDENTITY_HEADERS.length} identity headers, got code ${r.code} [${r.headersSet.join(', ')}]`,
        );
      }
      if (!wantAllow && r.code !== 16) throw new Error(`${id}: probe expected a denial (16), got code ${r.code}`);
    },
  };
}

const tutorialScenario: Scenario = {
  id: 'F-tutorial',
  title: 'tutorial: node:http + jsonwebtoken + jwks-rsa (cache on), forward auth',
  async start(ctx) {
    const proc = startNodeServer(ctx, 'F-tutorial', [
      join(HERE, 'servers/tutorial-http.js'),
      '--jwks-uri',
      ctx.jwksUrl,
      '--issuer',
      ISSUER,
      '--audience',
      AUDIENCE,
      '--scope',
      REQUIRED_SCOPE,
      '--prefix',
      ROUTE_PREFIX,
    ]);
    const port = Number((await proc.waitForLine(/^ready (\d+)$/, 15000))[1]);
    return {
      proc,
      url: `http://127.0.0.1:${port}/auth`,
      h1: true,
      headers: headerLines(forwardAuthHeaders(ctx.tokens.rs256)),
    };
  },
  async probe(ctx, target) {
    const r = await probeHttp(target.url, forwardAuthHeaders(ctx.tokens.rs256));
    if (r.status !== 200 || IDENTITY_HEADERS.some((h) => r.headers[h.name] === undefined))
      throw new Error(`F-tutorial: probe got HTTP ${r.status}`);
  },
};

const SCENARIOS: readonly Scenario[] = [
  bareServer('A0', 'bare grpc-js, identity (de)serializers, pre-encoded OK (grpc-js + HTTP/2 alone)', false, true),
  bareServer('A', 'bare grpc-js Check server, proto-loader objects, fixed OK (transport ceiling)', false),
  bareServer('A2', 'bare grpc-js + one node:crypto RS256 verify per Check (crypto ceiling)', true),
  claimgateScenario('B', 'claimgate, token cache hit (RS256), default config', 'rs256', {}, 'allow/OK_AUTHENTICATED'),
  claimgateScenario(
    'B-tuned',
    'claimgate, token cache hit, tuned (allow_sample_rate: 0)',
    'rs256',
    { tuned: true },
    'allow/OK_AUTHENTICATED',
  ),
  claimgateScenario(
    'B-2w',
    'claimgate, token cache hit, default config, 2 workers (same CPU)',
    'rs256',
    { workers: 2 },
    'allow/OK_AUTHENTICATED',
  ),
  claimgateScenario(
    'C',
    'claimgate, cache off, RS256 verify per Check',
    'rs256',
    { cacheEntries: 0 },
    'allow/OK_AUTHENTICATED',
  ),
  claimgateScenario(
    'D',
    'claimgate, cache off, ES256 verify per Check',
    'es256',
    { cacheEntries: 0 },
    'allow/OK_AUTHENTICATED',
  ),
  claimgateScenario(
    'E',
    'claimgate, repeated token with a bad signature (negative cache)',
    'badRs256',
    {},
    'deny/ERR_SIGNATURE_INVALID',
  ),
  claimgateScenario(
    'F-claimgate',
    'claimgate forward-auth HTTP door (cache on)',
    'rs256',
    { http: true },
    'allow/OK_AUTHENTICATED',
  ),
  tutorialScenario,
];

// ---------------------------------------------------------------------------------------------
// Measurement

interface Measured {
  readonly shape: LoadShape;
  readonly h2load: H2loadResult;
  /** Server CPU seconds over the measured run (process tree). */
  readonly serverCpuS: number;
  readonly serverCpuUsPerRequest: number;
  /** Of that, what the server's helper threads used (V8 GC/compiler, libuv pool); main process only. */
  readonly helperCpuUsPerRequest: number;
  /** Server CPU ÷ wall time of the run: ~1.0 means the server core was saturated. */
  readonly serverUtil: number;
  readonly loadgenUtil: number;
}

interface RepResult {
  readonly rep: number;
  readonly loaded: Measured;
  readonly unloaded: Measured;
  readonly counters?: ServerCounters;
  readonly errors: string[];
}

async function measure(
  target: Target,
  shape: LoadShape,
  durationS: number,
  work: string,
  label: string,
): Promise<Measured> {
  const before = treeCpuSeconds(target.proc.pid);
  const threadsBefore = threadCpuSeconds(target.proc.pid);
  const perf = shape === UNLOADED ? undefined : startPerf(target.proc.pid, label);
  const h2load = await runH2load({
    url: target.url,
    cpu: args.loadCpu,
    shape,
    durationS,
    ...(target.h1 ? { h1: true } : {}),
    ...(target.dataFile ? { dataFile: target.dataFile } : {}),
    headers: target.headers,
    logFile: join(work, `${label}.h2load.log`),
  });
  const serverCpuS = treeCpuSeconds(target.proc.pid) - before;
  await perf?.stop();
  const helperCpuS = threadCpuSeconds(target.proc.pid).helpers - threadsBefore.helpers;
  return {
    shape,
    h2load,
    serverCpuS,
    serverCpuUsPerRequest: h2load.done > 0 ? (serverCpuS / h2load.done) * 1e6 : Number.NaN,
    helperCpuUsPerRequest: h2load.done > 0 ? (helperCpuS / h2load.done) * 1e6 : Number.NaN,
    serverUtil: serverCpuS / h2load.wallS,
    loadgenUtil: h2load.loadgenCpuS / h2load.wallS,
  };
}

/** `perf record` of the server's process (all threads) while a run lasts, when --perf DIR is given. */
function startPerf(pid: number, label: string): { stop(): Promise<void> } | undefined {
  if (args.opts.perf === undefined) return undefined;
  const out = join(resolve(args.opts.perf), `${label}.perf.data`);
  const child = spawn('perf', ['record', '-F', '1999', '-g', '-p', String(pid), '-o', out], { stdio: 'ignore' });
  return {
    stop: () =>
      new Promise<void>((done) => {
        child.once('exit', () => done());
        child.kill('SIGINT');
      }),
  };
}

function runErrors(m: Measured, what: string): string[] {
  const e: string[] = [];
  const r = m.h2load;
  if (!(r.done > 0)) e.push(`${what}: no request completed`);
  if (r.failed > 0 || r.errored > 0 || r.timeout > 0)
    e.push(`${what}: ${r.failed} failed, ${r.errored} errored, ${r.timeout} timed out`);
  if (r.non2xx > 0) e.push(`${what}: ${r.non2xx} answers were not 2xx`);
  return e;
}

async function runScenario(ctx: Context, s: Scenario, rep: number): Promise<RepResult> {
  const target = await s.start(ctx);
  try {
    await s.probe(ctx, target);
    const warmShape = target.h1 ? LOADED_H1 : LOADED;
    const warm = await runH2load({
      url: target.url,
      cpu: args.loadCpu,
      shape: warmShape,
      durationS: args.warmupS,
      headers: target.headers,
      logFile: join(ctx.work, `${s.id}.warmup.log`),
      ...(target.h1 ? { h1: true } : {}),
      ...(target.dataFile ? { dataFile: target.dataFile } : {}),
    });
    const before = target.adminPort === undefined ? undefined : await scrapeCounters(target.adminPort);
    const loaded = await measure(target, warmShape, args.durationS, ctx.work, `${s.id}.${rep}.loaded`);
    const unloaded = await measure(target, UNLOADED, args.durationS, ctx.work, `${s.id}.${rep}.unloaded`);
    const errors = [...runErrors(loaded, 'loaded'), ...runErrors(unloaded, 'unloaded')];
    let counters: ServerCounters | undefined;
    if (target.adminPort !== undefined && before !== undefined) {
      const after = await scrapeCounters(target.adminPort);
      const diff = (a: Record<string, number>, b: Record<string, number>): Record<string, number> =>
        Object.fromEntries(
          Object.entries(a)
            .map(([k, v]): [string, number] => [k, v - (b[k] ?? 0)])
            .filter(([, v]) => v !== 0),
        );
      counters = {
        decisions: diff(after.decisions, before.decisions),
        tokenCache: diff(after.tokenCache, before.tokenCache),
      };
      const total = Object.values(counters.decisions).reduce((a, b) => a + b, 0);
      const wrong = Object.entries(counters.decisions).filter(([k]) => k !== s.expectDecision);
      if (wrong.length > 0)
        errors.push(`decisions other than ${s.expectDecision}: ${JSON.stringify(Object.fromEntries(wrong))}`);
      if (total < loaded.h2load.done + unloaded.h2load.done)
        errors.push(`server counted ${total} Checks, h2load completed ${loaded.h2load.done + unloaded.h2load.done}`);
    }
    recordProfiledRequests(s.id, 1 + warm.done + loaded.h2load.done + unloaded.h2load.done);
    return { rep, loaded, unloaded, ...(counters ? { counters } : {}), errors };
  } finally {
    await target.proc.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Summary

interface Stat {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** (max − min) ÷ median, percent. */
  readonly spreadPct: number;
}

function stat(xs: readonly number[]): Stat {
  const s = [...xs].filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, spreadPct: Number.NaN };
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  const min = s[0] as number;
  const max = s[s.length - 1] as number;
  return { median, min, max, spreadPct: median === 0 ? 0 : ((max - min) / median) * 100 };
}

interface ShapeSummary {
  readonly shape: string;
  readonly rps: Stat;
  readonly p50Ms: Stat;
  readonly p99Ms: Stat;
  readonly serverCpuUsPerRequest: Stat;
  readonly helperCpuUsPerRequest: Stat;
  readonly serverUtil: Stat;
  readonly loadgenUtil: Stat;
}

function summarize(ms: readonly Measured[], h1: boolean): ShapeSummary {
  const first = ms[0];
  return {
    shape: first ? `${h1 ? 'h1 ' : ''}-c${first.shape.c} -m${first.shape.m}` : '',
    rps: stat(ms.map((m) => m.h2load.rps)),
    p50Ms: stat(ms.map((m) => m.h2load.p50Ms)),
    p99Ms: stat(ms.map((m) => m.h2load.p99Ms)),
    serverCpuUsPerRequest: stat(ms.map((m) => m.serverCpuUsPerRequest)),
    helperCpuUsPerRequest: stat(ms.map((m) => m.helperCpuUsPerRequest)),
    serverUtil: stat(ms.map((m) => m.serverUtil)),
    loadgenUtil: stat(ms.map((m) => m.loadgenUtil)),
  };
}

interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  readonly protocol: 'grpc' | 'http1';
  readonly loaded?: ShapeSummary;
  readonly unloaded?: ShapeSummary;
  readonly reps: RepResult[];
  readonly errors: string[];
}

interface Ratio {
  readonly name: string;
  readonly value: number;
  readonly target: string;
  readonly met: boolean;
}

function ratios(results: readonly ScenarioResult[]): Ratio[] {
  const by = (id: string) => results.find((r) => r.id === id && r.errors.length === 0);
  const out: Ratio[] = [];
  const add = (name: string, value: number | undefined, op: '>=' | '<=', limit: number, unit = '') => {
    if (value === undefined || !Number.isFinite(value)) return;
    out.push({ name, value, target: `${op} ${limit}${unit}`, met: op === '>=' ? value >= limit : value <= limit });
  };
  const rps = (id: string) => by(id)?.loaded?.rps.median;
  const div = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? undefined : a / b;
  // The verdict on throughput targets is by server CPU per Check (capacity per core): it does not depend on
  // how much of a shared core each server got, which RPS ratios do. "B ≥ 1.0 × A" reads "B costs at most
  // A's CPU per Check", i.e. A's CPU ÷ B's CPU ≥ 1.0.
  const cpu = (id: string) => by(id)?.loaded?.serverCpuUsPerRequest.median;
  const perCpu = (name: string, fast: string, slow: string, limit: number) =>
    add(`${name} by CPU/Check: ${fast} µs ÷ ${slow} µs`, div(cpu(fast), cpu(slow)), '>=', limit);
  perCpu('B ≥ 1.0 × A, default config', 'A', 'B', 1.0);
  perCpu('B ≥ 0.70 × A0, default config', 'A0', 'B', 0.7);
  perCpu('B-tuned ≥ 1.0 × A', 'A', 'B-tuned', 1.0);
  perCpu('B-tuned ≥ 0.70 × A0', 'A0', 'B-tuned', 0.7);
  perCpu('B-2w ≥ 1.0 × A (2 workers, one CPU)', 'A', 'B-2w', 1.0);
  perCpu('C ≥ 0.85 × A2, cache off', 'A2', 'C', 0.85);
  perCpu('E ≥ 0.90 × A, repeated bad token', 'A', 'E', 0.9);
  perCpu('F claimgate ≥ 4 × F tutorial', 'F-tutorial', 'F-claimgate', 4);
  add(
    'B p99 / A p99, default config (-c4 -m16)',
    div(by('B')?.loaded?.p99Ms.median, by('A')?.loaded?.p99Ms.median),
    '<=',
    1.5,
  );
  // Informational: the same comparisons by RPS, which on a shared machine measure who got the core.
  const info = (name: string, a: string, b: string, limit: number) =>
    add(`${name} [RPS, informational]`, div(rps(a), rps(b)), '>=', limit);
  info('B/A RPS', 'B', 'A', 1.0);
  info('B/A0 RPS', 'B', 'A0', 0.7);
  info('C/A2 RPS', 'C', 'A2', 0.85);
  info('E/A RPS', 'E', 'A', 0.9);
  info('F claimgate / tutorial RPS', 'F-claimgate', 'F-tutorial', 4);
  const bp50 = by('B')?.unloaded?.p50Ms.median;
  const ap50 = by('A')?.unloaded?.p50Ms.median;
  add(
    'unloaded p50 B − A (-c1 -m1)',
    bp50 === undefined || ap50 === undefined ? undefined : bp50 - ap50,
    '<=',
    0.05,
    ' ms',
  );
  return out;
}

const f = (n: number | undefined, digits = 0) => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits));

function printTable(results: readonly ScenarioResult[], rs: readonly Ratio[]): void {
  const rows: string[][] = [
    [
      'scenario',
      'load',
      'RPS median',
      'spread',
      'p50 ms',
      'p99 ms',
      'CPU µs/req',
      'of it helpers',
      'server util',
      'h2load util',
    ],
  ];
  for (const r of results) {
    for (const s of [r.loaded, r.unloaded]) {
      if (s === undefined) continue;
      rows.push([
        r.id,
        s.shape,
        f(s.rps.median),
        `±${f(s.rps.spreadPct / 2, 1)}%`,
        f(s.p50Ms.median, 3),
        f(s.p99Ms.median, 3),
        f(s.serverCpuUsPerRequest.median, 1),
        f(s.helperCpuUsPerRequest.median, 1),
        f(s.serverUtil.median, 2),
        f(s.loadgenUtil.median, 2),
      ]);
    }
    if (r.errors.length > 0) rows.push([r.id, `ERRORS: ${r.errors.join('; ')}`]);
  }
  const widths =
    rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row.length > 2 ? (row[i] ?? '').length : 0)))) ?? [];
  for (const row of rows) {
    if (row.length <= 2) console.log(row.join('  '));
    else console.log(row.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  '));
  }
  console.log('');
  console.log('Targets (throughput judged by server CPU per Check; RPS ratios are informational):');
  const width = Math.max(...rs.map((r) => r.name.length));
  for (const r of rs) {
    const informational = r.name.includes('[RPS, informational]');
    const verdict = informational ? '(not the verdict)' : r.met ? 'met' : 'NOT met';
    console.log(`${r.name.padEnd(width)} ${f(r.value, 3).padStart(8)}   target ${r.target.padEnd(10)} ${verdict}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Micro-benchmarks run as pinned child processes that print one JSON line.

function runChildJson(script: string, nodeFlags: string[], scriptArgs: string[]): unknown {
  const r = spawnSync(
    'taskset',
    ['-c', String(args.serverCpu), process.execPath, ...nodeFlags, join(HERE, script), ...scriptArgs],
    {
      encoding: 'utf8',
      timeout: 15 * 60 * 1000,
      maxBuffer: 16 * 1024 * 1024,
      killSignal: 'SIGKILL',
    },
  );
  if (r.status !== 0) throw new Error(`${script} failed (${r.status ?? r.signal}): ${r.stderr}`);
  process.stderr.write(r.stderr);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as unknown;
}

// ---------------------------------------------------------------------------------------------

function machine() {
  const h2 = spawnSync('h2load', ['--version'], { encoding: 'utf8' });
  const cpuModel =
    /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  return {
    nproc: availableParallelism(),
    cpuModel,
    node: process.version,
    h2load: h2.stdout?.trim() ?? 'missing',
    serverCpu: args.serverCpu,
    loadCpu: args.loadCpu,
  };
}

async function serveJwks(jwks: unknown): Promise<{ server: Server; url: string }> {
  const body = JSON.stringify(jwks);
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=600' });
    res.end(body);
  });
  const port = await listen(server);
  return { server, url: `http://127.0.0.1:${port}/.well-known/jwks.json` };
}

async function runScenarios(): Promise<{
  results: ScenarioResult[];
  ratios: Ratio[];
  tokenBytes: Record<string, number>;
}> {
  if (!commandExists('h2load')) throw new Error('h2load not found: install the Debian package nghttp2-client');
  if (!commandExists('taskset')) throw new Error('taskset not found (util-linux)');
  const only = args.opts.only?.split(',').map((s) => s.trim().toUpperCase());
  const baseline = args.opts['baseline-build'];
  const scenarios =
    baseline === undefined
      ? SCENARIOS
      : [
          ...SCENARIOS,
          claimgateScenario(
            'B-baseline',
            `scenario B on the build in ${baseline}`,
            'rs256',
            { cli: join(resolve(baseline), 'dist/cli.js') },
            'allow/OK_AUTHENTICATED',
          ),
        ];
  const chosen = scenarios.filter(
    (s) =>
      only === undefined ||
      only.some(
        (o) => s.id.toUpperCase() === o || (args.opts.exact !== true && s.id.toUpperCase().startsWith(`${o}-`)),
      ),
  );
  if (chosen.length === 0)
    throw new Error(`--only ${args.opts.only} matches no scenario (${SCENARIOS.map((s) => s.id).join(', ')})`);

  const work = mkdtempSync(join(tmpdir(), 'claimgate-bench-'));
  const keys = generateKeys();
  const nowS = Math.floor(Date.now() / 1000);
  const tokens = {
    rs256: signToken('RS256', keys, realisticClaims(nowS)),
    es256: signToken('ES256', keys, realisticClaims(nowS)),
    badRs256: '',
  };
  tokens.badRs256 = withFlippedSignatureBit(tokens.rs256);
  const jwksFile = join(work, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify(keys.jwks));
  const frameBytes = {
    rs256: checkRequestBytes(tokens.rs256),
    es256: checkRequestBytes(tokens.es256),
    badRs256: checkRequestBytes(tokens.badRs256),
  };
  const frames = { rs256: join(work, 'rs256.grpc'), es256: join(work, 'es256.grpc'), badRs256: join(work, 'bad.grpc') };
  for (const k of ['rs256', 'es256', 'badRs256'] as const) writeFileSync(frames[k], grpcFrame(frameBytes[k]));
  const verifyMaterial = join(work, 'a2-verify.json');
  writeFileSync(
    verifyMaterial,
    JSON.stringify({ jwk: keys.jwks.keys.find((k) => k.kid === RSA_KID), token: tokens.rs256 }),
  );
  const jwks = await serveJwks(keys.jwks);
  const ctx: Context = { work, keys, tokens, jwksFile, jwksUrl: jwks.url, frames, frameBytes, verifyMaterial };
  const tokenBytes = {
    rs256: tokens.rs256.length,
    es256: tokens.es256.length,
    checkRequestRs256: frameBytes.rs256.length,
  };
  console.log(
    `token: RS256 ${tokenBytes.rs256} bytes, ES256 ${tokenBytes.es256} bytes; CheckRequest ${tokenBytes.checkRequestRs256} bytes`,
  );

  const reps = new Map<string, RepResult[]>(chosen.map((s) => [s.id, []]));
  const failures = new Map<string, string[]>(chosen.map((s) => [s.id, []]));
  try {
    for (let rep = 1; rep <= args.reps; rep++) {
      for (const s of chosen) {
        const t0 = Date.now();
        try {
          const r = await runScenario(ctx, s, rep);
          reps.get(s.id)?.push(r);
          console.log(
            `[${rep}/${args.reps}] ${s.id.padEnd(12)} ${f(r.loaded.h2load.rps).padStart(7)} req/s  p99 ${f(r.loaded.h2load.p99Ms, 3)} ms  ` +
              `unloaded p50 ${f(r.unloaded.h2load.p50Ms, 3)} ms  ${f(r.loaded.serverCpuUsPerRequest, 1)} µs CPU/req  (${((Date.now() - t0) / 1000).toFixed(1)} s)` +
              (r.errors.length > 0 ? `  ERRORS: ${r.errors.join('; ')}` : ''),
          );
        } catch (e) {
          const msg = (e as Error).message;
          failures.get(s.id)?.push(msg);
          let tail = '';
          try {
            tail = readFileSync(join(work, `${s.id}.stderr`), 'utf8')
              .trim()
              .split('\n')
              .slice(-5)
              .join('\n');
          } catch {
            // no stderr file
          }
          console.log(`[${rep}/${args.reps}] ${s.id}: FAILED: ${msg}${tail ? `\n  server stderr:\n${tail}` : ''}`);
        }
      }
    }
  } finally {
    jwks.server.close();
    rmSync(work, { recursive: true, force: true });
  }

  const results: ScenarioResult[] = chosen.map((s) => {
    const rs = reps.get(s.id) ?? [];
    const h1 = s.id.startsWith('F');
    const errors = [...(failures.get(s.id) ?? []), ...rs.flatMap((r) => r.errors.map((e) => `rep ${r.rep}: ${e}`))];
    if (rs.length === 0 && errors.length === 0) errors.push('no result');
    return {
      id: s.id,
      title: s.title,
      protocol: h1 ? 'http1' : 'grpc',
      ...(rs.length > 0
        ? {
            loaded: summarize(
              rs.map((r) => r.loaded),
              h1,
            ),
            unloaded: summarize(
              rs.map((r) => r.unloaded),
              h1,
            ),
          }
        : {}),
      reps: rs,
      errors,
    };
  });
  return { results, ratios: ratios(results), tokenBytes };
}

async function main(): Promise<void> {
  args = parseBenchArgs(process.argv.slice(2));
  const started = new Date();
  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
  const out: Record<string, unknown> = {
    date: started.toISOString(),
    command,
    mode: args.quick ? 'quick' : 'full',
    settings: {
      reps: args.reps,
      durationS: args.durationS,
      warmupS: args.warmupS,
      loaded: LOADED,
      loadedHttp1: LOADED_H1,
      unloaded: UNLOADED,
      claimgateLogging: {
        level: args.opts['log-level'],
        allow_sample_rate:
          args.opts['allow-sample-rate'] === undefined
            ? 'default (1); B-tuned: 0'
            : Number(args.opts['allow-sample-rate']),
      },
    },
    machine: machine(),
    /** 1/5/15-minute load averages: a shared machine busy with other work skews every figure. */
    loadavgStart: loadavg(),
  };
  console.log(`claimgate bench (${args.quick ? 'quick' : 'full'}): ${JSON.stringify(out.machine)}`);
  if (args.suite === 'scenarios' || args.suite === 'all') {
    const s = await runScenarios();
    console.log('');
    printTable(s.results, s.ratios);
    out.tokenBytes = s.tokenBytes;
    out.scenarios = s.results;
    out.ratios = s.ratios;
  }
  if (args.suite === 'jose' || args.suite === 'all') {
    console.log('\njose.jwtVerify vs node:crypto verify (one core):');
    const jose = runChildJson('jose-vs-crypto.js', [], args.quick ? ['--quick'] : []);
    out.joseVsCrypto = jose;
  }
  if (args.suite === 'cache-memory' || args.suite === 'all') {
    console.log('\ntoken cache memory:');
    const flags = ['--expose-gc', '--max-old-space-size=8192'];
    const entries = args.quick ? '20000' : '1000000';
    const unbounded = runChildJson('token-cache-memory.js', flags, ['--entries', entries]);
    const bounded = runChildJson('token-cache-memory.js', flags, [
      '--entries',
      entries,
      '--max-bytes',
      String(args.quick ? 4 * 1024 * 1024 : 64 * 1024 * 1024),
    ]);
    out.tokenCacheMemory = { unbounded, bounded };
  }
  out.loadavgEnd = loadavg();
  out.finished = new Date().toISOString();
  mkdirSync(dirname(args.out), { recursive: true });
  writeFileSync(args.out, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`\nresults: ${args.out}`);
}

main().catch((e: Error) => {
  console.error(`bench failed: ${e.stack ?? e.message}`);
  process.exit(1);
});
