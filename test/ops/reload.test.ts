/**
 * Hot reload under load: 50 reloads alternating valid and invalid configs while Checks run
 * continuously over real gRPC. Two valid variants are told apart by their decisions, so a decision
 * taken with a half-applied config (A's requirement with B's headers) would be visible.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Claimgate } from '../../src/app/claimgate.js';
import { createCheckClient, type CheckSummary } from '../../src/cli/check-client.js';
import { parseConfigText } from '../../src/validation/load.js';
import { createLogger } from '../../src/core/log.js';
import { FakeIdp, generateSigningKey } from '../support/fake-idp.js';
import { mintAccessToken } from '../support/tokens.js';
import { startSettledGate } from '../support/gate.js';
import { waitFor } from '../support/wait.js';

const AUDIENCE = 'https://api.example.com';

function configYaml(issuer: string, variant: 'A' | 'B' | 'invalid'): string {
  const scope = variant === 'B' ? 's2' : 's1';
  const header = variant === 'B' ? 'x-variant-b' : 'x-variant-a';
  return `server: { grpc_address: "127.0.0.1:0", admin_address: "127.0.0.1:0", watch_config: false }
logging: { level: info }
issuers:
  - name: idp
    issuer: "${issuer}"
    allow_insecure_http: true
    audiences: ${variant === 'invalid' ? '[]' : `[${AUDIENCE}]`}
routes:
  - name: r
    match: { path: { prefix: / } }
    require: { scope: ${scope} }
upstream:
  headers: [{ name: ${header}, claim: sub }]
`;
}

describe('hot reload under load', () => {
  let idp: FakeIdp;
  let app: Claimgate;
  let token: string;
  const logLines: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'claimgate-reload-'));
  const file = join(dir, 'claimgate.yaml');

  beforeAll(async () => {
    const key = generateSigningKey('RS256', 'k1');
    idp = await FakeIdp.start({ keys: [key.jwk] });
    writeFileSync(file, configYaml(idp.issuer, 'A'));
    const logger = createLogger('info', { write: (line: string) => void logLines.push(line) });
    app = await startSettledGate(parseConfigText(configYaml(idp.issuer, 'A')), { logger });
    token = await mintAccessToken(key, idp.issuer, { sub: 'alice', aud: AUDIENCE, scope: 's1' }, { ttl: '10m' });
  });

  afterAll(async () => {
    await app.close(1000);
    await idp.close();
  });

  it('answers every Check with a decision of exactly one whole config, keeps serving through invalid configs, and counts them', async () => {
    const client = createCheckClient(`127.0.0.1:${app.grpcPort}`);
    const sourceBefore = app.keySources().get('idp');
    const answers: CheckSummary[] = [];
    const failures: unknown[] = [];
    let running = true;

    const worker = async () => {
      while (running) {
        try {
          answers.push(await client.check({ path: '/orders', token }, 2000));
        } catch (e) {
          failures.push(e);
        }
      }
    };
    const WORKERS = 4;
    const workers = Array.from({ length: WORKERS }, worker);

    const done = () => answers.length + failures.length;
    const results = [];
    for (let i = 0; i < 50; i++) {
      const variant = i % 2 === 1 ? 'invalid' : (i / 2) % 2 === 0 ? 'B' : 'A';
      writeFileSync(file, configYaml(idp.issuer, variant));
      results.push({ variant, result: await app.reloadFromFile(file) });
      const before = done();
      // Let Checks run on this config before the next reload: as many as there are workers.
      await waitFor(() => done() >= before + WORKERS, {
        what: `${WORKERS} Checks done after reload ${i}`,
        intervalMs: 2, // a Check takes about a millisecond here
      });
    }
    running = false;
    await Promise.all(workers);
    client.close();

    expect(failures).toEqual([]);
    expect(answers.length).toBeGreaterThan(100);
    const allows = answers.filter((a) => a.kind === 'allow');
    const denies = answers.filter((a) => a.kind === 'deny');
    expect(allows.length + denies.length).toBe(answers.length);
    expect(allows.length).toBeGreaterThan(0);
    expect(denies.length).toBeGreaterThan(0);
    // Variant A allows and owns only x-variant-a; variant B denies (needs s2). Nothing else may appear.
    for (const a of allows) {
      expect(a.headers).toEqual({ 'x-variant-a': 'alice' });
      expect(a.headersToRemove).toEqual([]);
    }
    for (const d of denies) expect(d.reason).toBe('ERR_INSUFFICIENT_SCOPE');

    expect(results.filter((r) => r.variant === 'invalid').every((r) => !r.result.ok)).toBe(true);
    expect(results.filter((r) => r.variant !== 'invalid').every((r) => r.result.ok)).toBe(true);

    // The unchanged issuer kept its key source (and its cache) through every reload.
    expect(app.keySources().get('idp')).toBe(sourceBefore);
    expect(idp.count('/jwks')).toBe(1);

    const metrics = await app.metrics.registry.getSingleMetricAsString('claimgate_config_reloads_total');
    expect(metrics).toContain('claimgate_config_reloads_total{result="failure"} 25');
    expect(metrics).toContain('claimgate_config_reloads_total{result="success"} 25');
    const rejected = logLines.filter((l) => l.includes('config reload rejected'));
    expect(rejected).toHaveLength(25);
    expect(rejected[0]).toContain('issuers[0].audiences: must list at least one audience');
  });
});
