/**
 * claimgate scraped by a real Prometheus (Debian package `prometheus`) on loopback: a known number of
 * Checks over real gRPC, then every expected `claimgate_` value read back through Prometheus's HTTP
 * API. And `promtool check metrics` finds nothing to complain about in a scrape of /metrics.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import type { Claimgate } from '../../src/app/claimgate.js';
import { createCheckClient, type CheckClient } from '../../src/cli/check-client.js';
import { validateConfig } from '../../src/validation/load.js';
import { VERSION } from '../../src/core/version.js';
import { estimateEntryBytes } from '../../src/token/token-cache.js';
import {
  fencedBlocks,
  promtoolCheckMetrics,
  promtoolCheckRules,
  startPrometheus,
  type PrometheusServer,
} from '../support/prometheus.js';
import { startSettledGate } from '../support/gate.js';

const ISSUER = 'https://idp.acme.test';
const AUDIENCE = 'https://api.example.com';
const ROUTE = 'orders-read';
const KEY_COUNT = 2;

let dir: string;
let gate: Claimgate;
let client: CheckClient;
let prom: PrometheusServer | undefined;
let signingKey: CryptoKey;

async function token(scope: string, sub = 'user-1'): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ scope, client_id: 'web' })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(sub)
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .setJti(`jti-${sub}-${Math.random()}`)
    .sign(signingKey);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'claimgate-prom-test-'));
  const keys = [];
  for (let i = 1; i <= KEY_COUNT; i++) {
    const pair = await generateKeyPair('ES256', { extractable: true });
    if (i === 1) signingKey = pair.privateKey;
    keys.push({ ...(await exportJWK(pair.publicKey)), kid: `k${i}`, alg: 'ES256', use: 'sig' });
  }
  const jwksFile = join(dir, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys }));
  const config = validateConfig({
    server: { grpc_address: '127.0.0.1:0', admin_address: '127.0.0.1:0', shutdown_grace_ms: 1000 },
    logging: { level: 'silent' },
    issuers: [{ name: 'acme', issuer: ISSUER, jwks_file: jwksFile, audiences: [AUDIENCE], algorithms: ['ES256'] }],
    routes: [
      {
        name: ROUTE,
        match: { methods: ['GET'], path: { template: '/orders/{id}' } },
        require: { scope: 'orders:read' },
      },
    ],
  });
  gate = await startSettledGate(config);
  expect(gate.ready()).toBe(true);
  client = createCheckClient(`127.0.0.1:${gate.grpcPort}`);
  prom = await startPrometheus({ target: `127.0.0.1:${gate.adminPort}`, job: 'claimgate' });
});

afterAll(async () => {
  client?.close();
  await prom?.stop();
  await gate?.close(200);
  rmSync(dir, { recursive: true, force: true });
});

describe('a real Prometheus scraping claimgate', () => {
  it('reads back exactly the Checks that were made, the key gauges, build info and up', async () => {
    const good = await token('orders:read');
    const weak = await token('profile');
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await client.check({ path: `/orders/${i}`, token: good }));
    for (let i = 0; i < 2; i++) answers.push(await client.check({ path: `/orders/${i}` }));
    answers.push(await client.check({ path: '/orders/9', token: weak }));
    expect(answers.map((a) => a.reason ?? a.kind)).toEqual([
      'allow',
      'allow',
      'allow',
      'ERR_TOKEN_MISSING',
      'ERR_TOKEN_MISSING',
      'ERR_INSUFFICIENT_SCOPE',
    ]);

    const server = prom as PrometheusServer;
    // Wait for a scrape taken after all six Checks (bounded; the scrape interval is 1 s).
    await server.waitFor(
      'sum(claimgate_check_duration_seconds_count{job="claimgate"})',
      (s) => s[0]?.value === 6,
      20_000,
    );

    expect(await server.queryValue('up{job="claimgate"}')).toBe(1);

    const allow = await server.query(
      `claimgate_checks_total{decision="allow",reason="OK_AUTHENTICATED",route="${ROUTE}",issuer="acme"}`,
    );
    expect(allow).toHaveLength(1);
    expect(allow[0]?.value).toBe(3);
    expect(allow[0]?.metric).toMatchObject({ job: 'claimgate', instance: `127.0.0.1:${gate.adminPort}` });

    // No token means no issuer: an empty label value, which Prometheus stores as an absent label.
    const missing = await server.query(
      `claimgate_checks_total{decision="deny",reason="ERR_TOKEN_MISSING",route="${ROUTE}"}`,
    );
    expect(missing).toHaveLength(1);
    expect(missing[0]?.value).toBe(2);
    expect(missing[0]?.metric.issuer).toBeUndefined();

    expect(
      await server.queryValue(
        `claimgate_checks_total{decision="deny",reason="ERR_INSUFFICIENT_SCOPE",route="${ROUTE}",issuer="acme"}`,
      ),
    ).toBe(1);
    // Nothing else was counted: three series, six Checks.
    const all = await server.query('claimgate_checks_total');
    expect(all).toHaveLength(3);
    expect(all.reduce((n, s) => n + s.value, 0)).toBe(6);

    expect(await server.queryValue('sum(claimgate_check_duration_seconds_count)')).toBe(6);
    expect(await server.queryValue('claimgate_check_duration_seconds_count{decision="allow"}')).toBe(3);
    expect(await server.queryValue('claimgate_check_duration_seconds_count{decision="deny"}')).toBe(3);
    // Every Check took less than the largest finite bucket; the +Inf bucket equals the count.
    expect(await server.queryValue('claimgate_check_duration_seconds_bucket{decision="allow",le="+Inf"}')).toBe(3);
    // The documented p99 query evaluates to a number.
    const p99 = await server.query('histogram_quantile(0.99, sum by (le) (claimgate_check_duration_seconds_bucket))');
    expect(p99).toHaveLength(1);
    expect(Number.isFinite(p99[0]?.value)).toBe(true);

    expect(await server.queryValue('claimgate_issuer_keys{issuer="acme"}')).toBe(KEY_COUNT);
    expect(await server.queryValue('claimgate_issuer_keys_usable{issuer="acme"}')).toBe(1);
    expect(await server.queryValue('claimgate_issuer_stale_seconds{issuer="acme"}')).toBe(0);
    expect(await server.queryValue('claimgate_issuer_last_success_timestamp_seconds{issuer="acme"}')).toBeGreaterThan(
      1_600_000_000,
    );
    expect(await server.queryValue('claimgate_jwks_fetches_total{issuer="acme",result="ok"}')).toBe(1);
    expect(await server.queryValue('claimgate_ready')).toBe(1);
    expect(await server.queryValue('claimgate_config_reloads_total')).toBe(0);
    expect(await server.queryValue('claimgate_config_last_reload_success_timestamp_seconds')).toBeGreaterThan(
      1_600_000_000,
    );

    const build = await server.query('claimgate_build_info');
    expect(build).toHaveLength(1);
    expect(build[0]?.value).toBe(1);
    expect(build[0]?.metric).toMatchObject({ version: VERSION, node_version: process.version });

    // The token cache holds the two distinct tokens that verified (good, weak), each at its estimate.
    expect(await server.queryValue('claimgate_token_cache_entries{cache="positive"}')).toBe(2);
    expect(await server.queryValue('claimgate_token_cache_estimated_bytes{cache="positive"}')).toBe(
      estimateEntryBytes(good) + estimateEntryBytes(weak),
    );
    expect(await server.queryValue('claimgate_log_lines_dropped_total')).toBe(0);

    // Node's default process metrics are scraped too.
    expect(await server.query('process_resident_memory_bytes{job="claimgate"}')).toHaveLength(1);
  });

  it('promtool check metrics reports nothing on a scrape of /metrics', async () => {
    const res = await fetch(`http://127.0.0.1:${gate.adminPort}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    // An empty input would also pass promtool: make sure it linted the real thing.
    expect(text).toContain('claimgate_checks_total{');
    expect(text).toContain('claimgate_issuer_keys{issuer="acme"}');
    expect(text).toContain('claimgate_build_info{');
    expect(text).toContain('claimgate_token_cache_entries{cache="positive"}');
    expect(text).toContain('claimgate_token_cache_estimated_bytes{cache="positive"}');
    const result = promtoolCheckMetrics(text);
    expect({ stdout: result.stdout, stderr: result.stderr, status: result.status }).toEqual({
      stdout: '',
      stderr: '',
      status: 0,
    });
  });

  it('every PromQL example in docs/operations.md parses and evaluates against the live scrape', async () => {
    const doc = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
    const expressions = fencedBlocks(doc, 'promql')
      .flatMap((block) => block.split(/\n\s*\n/))
      .map((chunk) =>
        chunk
          .split('\n')
          .filter((l) => !l.trim().startsWith('#'))
          .join('\n')
          .trim(),
      )
      .filter((e) => e !== '');
    expect(expressions.length).toBeGreaterThanOrEqual(8);
    for (const expr of expressions) {
      await expect((prom as PrometheusServer).query(expr).then(() => 'ok')).resolves.toBe('ok');
    }
  });

  it('every example alert in docs/operations.md is a valid Prometheus rule (promtool check rules)', () => {
    const doc = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
    const alertBlocks = fencedBlocks(doc, 'yaml').filter((b) => /^- alert:/m.test(b));
    const rules = alertBlocks
      .join('\n')
      .split('\n')
      .map((l) => (l === '' ? l : `      ${l}`))
      .join('\n');
    const count = (rules.match(/- alert:/g) ?? []).length;
    expect(count).toBeGreaterThanOrEqual(8);
    const result = promtoolCheckRules(`groups:\n  - name: claimgate-docs\n    rules:\n${rules}\n`);
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
    expect(result.stdout).toContain(`SUCCESS: ${count} rules found`);
  });
});
