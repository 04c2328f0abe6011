/**
 * Prometheus metrics (prom-client). Label values come only from config names and the reason
 * catalogue, never from token contents, so cardinality is bounded by the config.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Aggregator } from 'prom-client';
import type { Decision } from '../core/types.js';
import type { ShadowDisagreement } from '../engine/shadow.js';
import type { KeySource } from '../keys/key-source.js';
import type { TokenCacheStats } from '../token/token-cache.js';
import { logLinesDropped } from '../core/log.js';
import type { BoundReason } from '../net/listener-bounds.js';

/** Buckets fine enough for a sub-millisecond hot path, wide enough to see a cold key fetch. */
export const CHECK_DURATION_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
];

/** Default process metrics that are gauges despite a `_total` name (a Prometheus naming violation). */
const NON_COUNTER_TOTALS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export interface BuildInfo {
  readonly version: string;
}

export interface Metrics {
  readonly registry: Registry;
  /** Records one answered Check. Cheap: label children are cached per label combination. */
  observeCheck(decision: Decision, seconds: number): void;
  observeKeyFetch(issuer: string, kind: string, result: 'ok' | 'error'): void;
  observeReload(result: 'success' | 'failure', atMs: number): void;
  /** Records the initial load's time (not counted as a reload). */
  markConfigLoaded(atMs: number): void;
  observeTokenCache(result: 'hit' | 'miss' | 'negative_hit'): void;
  /** Counts one disagreement between a route's enforced and shadow requirement (engine/shadow.ts). */
  observeShadowDisagreement(event: ShadowDisagreement): void;
  /** One remote lookup: introspection, enrichment, or claimgate's own M2M token; `name` is the config name. */
  observeLookup(kind: string, name: string, result: string, seconds: number): void;
  /** One lookup-cache access: hit, miss, shared (joined a call in flight) or stale (stale-if-error). */
  observeLookupCache(kind: string, name: string, result: string): void;
  /** Key sources whose state the per-issuer gauges report at scrape time. */
  setKeySources(sources: () => Iterable<KeySource>): void;
  setReady(ready: () => boolean): void;
  /** Checks currently in flight (behind the concurrency bound). */
  setInFlight(inFlight: () => number): void;
  /** The current config's token cache, read at scrape time. */
  setTokenCacheStats(stats: () => TokenCacheStats): void;
  /** A connection or stream refused or closed by a listener bound (see docs/operations.md). */
  observeRefused(listener: Listener, reason: BoundReason): void;
}

export type Listener = 'grpc' | 'http' | 'admin';

export function createMetrics(build: BuildInfo, options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) {
    collectDefaultMetrics({ register: registry });
    // prom-client also exports these totals as gauges named `*_total`, which Prometheus naming
    // reserves for counters (`promtool check metrics` rejects them). The per-type gauges
    // (`nodejs_active_handles{type}` etc.) stay; sum them for the total.
    for (const name of NON_COUNTER_TOTALS) registry.removeSingleMetric(name);
  }

  const checkTallies = labelTally(['decision', 'reason', 'issuer', 'route']);
  const checks: Counter = new Counter({
    name: 'claimgate_checks_total',
    help: 'Checks answered, by decision (allow, deny, error), reason code, issuer name and route name.',
    labelNames: ['decision', 'reason', 'issuer', 'route'] as const,
    registers: [registry],
    collect() {
      checkTallies.flush(checks);
    },
  });
  const durationTallies = histogramTally('decision', CHECK_DURATION_BUCKETS);
  const duration: Histogram = new Histogram({
    name: 'claimgate_check_duration_seconds',
    help: 'Time from receiving a Check to having its answer, by decision.',
    labelNames: ['decision'] as const,
    buckets: CHECK_DURATION_BUCKETS,
    registers: [registry],
    collect() {
      durationTallies.flush(duration);
    },
  });
  const fetches = new Counter({
    name: 'claimgate_jwks_fetches_total',
    help: 'Discovery and JWKS fetches (or JWKS file reads), by issuer, kind and result.',
    labelNames: ['issuer', 'kind', 'result'] as const,
    registers: [registry],
  });
  const reloads = new Counter({
    name: 'claimgate_config_reloads_total',
    help: 'Config reloads, by result.',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const lastReload = new Gauge({
    name: 'claimgate_config_last_reload_success_timestamp_seconds',
    help: 'Unix time of the last successful config load or reload.',
    aggregator: 'min',
    registers: [registry],
  });
  const bindingTallies = labelTally(['binding', 'decision']);
  const bindings: Counter = new Counter({
    name: 'claimgate_binding_checks_total',
    help: 'Checks that reached the sender-constraint step, by binding (bearer, dpop, mtls) and decision.',
    labelNames: ['binding', 'decision'] as const,
    registers: [registry],
    collect() {
      bindingTallies.flush(bindings);
    },
  });
  const tokenCacheTallies = labelTally(['result']);
  const tokenCache: Counter = new Counter({
    name: 'claimgate_token_cache_requests_total',
    help: 'Verified-token cache lookups, by result (hit, miss, negative_hit).',
    labelNames: ['result'] as const,
    registers: [registry],
    collect() {
      tokenCacheTallies.flush(tokenCache);
    },
  });
  const shadowDisagreements = new Counter({
    name: 'claimgate_shadow_disagreements_total',
    help: "Verified requests where a route's shadow requirement and its enforced one disagree, by route, issuer, enforced and candidate outcome.",
    labelNames: ['route', 'issuer', 'enforced', 'candidate'] as const,
    registers: [registry],
  });
  const lookups = new Counter({
    name: 'claimgate_lookups_total',
    help: 'Remote lookups (introspection, enrichment, m2m_token), by kind, configured name and result (ok or a failure code).',
    labelNames: ['kind', 'name', 'result'] as const,
    registers: [registry],
  });
  const lookupDuration = new Histogram({
    name: 'claimgate_lookup_duration_seconds',
    help: 'Time one remote lookup took, by kind.',
    labelNames: ['kind'] as const,
    buckets: CHECK_DURATION_BUCKETS,
    registers: [registry],
  });
  const lookupCache = new Counter({
    name: 'claimgate_lookup_cache_requests_total',
    help: 'Introspection and enrichment cache accesses, by kind, configured name and result (hit, miss, shared, stale).',
    labelNames: ['kind', 'name', 'result'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'claimgate_build_info',
    help: 'Build information; always 1.',
    aggregator: 'first',
    labelNames: ['version', 'node_version'] as const,
    registers: [registry],
  }).set({ version: build.version, node_version: process.version }, 1);

  let keySources: () => Iterable<KeySource> = () => [];
  const perIssuer = (
    name: string,
    help: string,
    aggregator: Aggregator,
    read: (s: ReturnType<KeySource['state']>, nowS: number) => number | undefined,
  ) =>
    new Gauge({
      name,
      help,
      aggregator,
      labelNames: ['issuer'] as const,
      registers: [registry],
      collect() {
        this.reset();
        const nowS = Date.now() / 1000;
        for (const source of keySources()) {
          const state = source.state();
          const value = read(state, nowS);
          if (value !== undefined) this.set({ issuer: state.issuer }, value);
        }
      },
    });
  perIssuer(
    'claimgate_issuer_keys',
    'Signing keys held per issuer (claimgate_issuer_keys_usable tells whether they still verify).',
    'min',
    (s) => s.keyCount,
  );
  perIssuer(
    'claimgate_issuer_keys_usable',
    "1 when the issuer's keys verify tokens (held and within max_stale), else 0.",
    'min',
    (s) => (s.usable ? 1 : 0),
  );
  perIssuer(
    'claimgate_issuer_last_success_timestamp_seconds',
    'Unix time of the last successful key fetch per issuer.',
    'min',
    (s) => (s.lastSuccessAt === undefined ? undefined : s.lastSuccessAt / 1000),
  );
  perIssuer(
    'claimgate_issuer_stale_seconds',
    'Seconds the held key set is past its refresh time (0 while fresh).',
    'max',
    (s) => s.staleSeconds,
  );
  perIssuer(
    'claimgate_issuer_consecutive_failures',
    'Consecutive failed key fetches per issuer.',
    'max',
    (s) => s.consecutiveFailures,
  );
  perIssuer(
    'claimgate_issuer_skipped_keys',
    'Keys skipped by key hygiene checks in the last loaded set.',
    'max',
    (s) => s.skippedKeys,
  );
  perIssuer(
    'claimgate_issuer_next_refresh_timestamp_seconds',
    'Unix time of the next scheduled key refresh.',
    'min',
    (s) => (s.nextRefreshAt === undefined ? undefined : s.nextRefreshAt / 1000),
  );

  let inFlight: () => number = () => 0;
  new Gauge({
    name: 'claimgate_checks_in_flight',
    help: 'Checks being decided right now (summed over workers); compare with server.max_concurrent_checks.',
    registers: [registry],
    collect() {
      this.set(inFlight());
    },
  });

  let cacheStats: () => TokenCacheStats = () => ({ entries: 0, bytes: 0, negativeEntries: 0, negativeBytes: 0 });
  new Gauge({
    name: 'claimgate_token_cache_entries',
    help: "Tokens held by the current config's token cache, by kind (positive: verified; negative: recent failures).",
    labelNames: ['cache'] as const,
    registers: [registry],
    collect() {
      const stats = cacheStats();
      this.set({ cache: 'positive' }, stats.entries);
      this.set({ cache: 'negative' }, stats.negativeEntries);
    },
  });
  new Gauge({
    name: 'claimgate_token_cache_estimated_bytes',
    help: 'Estimated heap held by the token cache entries, by kind; token_cache.max_bytes bounds the positive kind.',
    labelNames: ['cache'] as const,
    registers: [registry],
    collect() {
      const stats = cacheStats();
      this.set({ cache: 'positive' }, stats.bytes);
      this.set({ cache: 'negative' }, stats.negativeBytes);
    },
  });

  const refused = new Counter({
    name: 'claimgate_connections_refused_total',
    help: 'Connections refused or closed, and gRPC streams cancelled, by a listener bound: by listener (grpc, http, admin) and reason.',
    labelNames: ['listener', 'reason'] as const,
    registers: [registry],
  });

  // The count lives with the log destination (src/core/log.ts), which exists before any registry.
  let logDroppedSeen = 0;
  new Counter({
    name: 'claimgate_log_lines_dropped_total',
    help: 'Log lines dropped because the log output could not keep up and the buffer was full (logging.max_buffer_bytes).',
    registers: [registry],
    collect() {
      const now = logLinesDropped();
      if (now > logDroppedSeen) this.inc(now - logDroppedSeen);
      logDroppedSeen = now;
    },
  });

  let ready: () => boolean = () => false;
  new Gauge({
    name: 'claimgate_ready',
    help: '1 when the readiness policy holds (health SERVING), else 0.',
    aggregator: 'min',
    registers: [registry],
    collect() {
      this.set(ready() ? 1 : 0);
    },
  });

  return {
    registry,
    observeCheck(decision, seconds) {
      if (decision.binding !== undefined) bindingTallies.count(decision.binding, decision.outcome);
      checkTallies.count(decision.outcome, decision.reason, decision.issuer ?? '', decision.route ?? '');
      durationTallies.observe(decision.outcome, seconds);
    },
    observeKeyFetch(issuer, kind, result) {
      fetches.labels(issuer, kind, result).inc();
    },
    observeReload(result, atMs) {
      reloads.labels(result).inc();
      if (result === 'success') lastReload.set(atMs / 1000);
    },
    markConfigLoaded(atMs) {
      lastReload.set(atMs / 1000);
    },
    observeTokenCache(result) {
      tokenCacheTallies.count(result);
    },
    observeShadowDisagreement(event) {
      shadowDisagreements.labels(event.route, event.issuer, event.enforced, event.candidate).inc();
    },
    observeLookup(kind, name, result, seconds) {
      lookups.labels(kind, name, result).inc();
      lookupDuration.labels(kind).observe(seconds);
    },
    observeLookupCache(kind, name, result) {
      lookupCache.labels(kind, name, result).inc();
    },
    setKeySources(sources) {
      keySources = sources;
    },
    setInFlight(fn) {
      inFlight = fn;
    },
    setTokenCacheStats(fn) {
      cacheStats = fn;
    },
    observeRefused(listener, reason) {
      refused.labels(listener, reason).inc();
    },

    setReady(fn) {
      ready = fn;
    },
  };
}

interface Tally {
  readonly labels: Record<string, string>;
  count: number;
  reported: number;
}

type Level = Map<string, Level | Tally>;

/**
 * A counter's increments kept in plain numbers and handed to prom-client when it is scraped (`collect`):
 * prom-client's `inc()` (a cached child's too) converts, validates and hashes the label set on every call,
 * ~0.5 µs per Check for the per-Check counters. Tallies are found through one map per label, keyed by the
 * values' own strings (catalogue codes, config names, fixed words), so no key is built per call and their
 * number is bounded like the counter's series.
 */
function labelTally(labelNames: readonly string[]) {
  const root: Level = new Map();
  const all: Tally[] = [];
  return {
    /** Counts one for these label values, in `labelNames` order. */
    count(...values: string[]): void {
      let level = root;
      for (let i = 0; i < values.length - 1; i++) {
        const key = values[i]!;
        let next = level.get(key) as Level | undefined;
        if (next === undefined) {
          next = new Map();
          level.set(key, next);
        }
        level = next;
      }
      const last = values[values.length - 1]!;
      let tally = level.get(last) as Tally | undefined;
      if (tally === undefined) {
        const labels: Record<string, string> = {};
        labelNames.forEach((name, i) => (labels[name] = values[i]!));
        tally = { labels, count: 0, reported: 0 };
        level.set(last, tally);
        all.push(tally);
      }
      tally.count++;
    },
    /** Hands prom-client what was counted since the last flush. */
    flush(counter: Counter): void {
      for (const tally of all) {
        if (tally.count === tally.reported) continue;
        counter.inc(tally.labels, tally.count - tally.reported);
        tally.reported = tally.count;
      }
    },
  };
}

/** One label value's observations: a count per bucket (the last counts values above every bound), sum, count. */
interface HistogramSeries {
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/** What prom-client keeps per label set (lib/histogram.js); written at scrape by {@link histogramTally}. */
interface PromHistogramEntry {
  labels: Record<string, string>;
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

/**
 * A one-label histogram's observations kept in plain numbers and written into prom-client's histogram when
 * it is scraped: a labelled child's `observe()` converts, validates and hashes its label set on every call
 * (~1-2 % of a loaded server's CPU, docs/benchmarks.md). prom-client has no call that adds a bucket count,
 * so the flush sets its per-label-set record (`hashMap`, created by the public `zero()`); the exposition is
 * byte for byte prom-client's own for the same observations (test/ops/metrics.test.ts).
 */
function histogramTally(labelName: string, bounds: readonly number[]) {
  const series = new Map<string, HistogramSeries>();
  return {
    observe(value: string, seconds: number): void {
      if (!Number.isFinite(seconds)) return;
      let s = series.get(value);
      if (s === undefined) {
        s = { counts: new Float64Array(bounds.length + 1), sum: 0, count: 0 };
        series.set(value, s);
      }
      let i = 0;
      while (i < bounds.length && seconds > bounds[i]!) i++;
      s.counts[i]!++;
      s.sum += seconds;
      s.count++;
    },
    /** Writes every series into `histogram` (cumulative totals: what prom-client would hold). */
    flush(histogram: Histogram): void {
      const records = (histogram as unknown as { hashMap: Record<string, PromHistogramEntry> }).hashMap;
      for (const [value, s] of series) {
        const labels = { [labelName]: value };
        let record = Object.values(records).find((r) => r.labels[labelName] === value);
        if (record === undefined) {
          histogram.zero(labels);
          record = Object.values(records).find((r) => r.labels[labelName] === value);
        }
        if (record === undefined) throw new Error('prom-client histogram records have an unknown shape');
        bounds.forEach((bound, i) => (record.bucketValues[bound] = s.counts[i]!));
        record.sum = s.sum;
        record.count = s.count;
      }
    },
  };
}
