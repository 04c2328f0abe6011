/**
 * Registry-level metric tests: label values come only from config names and the reason catalogue (a
 * hostile client cannot mint series), reloads are counted by result, the token-cache counter exists,
 * and the registry's names follow Prometheus conventions.
 */
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { Histogram, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { Claimgate } from '../../src/app/claimgate.js';
import { createCheckClient, type CheckClient } from '../../src/cli/check-client.js';
import { validateConfig } from '../../src/validation/load.js';
import { REASON_CODES } from '../../src/core/reasons.js';
import { CHECK_DURATION_BUCKETS, createMetrics, type Metrics } from '../../src/ops/metrics.js';
import { startSettledGate } from '../support/gate.js';

const ISSUER = 'https://idp.acme.test';
const AUDIENCE = 'https://api.example.com';

let dir: string;
let jwksFile: string;
let signingKey: CryptoKey;
let strangerKey: CryptoKey;

interface TokenOptions {
  iss?: string;
  sub?: string;
  scope?: string;
  kid?: string;
  key?: CryptoKey;
}

async function token(o: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ scope: o.scope ?? 'orders:read', client_id: 'web' })
    .setProtectedHeader({ alg: 'ES256', kid: o.kid ?? 'k1', typ: 'at+jwt' })
    .setIssuer(o.iss ?? ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(o.sub ?? 'user-1')
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .setJti(`jti-${Math.random()}`)
    .sign(o.key ?? signingKey);
}

function configObject(extra: { routes?: unknown[] } = {}) {
  return {
    server: { grpc_address: '127.0.0.1:0', admin_address: '127.0.0.1:0', shutdown_grace_ms: 500, watch_config: false },
    logging: { level: 'silent' },
    issuers: [{ name: 'acme', issuer: ISSUER, jwks_file: jwksFile, audiences: [AUDIENCE], algorithms: ['ES256'] }],
    routes: extra.routes ?? [
      { name: 'orders-read', match: { path: { template: '/orders/{id}' } }, require: { scope: 'orders:read' } },
    ],
    unmatched: 'authenticated',
  };
}

type Sample = MetricValue<string> & { metricName?: string };

async function series(metrics: Metrics, name: string): Promise<Sample[]> {
  const all = (await metrics.registry.getMetricsAsJSON()) as MetricObjectWithValues<Sample>[];
  return all.find((m) => m.name === name)?.values ?? [];
}

/** Sum of the samples of `name` (or, for a histogram, of its `_bucket`/`_count`/`_sum` sample `sample`) matching `labels`. */
async function valueOf(
  metrics: Metrics,
  name: string,
  labels: Record<string, string> = {},
  sample = name,
): Promise<number | undefined> {
  const found = (await series(metrics, name)).filter(
    (v) =>
      (v.metricName ?? name) === sample && Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want),
  );
  return found.length === 0 ? undefined : found.reduce((n, v) => n + v.value, 0);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'claimgate-metrics-test-'));
  const pair = await generateKeyPair('ES256', { extractable: true });
  signingKey = pair.privateKey;
  strangerKey = (await generateKeyPair('ES256')).privateKey;
  jwksFile = join(dir, 'jwks.json');
  writeFileSync(
    jwksFile,
    JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] }),
  );
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('check metric labels are bounded by config and catalogue', () => {
  let gate: Claimgate;
  let client: CheckClient;

  beforeAll(async () => {
    gate = await startSettledGate(validateConfig(configObject()));
    client = createCheckClient(`127.0.0.1:${gate.grpcPort}`);
  });

  afterAll(async () => {
    client.close();
    await gate.close(200);
  });

  /** 100 tokens and requests, each with its own attacker-chosen iss, sub, kid, path, host and request id. */
  async function hostileBatch(tag: string): Promise<string[]> {
    const seen: string[] = [];
    for (let i = 0; i < 100; i++) {
      const marker = `evil${tag}x${i}`;
      seen.push(marker);
      let t: string;
      switch (i % 5) {
        case 0: // an issuer nobody configured
          t = await token({ iss: `https://${marker}.example/`, sub: marker });
          break;
        case 1: // our issuer, a key id the issuer never published
          t = await token({ kid: marker, sub: marker });
          break;
        case 2: // our issuer and kid, someone else's key
          t = await token({ key: strangerKey, sub: marker });
          break;
        case 3: // valid token, attacker-chosen subject, a scope the route does not accept
          t = await token({ sub: marker, scope: marker });
          break;
        default: // valid token, attacker-chosen subject and an unmatched path
          t = await token({ sub: marker });
      }
      const path = i % 5 === 3 ? `/orders/${marker}` : `/${marker}/${marker}?${marker}=1`;
      const answer = await client.check({
        path,
        host: `${marker}.example.com`,
        token: t,
        headers: { 'x-request-id': marker, 'user-agent': marker },
      });
      expect(answer.grpcCode === 0 ? 'allow' : answer.kind).toMatch(/^(allow|deny)$/);
    }
    return seen;
  }

  it('never turns a token value, path, host or header into a label value; 200 hostile Checks make at most a handful of series', async () => {
    const first = await hostileBatch('a');
    const afterFirst = await series(gate.metrics, 'claimgate_checks_total');
    const second = await hostileBatch('b');
    const afterSecond = await series(gate.metrics, 'claimgate_checks_total');

    // Five kinds of hostile request → at most five label combinations, however many distinct values.
    expect(afterFirst.length).toBeGreaterThan(0);
    expect(afterFirst.length).toBeLessThanOrEqual(5);
    const labelSets = (xs: Sample[]) => xs.map((s) => JSON.stringify(s.labels)).sort();
    expect(labelSets(afterSecond)).toEqual(labelSets(afterFirst));
    expect(afterSecond.reduce((n, s) => n + s.value, 0)).toBe(200);

    const allowed: Record<string, Set<string>> = {
      decision: new Set(['allow', 'deny', 'error']),
      reason: new Set<string>(REASON_CODES),
      issuer: new Set(['', 'acme']),
      route: new Set(['', 'orders-read', '(unmatched)']),
    };
    for (const s of afterSecond) {
      expect(Object.keys(s.labels).sort()).toEqual(['decision', 'issuer', 'reason', 'route']);
      for (const [label, value] of Object.entries(s.labels)) expect(allowed[label]?.has(String(value))).toBe(true);
    }
    // Whichever series exist, no hostile string made it anywhere into the exposition.
    const text = await gate.metrics.registry.metrics();
    for (const marker of [...first, ...second]) expect(text).not.toContain(marker);
    expect(text).not.toMatch(/evil[ab]x/);
  });

  it('counts Checks between scrapes once each: every scrape shows the running total, per label set', async () => {
    const metrics = createMetrics({ version: 't' }, { defaultMetrics: false });
    const allow = {
      outcome: 'allow',
      reason: 'OK_AUTHENTICATED',
      route: 'orders',
      issuer: 'auth',
      headersToSet: [],
      headersToRemove: [],
    } as const;
    for (let i = 0; i < 3; i++) metrics.observeCheck(allow, 0.0001);
    metrics.observeCheck({ ...allow, route: 'billing' }, 0.0001);
    const labels = (route: string) => ({ decision: 'allow', reason: 'OK_AUTHENTICATED', issuer: 'auth', route });
    expect(await series(metrics, 'claimgate_checks_total')).toEqual([
      { labels: labels('orders'), value: 3 },
      { labels: labels('billing'), value: 1 },
    ]);
    // A scrape with nothing new changes nothing; later Checks add to the same series.
    expect(await series(metrics, 'claimgate_checks_total')).toEqual([
      { labels: labels('orders'), value: 3 },
      { labels: labels('billing'), value: 1 },
    ]);
    metrics.observeCheck(allow, 0.0001);
    expect(await series(metrics, 'claimgate_checks_total')).toEqual([
      { labels: labels('orders'), value: 4 },
      { labels: labels('billing'), value: 1 },
    ]);
    expect(await metrics.registry.metrics()).toContain(
      'claimgate_checks_total{decision="allow",reason="OK_AUTHENTICATED",issuer="auth",route="orders"} 4',
    );
  });

  it("exposes Check durations exactly as prom-client's own histogram does for the same observations, scrape after scrape", async () => {
    const metrics = createMetrics({ version: 't' }, { defaultMetrics: false });
    const reference = new Histogram({
      name: 'claimgate_check_duration_seconds',
      help: 'Time from receiving a Check to having its answer, by decision.',
      labelNames: ['decision'] as const,
      buckets: CHECK_DURATION_BUCKETS,
      registers: [],
    });
    const exposition = async (registry: Registry) =>
      (await registry.getSingleMetricAsString('claimgate_check_duration_seconds')).trim();
    const referenceRegistry = new Registry();
    referenceRegistry.registerMetric(reference);
    const deny = { outcome: 'deny', reason: 'ERR_TOKEN_MISSING', status: 401 } as const;
    const allow = {
      outcome: 'allow',
      reason: 'OK_PUBLIC_ROUTE',
      route: 'r',
      headersToSet: [],
      headersToRemove: [],
    } as const;
    // Every bucket, its exact bounds, a value past the last bound, and the order series first appear in.
    const seconds = [...CHECK_DURATION_BUCKETS, ...CHECK_DURATION_BUCKETS.map((b) => b * 1.5), 0, 3.5, 1e-9];
    for (const [i, s] of seconds.entries()) {
      const decision = i % 3 === 0 ? deny : allow;
      metrics.observeCheck(decision, s);
      reference.labels(decision.outcome).observe(s);
      if (i % 7 === 0) expect(await exposition(metrics.registry)).toBe(await exposition(referenceRegistry));
    }
    expect(await exposition(metrics.registry)).toBe(await exposition(referenceRegistry));
    expect(await exposition(metrics.registry)).toContain('claimgate_check_duration_seconds_count{decision="allow"}');
  });

  it('observeCheck maps a decision without issuer or route to empty label values', async () => {
    const metrics = createMetrics({ version: 't' }, { defaultMetrics: false });
    metrics.observeCheck({ outcome: 'deny', reason: 'ERR_ROUTE_NOT_FOUND', status: 403 }, 0.0001);
    metrics.observeCheck({ outcome: 'deny', reason: 'ERR_ROUTE_NOT_FOUND', status: 403 }, 0.0001);
    expect(await series(metrics, 'claimgate_checks_total')).toEqual([
      { labels: { decision: 'deny', reason: 'ERR_ROUTE_NOT_FOUND', issuer: '', route: '' }, value: 2 },
    ]);
    expect(
      await valueOf(
        metrics,
        'claimgate_check_duration_seconds',
        { decision: 'deny', le: '0.00025' },
        'claimgate_check_duration_seconds_bucket',
      ),
    ).toBe(2);
    expect(
      await valueOf(
        metrics,
        'claimgate_check_duration_seconds',
        { decision: 'deny', le: '0.00005' },
        'claimgate_check_duration_seconds_bucket',
      ),
    ).toBe(0);
    expect(
      await valueOf(
        metrics,
        'claimgate_check_duration_seconds',
        { decision: 'deny' },
        'claimgate_check_duration_seconds_count',
      ),
    ).toBe(2);
  });
});

describe('reload counters', () => {
  let gate: Claimgate;
  let configFile: string;
  // The gate's clock: real time plus what the test lets pass, so reload timestamps move without sleeping.
  let elapsedMs = 0;

  beforeAll(async () => {
    configFile = join(dir, 'claimgate.yaml');
    writeFileSync(configFile, JSON.stringify(configObject()));
    gate = await startSettledGate(validateConfig(configObject()), { nowMs: () => Date.now() + elapsedMs });
  });

  afterAll(async () => gate.close(200));

  it('counts successful and failed reloads by result; only a success moves the last-reload time', async () => {
    const m = gate.metrics;
    expect(await valueOf(m, 'claimgate_config_reloads_total')).toBeUndefined();
    const loadedAt = await valueOf(m, 'claimgate_config_last_reload_success_timestamp_seconds');
    expect(loadedAt).toBeGreaterThan(1_600_000_000);

    elapsedMs += 1000;
    expect(await gate.reloadFromFile(configFile)).toEqual({ ok: true, changed: true });
    expect(await valueOf(m, 'claimgate_config_reloads_total', { result: 'success' })).toBe(1);
    const reloadedAt = await valueOf(m, 'claimgate_config_last_reload_success_timestamp_seconds');
    expect(reloadedAt).toBeGreaterThan(loadedAt as number);

    // The same bytes again: not a reload at all.
    expect(await gate.reloadFromFile(configFile)).toEqual({ ok: true, changed: false });
    expect(await valueOf(m, 'claimgate_config_reloads_total', { result: 'success' })).toBe(1);

    // Broken YAML, a schema violation, a missing file: three failures, the time stays.
    writeFileSync(configFile, 'issuers: [unclosed\n');
    expect((await gate.reloadFromFile(configFile)).ok).toBe(false);
    writeFileSync(configFile, JSON.stringify({ ...configObject(), issuers: [] }));
    expect((await gate.reloadFromFile(configFile)).ok).toBe(false);
    unlinkSync(configFile);
    expect((await gate.reloadFromFile(configFile)).ok).toBe(false);
    expect(await valueOf(m, 'claimgate_config_reloads_total', { result: 'failure' })).toBe(3);
    expect(await valueOf(m, 'claimgate_config_reloads_total', { result: 'success' })).toBe(1);
    expect(await valueOf(m, 'claimgate_config_last_reload_success_timestamp_seconds')).toBe(reloadedAt);

    // A programmatic reload with a new route is a success too.
    const next = validateConfig(
      configObject({ routes: [{ name: 'health', match: { path: { exact: '/healthz' } }, public: true }] }),
    );
    expect(gate.reload(next).ok).toBe(true);
    expect(await valueOf(m, 'claimgate_config_reloads_total', { result: 'success' })).toBe(2);
  });
});

describe('registry contents', () => {
  it('defines the token-cache counter by result, and counts what it is told', async () => {
    const metrics = createMetrics({ version: 't' }, { defaultMetrics: false });
    const metric = metrics.registry.getSingleMetric('claimgate_token_cache_requests_total');
    expect(metric).toBeDefined();
    const json = (await metrics.registry.getMetricsAsJSON()).find(
      (m) => m.name === 'claimgate_token_cache_requests_total',
    );
    expect(json?.type).toBe('counter');
    expect(json?.help).toMatch(/cache/i);
    metrics.observeTokenCache('hit');
    metrics.observeTokenCache('hit');
    metrics.observeTokenCache('miss');
    metrics.observeTokenCache('negative_hit');
    expect(await valueOf(metrics, 'claimgate_token_cache_requests_total', { result: 'hit' })).toBe(2);
    expect(await valueOf(metrics, 'claimgate_token_cache_requests_total', { result: 'miss' })).toBe(1);
    expect(await valueOf(metrics, 'claimgate_token_cache_requests_total', { result: 'negative_hit' })).toBe(1);
  });

  it('names counters *_total, drops the default gauges with a counter name, and keeps sub-millisecond duration buckets', async () => {
    const all = await createMetrics({ version: 't' }).registry.getMetricsAsJSON();
    for (const m of all) {
      expect([m.name, String(m.type) === 'counter']).toEqual([m.name, m.name.endsWith('_total')]);
      expect(m.help.length).toBeGreaterThan(0);
    }
    const names = new Set(all.map((m) => m.name));
    expect(names.has('process_cpu_seconds_total')).toBe(true);
    expect(names.has('nodejs_eventloop_lag_seconds')).toBe(true);
    expect(names.has('nodejs_active_handles')).toBe(true);
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
      expect(names.has(name)).toBe(false);
    expect(CHECK_DURATION_BUCKETS.filter((b) => b < 0.001).length).toBeGreaterThanOrEqual(3);
    expect([...CHECK_DURATION_BUCKETS].sort((a, b) => a - b)).toEqual([...CHECK_DURATION_BUCKETS]);
  });

  it('docs/operations.md documents every claimgate_ metric with its type and labels, and nothing that does not exist', async () => {
    const doc = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
    const documented = new Map<string, { type: string; labels: string[] }>();
    for (const m of doc.matchAll(/^\| `(claimgate_[a-z_]+)` \| (counter|gauge|histogram|summary) \| ([^|]*) \|/gm)) {
      // Label column: `name` (`value`, ...) pairs; the parenthesised values are not label names.
      const labels = [...(m[3] ?? '').replace(/\([^)]*\)/g, '').matchAll(/`([a-z_]+)`/g)]
        .map((l) => l[1] as string)
        .sort();
      documented.set(m[1] as string, { type: m[2] as string, labels });
    }
    const registry = createMetrics({ version: 't' }, { defaultMetrics: false }).registry;
    const actual = new Map<string, { type: string; labels: string[] }>();
    for (const m of await registry.getMetricsAsJSON()) {
      const metric = registry.getSingleMetric(m.name) as unknown as { labelNames?: string[] };
      actual.set(m.name, { type: String(m.type), labels: [...(metric.labelNames ?? [])].sort() });
    }
    expect([...actual.keys()].every((n) => n.startsWith('claimgate_'))).toBe(true);
    expect(Object.fromEntries([...documented].sort())).toEqual(Object.fromEntries([...actual].sort()));
  });
});
