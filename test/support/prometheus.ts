/**
 * A real Prometheus server for tests: the Debian `prometheus` binary (installed by `.ci/run`) run as
 * a child process on 127.0.0.1 with a free port, a throw-away TSDB directory and a generated scrape
 * config (1 s interval, one static target, job `claimgate`). Also runs `promtool check metrics`.
 *
 * A missing binary is an error, never a skip: the tests that use this fail with a message saying
 * which Debian package provides it (`PROMETHEUS_BIN` / `PROMTOOL_BIN` override the lookup).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from './listen.js';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { waitFor } from './wait.js';

/** Finds an executable: the override variable, then PATH, then /usr/bin (where Debian puts it). */
export function findTool(name: 'prometheus' | 'promtool'): string {
  const override = process.env[`${name.toUpperCase()}_BIN`];
  const candidates = [
    ...(override ? [override] : []),
    ...(process.env.PATH ?? '')
      .split(delimiter)
      .filter(Boolean)
      .map((d) => join(d, name)),
    join('/usr/bin', name),
  ];
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // try the next one
    }
  }
  throw new Error(
    `${name} binary not found (looked at ${override ? `${name.toUpperCase()}_BIN, ` : ''}PATH and /usr/bin). ` +
      `Install the Debian package \`prometheus\` (.ci/run does: APT_PACKAGES), or set ${name.toUpperCase()}_BIN.` +
      (process.env.CI ? ' CI is set: this test must not be skipped.' : ''),
  );
}

export interface PromSample {
  readonly metric: Record<string, string>;
  readonly value: number;
}

export interface PrometheusServer {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Instant query through `/api/v1/query`; a vector result as plain samples. */
  query(promql: string): Promise<PromSample[]>;
  /** Sum of an instant query's samples (0 when empty). */
  queryValue(promql: string): Promise<number>;
  /** Polls `query` until `accept` holds, every 250 ms, for at most `timeoutMs`; throws with the last result. */
  waitFor(promql: string, accept: (samples: PromSample[]) => boolean, timeoutMs?: number): Promise<PromSample[]>;
  /** Last lines Prometheus wrote to stderr (for failure messages). */
  logs(): string;
  stop(): Promise<void>;
}

export interface StartPrometheusOptions {
  /** `host:port` to scrape, e.g. `127.0.0.1:9090`. */
  readonly target: string;
  readonly job?: string;
  readonly scrapeIntervalSeconds?: number;
  /** Longest wait for `/-/ready` (ms). */
  readonly readyTimeoutMs?: number;
}

/** Starts Prometheus scraping `target`; resolves once `/-/ready` answers 200. */
export async function startPrometheus(options: StartPrometheusOptions): Promise<PrometheusServer> {
  const binary = findTool('prometheus');
  let lastError: Error | undefined;
  // The free port can be taken between probing and binding; try a few times.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(binary, options);
    } catch (e) {
      lastError = e as Error;
    }
  }
  throw lastError ?? new Error('prometheus did not start');
}

async function startOnce(binary: string, options: StartPrometheusOptions): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'claimgate-prom-'));
  const interval = `${options.scrapeIntervalSeconds ?? 1}s`;
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(
    configFile,
    [
      'global:',
      `  scrape_interval: ${interval}`,
      `  scrape_timeout: ${interval}`,
      `  evaluation_interval: ${interval}`,
      'scrape_configs:',
      `  - job_name: ${JSON.stringify(options.job ?? 'claimgate')}`,
      '    metrics_path: /metrics',
      '    static_configs:',
      `      - targets: [${JSON.stringify(options.target)}]`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-8192);
  });
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
    child.once('error', (e) => {
      stderr += `\nspawn error: ${e.message}`;
      exited ??= { code: null, signal: null };
      resolve();
    });
  });

  const stop = async () => {
    if (exited === undefined) {
      child.kill('SIGTERM');
      // SIGTERM is a clean shutdown for Prometheus; SIGKILL only if it hangs.
      const force = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(force);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitFor(
      () =>
        fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) }).then(
          (r) => r.status === 200,
          () => false,
        ),
      {
        what: `prometheus to be ready at ${url}`,
        timeoutMs: options.readyTimeoutMs ?? 20_000,
        intervalMs: 100,
        giveUpIf: () =>
          exited === undefined
            ? undefined
            : `prometheus exited before it was ready (code ${exited.code}, signal ${exited.signal})`,
        context: () => stderr,
      },
    );
  } catch (e) {
    await stop();
    throw e;
  }

  const query = async (promql: string): Promise<PromSample[]> => {
    const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: promql }).toString()}`, {
      signal: AbortSignal.timeout(5000),
    });
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    if (body.status !== 'success' || body.data === undefined)
      throw new Error(`query ${promql} failed: ${body.error ?? res.status}`);
    if (body.data.resultType !== 'vector')
      throw new Error(`query ${promql}: expected a vector, got ${body.data.resultType}`);
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  };

  return {
    url,
    query,
    async queryValue(promql) {
      return (await query(promql)).reduce((sum, s) => sum + s.value, 0);
    },
    waitFor(promql, accept, timeoutMs = 20_000) {
      return waitFor(() => query(promql), {
        what: `prometheus: ${promql} to reach the expected value`,
        timeoutMs,
        intervalMs: 250,
        until: accept,
        context: () => stderr,
      });
    },
    logs: () => stderr,
    stop,
  };
}

export interface PromtoolResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `promtool check metrics` with `text` (a /metrics scrape) on stdin. */
export function promtoolCheckMetrics(text: string): PromtoolResult {
  const result = spawnSync(findTool('promtool'), ['check', 'metrics'], {
    input: text,
    encoding: 'utf8',
    timeout: 15_000,
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** `promtool check rules` on a rules file with this content. */
export function promtoolCheckRules(rulesYaml: string): PromtoolResult {
  const dir = mkdtempSync(join(tmpdir(), 'claimgate-rules-'));
  try {
    const file = join(dir, 'rules.yml');
    writeFileSync(file, rulesYaml);
    const result = spawnSync(findTool('promtool'), ['check', 'rules', file], { encoding: 'utf8', timeout: 15_000 });
    if (result.error) throw result.error;
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Fenced code blocks of a Markdown text with the given info string (`promql`, `yaml`, …). */
export function fencedBlocks(markdown: string, lang: string): string[] {
  const blocks: string[] = [];
  const re = new RegExp(`^( *)\`\`\`${lang}\\n([\\s\\S]*?)^\\1\`\`\`$`, 'gm');
  for (const m of markdown.matchAll(re)) {
    const indent = (m[1] ?? '').length;
    blocks.push(
      (m[2] ?? '')
        .split('\n')
        .map((l) => l.slice(Math.min(indent, l.length - l.trimStart().length)))
        .join('\n'),
    );
  }
  return blocks;
}
