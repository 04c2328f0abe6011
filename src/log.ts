/**
 * Structured JSON logs (pino). One central redaction list: whatever a log call passes, these
 * fields never reach the output, so no token, cookie or secret is ever logged.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';
import sonicBoom from 'sonic-boom';

// sonic-boom is CommonJS: its module object is the class, which also carries itself as `SonicBoom`.
const { SonicBoom } = sonicBoom;

/** Field names that are always censored. */
const SENSITIVE = [
  'token',
  'authorization',
  'cookie',
  'password',
  'secret',
  'client_secret',
  'private_key',
  'headers',
] as const;

/** Field paths that are always censored, at the top level and one level down. */
export const REDACTED_FIELDS = [...SENSITIVE, ...SENSITIVE.map((f) => `*.${f}`)] as const;

/**
 * The decision logger's redaction: top level only. Decision lines are flat records of catalogue codes
 * and config names (see ops/decision-log.ts), and wildcard redaction costs several µs per line on the
 * hot path (measured: docs/benchmarks.md).
 */
export const DECISION_REDACTED_FIELDS = [...SENSITIVE] as const;

/** ISO time, formatted once per millisecond rather than once per line. */
function cachedIsoTime(): () => string {
  let lastMs = -1;
  let text = '';
  return () => {
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      text = `,"time":"${new Date(now).toISOString()}"`;
    }
    return text;
  };
}

export type { Logger };

/** Default bound on log output waiting to be written (`logging.max_buffer_bytes`). */
export const DEFAULT_LOG_BUFFER_BYTES = 8 * 1024 * 1024;

let droppedLines = 0;
/** Log lines this process dropped because its output buffer was full (claimgate_log_lines_dropped_total). */
export const logLinesDropped = (): number => droppedLines;

/** Bytes handed to a bounded stream and not yet written, per stream (what a flush waits for). */
const pending = new WeakMap<object, { bytes: number; idle: (() => void)[] }>();

/**
 * stderr, written asynchronously through a buffer of at most `maxBufferBytes`. A reader that falls behind
 * (a slow pipe, a stalled log collector) costs dropped, counted lines: never a blocked event loop, never
 * a buffer that grows with the backlog (sonic-boom's `maxLength` refuses a write that would pass it).
 *
 * Built on sonic-boom directly rather than `pino.destination()`, which also flushes synchronously when the
 * process exits: into a stalled pipe that write never returns, so the process could never exit. Callers
 * flush with a bound instead ({@link flushThen}).
 */
export function boundedStderr(maxBufferBytes = DEFAULT_LOG_BUFFER_BYTES): pino.DestinationStream {
  const stream = new SonicBoom({ fd: 2, sync: false, maxLength: maxBufferBytes });
  const state = { bytes: 0, idle: [] as (() => void)[] };
  pending.set(stream, state);
  let dropped = false;
  stream.on('drop', () => {
    dropped = true;
    droppedLines++;
  });
  // sonic-boom's own flush(cb) answers at once when minLength is 0: count what is still to be written.
  const write = stream.write.bind(stream);
  stream.write = (data: string) => {
    dropped = false;
    const result = write(data);
    if (!dropped) state.bytes += Buffer.byteLength(data);
    return result;
  };
  stream.on('write', (n: number) => {
    state.bytes = Math.max(0, state.bytes - n);
    if (state.bytes === 0) for (const resolve of state.idle.splice(0)) resolve();
  });
  // A closed stderr (EPIPE) must not crash the server: logging stops, Checks go on.
  stream.on('error', () => undefined);
  return stream;
}

/**
 * Waits until the log's bounded destination has written everything it accepted, then calls `done`;
 * after `timeoutMs` calls it anyway (a stalled reader never catches up).
 */
export function flushThen(log: Logger, timeoutMs: number, done: () => void): void {
  let called = false;
  const once = () => {
    if (called) return;
    called = true;
    clearTimeout(timer);
    done();
  };
  const timer = setTimeout(once, timeoutMs);
  const state = pending.get((log as unknown as Record<symbol, object>)[pino.symbols.streamSym] ?? {});
  if (state === undefined || state.bytes === 0) setImmediate(once);
  else state.idle.push(once);
}

export function createLogger(
  level: LevelWithSilent = 'info',
  destination: pino.DestinationStream = boundedStderr(),
): Logger {
  return pino(
    {
      level,
      base: { service: 'claimgate', pid: process.pid },
      timestamp: cachedIsoTime(),
      redact: { paths: [...REDACTED_FIELDS], censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** The logger decision lines go through: same output, flat-record redaction. */
export function decisionLoggerOf(log: Logger): Logger {
  return log.child({}, { redact: { paths: [...DECISION_REDACTED_FIELDS], censor: '[redacted]' } });
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = pino({ level: 'silent' });
