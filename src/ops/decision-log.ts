/**
 * One structured log line per Check. Only catalogue codes, config names, the verified `sub` and the
 * request id are logged: never a token, header value or other claim.
 */
import type { Decision, RequestView } from '../engine/types.js';
import type { Logger } from '../log.js';

export interface DecisionLogOptions {
  /** Fraction of allows logged (0–1); denials and errors are always logged. */
  readonly allowSampleRate: number;
  /** Log the verified `sub` (never the `sub` of an unverified token: decisions carry it only once verified). */
  readonly includeSubject?: boolean;
  readonly random?: () => number;
}

export type DecisionLogger = (view: RequestView | undefined, decision: Decision, seconds: number) => void;

/** Longest request id copied into a log line; it comes from the client. */
const MAX_REQUEST_ID = 128;

export function createDecisionLogger(log: Logger, options: DecisionLogOptions): DecisionLogger {
  const random = options.random ?? Math.random;
  return (view, decision, seconds) => {
    // Errors are logged at warn, everything else at info: check the level the line would use.
    if (!log.isLevelEnabled(decision.outcome === 'error' ? 'warn' : 'info')) return;
    if (decision.outcome === 'allow' && options.allowSampleRate < 1 && random() >= options.allowSampleRate) return;
    const line = {
      decision: decision.outcome,
      reason: decision.reason,
      status: decision.outcome === 'allow' ? 200 : decision.status,
      issuer: decision.issuer,
      route: decision.route,
      sub: options.includeSubject === false ? undefined : decision.subject,
      method: view?.method,
      request_id: view?.requestId?.slice(0, MAX_REQUEST_ID),
      duration_ms: Math.round(seconds * 1e6) / 1e3,
    };
    if (decision.outcome === 'error') log.warn(line, 'decision');
    else log.info(line, 'decision');
  };
}
