/**
 * One structured log line per Check. Only catalogue codes, config names, the verified `sub` and the
 * request id are logged: never a token, header value or other claim.
 *
 * Cost matters here (a line per Check): lines go through a logger with flat-record redaction, allows
 * can be sampled, and a flood of identical denials (one bad token replayed, a scanner) is cut to a
 * bounded number of lines per second per kind, with one summary line of what was left out. Metrics
 * still count every Check.
 *
 * Building the line is most of its cost, so with claimgate's own logger the line is written as a string:
 * the part that is constant per (decision, reason, status, issuer, route, requirement) is serialised once
 * and cached, and only `sub`, `method`, `request_id` and `duration_ms` are escaped per line. The output is
 * the line pino writes for the same record (test/ops/decision-log.test.ts compares them); pino's redaction
 * is skipped because none of these field names is redacted and no field holds a header or token.
 */
import type { Decision, RequestView } from '../core/types.js';
import { decisionLoggerOf, lineWriterOf, type LineWriter, type Logger } from '../core/log.js';
import type { ShadowDisagreement } from '../engine/shadow.js';
import { perSharedDecision } from '../core/shared-decision.js';

export interface DecisionLogOptions {
  /** Fraction of allows logged (0–1). */
  readonly allowSampleRate: number;
  /** Denial/error lines per second for each (decision, reason, route, issuer); 0 = no limit. */
  readonly denialLinesPerSecond?: number;
  /** Log the verified `sub` (never the `sub` of an unverified token: decisions carry it only once verified). */
  readonly includeSubject?: boolean;
  readonly random?: () => number;
  readonly nowMs?: () => number;
}

export type DecisionLogger = (view: RequestView | undefined, decision: Decision, seconds: number) => void;

/** Longest request id copied into a log line; it comes from the client. */
const MAX_REQUEST_ID = 128;

interface Window {
  startMs: number;
  logged: number;
  suppressed: number;
}

export function createDecisionLogger(parent: Logger, options: DecisionLogOptions): DecisionLogger {
  const log = decisionLoggerOf(parent);
  const random = options.random ?? Math.random;
  const nowMs = options.nowMs ?? Date.now;
  const perSecond = options.denialLinesPerSecond ?? 0;
  // Keys are catalogue codes × config names, so this map is bounded by the config.
  const windows = new Map<string, Window>();

  /** True when this denial may be logged now; emits the summary of the previous window first. */
  const admit = (decision: Decision): boolean => {
    if (perSecond <= 0) return true;
    const key = windowKeyOf(decision);
    const now = nowMs();
    let w = windows.get(key);
    if (w === undefined) {
      w = { startMs: now, logged: 0, suppressed: 0 };
      windows.set(key, w);
    } else if (now - w.startMs >= 1000) {
      if (w.suppressed > 0) {
        log.warn(
          {
            decision: decision.outcome,
            reason: decision.reason,
            route: decision.route,
            issuer: decision.issuer,
            suppressed: w.suppressed,
          },
          'decision lines suppressed',
        );
      }
      w.startMs = now;
      w.logged = 0;
      w.suppressed = 0;
    }
    if (w.logged < perSecond) {
      w.logged++;
      return true;
    }
    w.suppressed++;
    return false;
  };

  const write = lineWriterOf(parent);
  const constantFields = constantFieldsCache();

  return (view, decision, seconds) => {
    // Errors are logged at warn, everything else at info: check the level the line would use.
    if (!log.isLevelEnabled(decision.outcome === 'error' ? 'warn' : 'info')) return;
    // A shadow-mode allow stands for a denial: logged like one (not sampled, rate-limited per kind).
    if (decision.outcome === 'allow' && decision.wouldDeny === undefined) {
      if (options.allowSampleRate < 1 && random() >= options.allowSampleRate) return;
    } else if (!admit(decision)) {
      return;
    }
    if (write !== undefined) {
      writeLine(write, constantFields(decision), view, decision, seconds, options.includeSubject !== false);
      return;
    }
    const line = {
      decision: decision.outcome,
      reason: decision.reason,
      status: decision.outcome === 'allow' ? 200 : decision.status,
      issuer: decision.issuer,
      route: decision.route,
      requirement: decision.outcome === 'allow' ? undefined : decision.requirement,
      would_deny: decision.outcome === 'allow' ? decision.wouldDeny : undefined,
      sub: options.includeSubject === false ? undefined : decision.subject,
      method: view?.method,
      request_id: view?.requestId?.slice(0, MAX_REQUEST_ID),
      duration_ms: Math.round(seconds * 1e6) / 1e3,
    };
    if (decision.outcome === 'error') log.warn(line, 'decision');
    else log.info(line, 'decision');
  };
}

/**
 * One line per disagreement between a route's enforced and shadow requirement: route, issuer, both
 * outcomes and reason codes, and where the failing requirement is. No token value or claim.
 */
export function createShadowLogger(parent: Logger): (event: ShadowDisagreement) => void {
  const log = decisionLoggerOf(parent);
  return (event) =>
    log.info(
      {
        route: event.route,
        issuer: event.issuer,
        enforced: event.enforced,
        enforced_reason: event.enforcedReason,
        candidate: event.candidate,
        candidate_reason: event.candidateReason,
        requirement: event.requirement,
      },
      'shadow disagreement',
    );
}

/** The rate-limit window a decision counts in: its kind, reason, route and issuer (built once for a shared decision). */
const windowKeyOf = perSharedDecision((decision): string => {
  const wouldDeny = decision.outcome === 'allow' ? (decision.wouldDeny ?? '') : '';
  return `${decision.outcome}\u0000${decision.reason}\u0000${wouldDeny}\u0000${decision.route ?? ''}\u0000${decision.issuer ?? ''}`;
});

/** Bound on cached constant parts; keys are catalogue codes × config names, so it is rarely reached. */
const MAX_CACHED_PREFIXES = 1024;

/** `"decision":…,"reason":…,"status":…,"issuer":…,"route":…,"requirement":…,"would_deny":…` per combination, serialised once. */
function constantFieldsCache(): (decision: Decision) => string {
  const cache = new Map<string, string>();
  const fieldsByKey = (decision: Decision): string => {
    const requirement = decision.outcome === 'allow' ? undefined : decision.requirement;
    const wouldDeny = decision.outcome === 'allow' ? decision.wouldDeny : undefined;
    const status = decision.outcome === 'allow' ? 200 : decision.status;
    const key = `${decision.outcome}\u0000${decision.reason}\u0000${status}\u0000${decision.issuer ?? '\u0001'}\u0000${decision.route ?? '\u0001'}\u0000${requirement ?? '\u0001'}\u0000${wouldDeny ?? '\u0001'}`;
    let json = cache.get(key);
    if (json === undefined) {
      if (cache.size >= MAX_CACHED_PREFIXES) cache.clear();
      json = `"decision":${JSON.stringify(decision.outcome)},"reason":${JSON.stringify(decision.reason)},"status":${status}`;
      if (decision.issuer !== undefined) json += `,"issuer":${JSON.stringify(decision.issuer)}`;
      if (decision.route !== undefined) json += `,"route":${JSON.stringify(decision.route)}`;
      if (requirement !== undefined) json += `,"requirement":${JSON.stringify(requirement)}`;
      if (wouldDeny !== undefined) json += `,"would_deny":${JSON.stringify(wouldDeny)}`;
      cache.set(key, json);
    }
    return json;
  };
  // A shared (frozen) decision, such as a cached token's allow, has its fields found once.
  return perSharedDecision(fieldsByKey);
}

const DECISION_MSG = JSON.stringify('decision');

/** The fields of {@link createDecisionLogger}'s object line, in the same order, written as JSON directly. */
function writeLine(
  write: LineWriter,
  constant: string,
  view: RequestView | undefined,
  decision: Decision,
  seconds: number,
  includeSubject: boolean,
): void {
  let json = constant;
  if (includeSubject && decision.subject !== undefined) json += `,"sub":${JSON.stringify(decision.subject)}`;
  if (view !== undefined) json += `,"method":${JSON.stringify(view.method)}`;
  const requestId = view?.requestId;
  if (requestId !== undefined) json += `,"request_id":${JSON.stringify(requestId.slice(0, MAX_REQUEST_ID))}`;
  const ms = Math.round(seconds * 1e6) / 1e3;
  json += `,"duration_ms":${Number.isFinite(ms) ? ms : 'null'}`;
  write(decision.outcome === 'error' ? 'warn' : 'info', json, DECISION_MSG);
}
