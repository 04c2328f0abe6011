/**
 * Structured JSON logs (pino). One central redaction list: whatever a log call passes, these
 * fields never reach the output, so no token, cookie or secret is ever logged.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

/** Field paths that are always censored, at the top level and one level down. */
export const REDACTED_FIELDS = [
  'token', 'authorization', 'cookie', 'password', 'secret', 'client_secret', 'private_key', 'headers',
  '*.token', '*.authorization', '*.cookie', '*.password', '*.secret', '*.client_secret', '*.private_key', '*.headers',
] as const;

export type { Logger };

export function createLogger(level: LevelWithSilent = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'claimgate', pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: [...REDACTED_FIELDS], censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ dest: 2, sync: false }),
  );
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = pino({ level: 'silent' });
