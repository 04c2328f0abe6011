/**
 * Structured JSON logs (pino). One central redaction list: whatever a log call passes, these
 * fields never reach the output, so no token, cookie or secret is ever logged.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

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

export function createLogger(level: LevelWithSilent = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'claimgate', pid: process.pid },
      timestamp: cachedIsoTime(),
      redact: { paths: [...REDACTED_FIELDS], censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ dest: 2, sync: false }),
  );
}

/** The logger decision lines go through: same output, flat-record redaction. */
export function decisionLoggerOf(log: Logger): Logger {
  return log.child({}, { redact: { paths: [...DECISION_REDACTED_FIELDS], censor: '[redacted]' } });
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = pino({ level: 'silent' });
