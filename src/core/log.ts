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

/** Log output is written once this much has accumulated, or after {@link LOG_FLUSH_MS}, whichever first. */
const LOG_BATCH_BYTES = 4096;
/** Longest a line waits in the buffer (also what a crash can lose). */
const LOG_FLUSH_MS = 100;

/** Default bound on log output waiting to be written (`logging.max_buffer_bytes`). */
export const DEFAULT_LOG_BUFFER_BYTES = 8 * 1024 * 1024;

let droppedLines = 0;
/** Log lines this process dropped because its output buffer was full (claimgate_log_lines_dropped_total). */
export const logLinesDropped = (): number => droppedLines;

/** Bytes handed to a bounded stream and not yet written, per stream (what a flush waits for). */
const pending = new WeakMap<object, StreamState>();

interface StreamState {
  /** Bytes handed to sonic-boom and not yet written. */
  bytes: number;
  idle: (() => void)[];
  /** Hands the lines gathered so far to sonic-boom. */
  handOver: () => void;
}

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
  // Lines are gathered here and handed to sonic-boom LOG_BATCH_BYTES at a time (or after LOG_FLUSH_MS): one
  // write(2) per line cost ~9 % of a loaded server's CPU, and sonic-boom's own batching (minLength) re-measures
  // its whole growing buffer on every write, ~2.5 µs per line (docs/benchmarks.md, issue 16).
  // Gathered as bytes, not as a growing string: a string batch lived through young-generation collections
  // and was measured, flattened and converted again on its way to write(2).
  const stream = new SonicBoom({ fd: 2, sync: false, maxLength: maxBufferBytes, contentMode: 'buffer' });
  const batchBytes = Math.max(1, Math.min(LOG_BATCH_BYTES, Math.floor(maxBufferBytes / 4)));
  const state: StreamState = { bytes: 0, idle: [], handOver: () => undefined };
  pending.set(stream, state);
  let dropped = false;
  stream.on('drop', () => {
    dropped = true;
  });
  const write = stream.write.bind(stream) as unknown as (chunk: Buffer) => boolean;
  /** Hands one chunk to sonic-boom; a chunk that would pass maxBufferBytes is refused whole, its lines counted. */
  const handOverChunk = (chunk: Buffer, lines: number) => {
    dropped = false;
    write(chunk);
    if (dropped) droppedLines += lines;
    else state.bytes += chunk.length;
  };
  // Room for a batch plus the longest line that may still start it (UTF-8: at most 3 bytes per UTF-16 unit).
  const batch = Buffer.allocUnsafe(2 * batchBytes);
  let used = 0;
  let gatheredLines = 0;
  let timer: NodeJS.Timeout | undefined;
  state.handOver = () => {
    clearTimeout(timer);
    timer = undefined;
    if (gatheredLines === 0) return;
    // sonic-boom keeps what it is handed until written, and counts its length against maxBufferBytes: an
    // exact-size copy, so a backlog of small batches (a quiet server, a flush) holds no more than it counts.
    const chunk = Buffer.allocUnsafeSlow(used);
    batch.copy(chunk, 0, 0, used);
    const lines = gatheredLines;
    used = 0;
    gatheredLines = 0;
    handOverChunk(chunk, lines);
  };
  stream.write = (data: string | Buffer) => {
    const text = typeof data === 'string' ? data : data.toString('utf8');
    if (used + 3 * text.length > batch.length) {
      state.handOver();
      // A line longer than a batch goes on its own (its own exact-size memory, like a batch).
      if (3 * text.length > batch.length) {
        const chunk = Buffer.allocUnsafeSlow(Buffer.byteLength(text, 'utf8'));
        chunk.write(text, 0, 'utf8');
        handOverChunk(chunk, 1);
        return true;
      }
    }
    used += batch.write(text, used, 'utf8');
    gatheredLines++;
    if (used >= batchBytes) state.handOver();
    else if (timer === undefined) {
      timer = setTimeout(state.handOver, LOG_FLUSH_MS);
      timer.unref();
    }
    return true;
  };
  // Whoever flushes the stream (pino's logger.flush, flushThen) flushes the gathered lines too.
  const flush = stream.flush.bind(stream);
  stream.flush = (cb?: (err?: Error) => unknown) => {
    state.handOver();
    flush(cb);
  };
  // sonic-boom's own flush(cb) answers at once when minLength is 0: count what is still to be written.
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
  const stream = (log as unknown as Record<symbol, object>)[pino.symbols.streamSym] ?? {};
  const state = pending.get(stream);
  state?.handOver();
  if (state === undefined || state.bytes === 0) {
    setImmediate(once);
    return;
  }
  state.idle.push(once);
  try {
    // Write the batch now rather than at the next periodic flush.
    (stream as { flush?: (cb: null) => void }).flush?.(null);
  } catch {
    // A destroyed stream: the timeout answers.
  }
}

/** Loggers made by {@link createLogger}: their line format is known, so {@link lineWriterOf} may write lines itself. */
const ownFormat = new WeakSet<Logger>();

export function createLogger(
  level: LevelWithSilent = 'info',
  destination: pino.DestinationStream = boundedStderr(),
): Logger {
  const logger = pino(
    {
      level,
      base: { service: 'claimgate', pid: process.pid },
      timestamp: cachedIsoTime(),
      redact: { paths: [...REDACTED_FIELDS], censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  ownFormat.add(logger);
  return logger;
}

/** Writes one log line whose fields are already JSON (`"a":1,"b":"x"`), in the logger's exact format. */
export type LineWriter = (level: 'info' | 'warn', fieldsJson: string, msgJson: string) => void;

/**
 * A writer of pre-serialised lines for a logger made by {@link createLogger}, or `undefined` for any other
 * logger (its format is unknown: use pino). The line is what pino would write for the same record
 * (`{"level":…,"time":…,<bindings>,<fields>,"msg":…}`), minus pino's per-call work: merging objects,
 * redaction and serialising each field. So it is only for records whose field names are not redacted
 * and whose values the caller has escaped (JSON.stringify) itself. Level checks stay the caller's.
 */
export function lineWriterOf(log: Logger): LineWriter | undefined {
  if (!ownFormat.has(log)) return undefined;
  const internals = log as unknown as Record<symbol, unknown>;
  const stream = internals[pino.symbols.streamSym] as pino.DestinationStream | undefined;
  const time = internals[pino.symbols.timeSym] as (() => string) | undefined;
  const bindings = internals[pino.symbols.chindingsSym];
  // A destination that wants pino's per-line metadata (multistream) must get its lines from pino.
  if (stream === undefined || typeof time !== 'function' || typeof bindings !== 'string') return undefined;
  if ((stream as unknown as Record<symbol, unknown>)[pino.symbols.needsMetadataGsym] === true) return undefined;
  const levels = { info: '{"level":"info"', warn: '{"level":"warn"' } as const;
  return (level, fieldsJson, msgJson) => {
    stream.write(`${levels[level]}${time()}${bindings},${fieldsJson},"msg":${msgJson}}\n`);
  };
}

/** The logger decision lines go through: same output, flat-record redaction. */
export function decisionLoggerOf(log: Logger): Logger {
  return log.child({}, { redact: { paths: [...DECISION_REDACTED_FIELDS], censor: '[redacted]' } });
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = pino({ level: 'silent' });
