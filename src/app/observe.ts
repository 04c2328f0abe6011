/**
 * What a server records about every answered Check (a metric and a decision log line) and how a
 * reloaded config's logging settings take effect.
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/log.js';
import type { DecisionObserver } from '../core/types.js';
import { createDecisionLogger } from '../ops/decision-log.js';
import type { Metrics } from '../ops/metrics.js';

export interface CheckObservation {
  readonly observe: DecisionObserver;
  /** Applies a config's log level and decision-log settings. */
  readonly applyLogging: (config: Config) => void;
}

const decisionLogOptions = (config: Config) => ({
  allowSampleRate: config.logging.allow_sample_rate,
  denialLinesPerSecond: config.logging.denial_lines_per_second,
  includeSubject: config.logging.include_subject,
});

export function observeChecks(
  log: Logger,
  metrics: Metrics,
  initial: Config,
  extra: DecisionObserver | undefined,
): CheckObservation {
  let logDecision = createDecisionLogger(log, decisionLogOptions(initial));
  const observe: DecisionObserver = (view, decision, startedNs) => {
    const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
    metrics.observeCheck(decision, seconds);
    logDecision(view, decision, seconds);
    extra?.(view, decision, startedNs);
  };
  return {
    observe,
    applyLogging: (config) => {
      // The decision logger is a child: create it after the level changes so it inherits the new level.
      log.level = config.logging.level;
      logDecision = createDecisionLogger(log, decisionLogOptions(config));
    },
  };
}
