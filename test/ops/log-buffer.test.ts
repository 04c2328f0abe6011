/**
 * The log buffer is bounded: a process whose stderr is a pipe nobody reads keeps logging without
 * blocking and without growing its memory; the lines it cannot write are dropped and counted. Runs the
 * built logger (dist/core/log.js) in a child process whose stderr the test never reads.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

const LOG_MODULE = new URL('../../dist/core/log.js', import.meta.url).href;
const METRICS_MODULE = new URL('../../dist/ops/metrics.js', import.meta.url).href;

/** Logs `lines` lines of ~300 bytes through a 1 MiB buffer, then prints memory and the drop count. */
const CHILD = `
import { boundedStderr, createLogger, flushThen, logLinesDropped } from ${JSON.stringify(LOG_MODULE)};
import { createMetrics } from ${JSON.stringify(METRICS_MODULE)};
const lines = Number(process.argv[1]);
const log = createLogger('info', boundedStderr(1024 * 1024));
const filler = 'x'.repeat(200);
globalThis.gc();
const before = process.memoryUsage().rss;
let peak = before;
const started = Date.now();
for (let i = 0; i < lines; i++) {
  log.info({ i, filler }, 'a line nobody reads');
  if (i % 10000 === 0) {
    peak = Math.max(peak, process.memoryUsage().rss);
    await new Promise((r) => setImmediate(r)); // let the write loop run, as a server's event loop would
  }
}
peak = Math.max(peak, process.memoryUsage().rss);
const metrics = createMetrics({ version: 'test' }, { defaultMetrics: false });
const exposition = await metrics.registry.metrics();
process.stdout.write(JSON.stringify({ before, peak, dropped: logLinesDropped(), ms: Date.now() - started, exposition }) + '\\n');
// What claimgate does on shutdown: flush with a bound, then exit (the reader is still stalled).
flushThen(log, 300, () => process.exit(0));
`;

describe('bounded log buffer', () => {
  it('drops and counts lines a stalled stderr reader cannot take, with RSS bounded', async () => {
    expect(existsSync(new URL(LOG_MODULE))).toBe(true); // npm run build first
    const LINES = 400_000; // ~130 MB of log output
    const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', CHILD, String(LINES)], {
      stdio: ['ignore', 'pipe', 'pipe'], // stderr: a pipe this test never reads
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const watchdog = setTimeout(() => child.kill('SIGKILL'), 25_000);
    let out = '';
    await new Promise<void>((resolve) =>
      child.stdout
        .on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.endsWith('\n')) resolve();
        })
        .on('end', resolve),
    );
    // It exits by itself although its stderr is still stalled: no synchronous flush into the pipe.
    expect(await exited).toBe(0);
    clearTimeout(watchdog);
    const result = JSON.parse(out) as { before: number; peak: number; dropped: number; exposition: string };
    // The pipe holds ~64 KiB and the buffer 1 MiB: nearly everything else is dropped and counted.
    expect(result.dropped).toBeGreaterThan(LINES / 2);
    expect(result.exposition).toContain(`claimgate_log_lines_dropped_total ${result.dropped}`);
    // Unbounded, the backlog alone would be ~130 MB; bounded, growth stays within a small margin.
    expect(result.peak - result.before).toBeLessThan(48 * 1024 * 1024);
  }, 30_000);
});

/** Writes 20,000 small lines, each followed by a flush, through a 1 MiB bound; prints memory growth and drops. */
const SMALL_BATCHES_CHILD = `
import { boundedStderr, logLinesDropped } from ${JSON.stringify(LOG_MODULE)};
const stream = boundedStderr(1024 * 1024);
const line = JSON.stringify({ level: 30, msg: 'decision', pad: 'x'.repeat(150) }) + '\\n';
globalThis.gc();
const m0 = process.memoryUsage();
for (let i = 0; i < 20000; i++) {
  stream.write(line);
  stream.flush(); // what the 100 ms timer does on a quiet server: a batch of one line
}
await new Promise((r) => setTimeout(r, 200));
globalThis.gc();
const m1 = process.memoryUsage();
const growth = m1.heapUsed + m1.arrayBuffers - m0.heapUsed - m0.arrayBuffers;
process.stdout.write(JSON.stringify({ growth, dropped: logLinesDropped() }) + '\\n');
process.exit(0);
`;

describe('bounded log buffer: small batches', () => {
  it('holds no more than max_buffer_bytes of small batches a stalled reader leaves waiting', async () => {
    const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', SMALL_BATCHES_CHILD], {
      stdio: ['ignore', 'pipe', 'pipe'], // stderr: a pipe this test never reads
    });
    child.stderr.pause();
    const watchdog = setTimeout(() => child.kill('SIGKILL'), 20_000);
    let out = '';
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.on('exit', () => resolve());
    });
    clearTimeout(watchdog);
    const result = JSON.parse(out) as { growth: number; dropped: number };
    // Most lines are dropped (the pipe holds ~64 KiB, the bound 1 MiB) ...
    expect(result.dropped).toBeGreaterThan(10_000);
    // ... and what is kept is about the bound, not a whole batch buffer per one-line batch (~70 MiB).
    expect(result.growth).toBeLessThan(8 * 1024 * 1024);
  }, 25_000);
});

/** Logs `lines` numbered lines, then either flushes and exits or stays up without flushing. */
const BATCHING_CHILD = `
import { boundedStderr, createLogger, flushThen } from ${JSON.stringify(LOG_MODULE)};
const [lines, mode] = [Number(process.argv[1]), process.argv[2]];
const log = createLogger('info', boundedStderr());
const textOf = (i) => (i % 100 === 7 ? 'é'.repeat(5000) : 'zoë ✓ 𝄞 ' + 'x'.repeat(i % 300));
for (let i = 0; i < lines; i++) log.info(mode === 'mixed' ? { i, text: textOf(i) } : { i }, 'numbered');
if (mode !== 'stay') flushThen(log, 5000, () => process.exit(0));
else setInterval(() => undefined, 60_000); // stays up: only the batch timer can write the line
`;

function startBatchingChild(lines: number, mode: 'flush' | 'stay' | 'mixed') {
  const child = spawn(process.execPath, ['--input-type=module', '-e', BATCHING_CHILD, String(lines), mode], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const watchdog = setTimeout(() => child.kill('SIGKILL'), 20_000);
  child.on('exit', () => clearTimeout(watchdog));
  return child;
}

const numbers = (stderr: string): number[] =>
  stderr
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (JSON.parse(l) as { i: number }).i);

describe('batched log writes', () => {
  it('writes every line, in order, when flushed before exit (batches of 4 KiB and the rest)', async () => {
    const child = startBatchingChild(1000, 'flush');
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    expect(numbers(err)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  }, 25_000);

  it('writes multi-byte text and lines longer than a batch intact, in order', async () => {
    const child = startBatchingChild(1000, 'mixed');
    let err = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (err += chunk));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    const records = err
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { i: number; text: string });
    expect(records.map((r) => r.i)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    for (const { i, text } of records)
      expect(text).toBe(i % 100 === 7 ? 'é'.repeat(5000) : 'zoë ✓ 𝄞 ' + 'x'.repeat(i % 300));
  }, 25_000);

  it('writes a lone line without any flush: the batch timer hands it over', async () => {
    const child = startBatchingChild(1, 'stay');
    let err = '';
    await new Promise<void>((resolve) =>
      child.stderr.on('data', (chunk: Buffer) => {
        err += chunk.toString();
        if (err.endsWith('\n')) resolve();
      }),
    );
    child.kill('SIGKILL');
    expect(numbers(err)).toEqual([0]);
  }, 25_000);
});
