/**
 * Graceful shutdown of the real process (`claimgate serve`): SIGTERM while Checks are in flight —
 * some of them waiting on a hanging IdP — answers every accepted Check and exits 0 in time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCheckClient } from '../../src/cli/check-client.js';
import { waitForLine } from '../support/child-output.js';
import { FakeIdp, generateSigningKey } from '../support/fake-idp.js';
import { mintAccessToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;
const AUDIENCE = 'https://api.example.com';
const GRACE_MS = 5000;
const DEADLINE_MS = 1500;

describe('graceful shutdown on SIGTERM', () => {
  let idp: FakeIdp;
  let child: ChildProcess | undefined;

  afterAll(async () => {
    child?.kill('SIGKILL');
    await idp.close();
  });

  it('answers every Check accepted before SIGTERM, including ones waiting for keys, then exits 0', async () => {
    const key = generateSigningKey('RS256', 'k1');
    idp = await FakeIdp.start({ keys: [key.jwk] });
    const dir = mkdtempSync(join(tmpdir(), 'claimgate-shutdown-'));
    const file = join(dir, 'claimgate.yaml');
    writeFileSync(
      file,
      `server: { grpc_address: "127.0.0.1:0", admin_address: "127.0.0.1:0", shutdown_grace_ms: ${GRACE_MS}, check_deadline_ms: ${DEADLINE_MS} }
logging: { level: info }
unmatched: authenticated
issuers:
  - name: idp
    issuer: "${idp.issuer}"
    allow_insecure_http: true
    audiences: [${AUDIENCE}]
    keys: { cooldown_seconds: 0 }
`,
    );
    child = spawn(process.execPath, [CLI, 'serve', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    const listening = JSON.parse(await waitForLine(child, /claimgate listening/, 10000)) as {
      grpc_port: number;
      admin_port: number;
    };
    await waitForLine(child, /"ready":true/, 10000);

    const sign = (kid: string) =>
      mintAccessToken(key, idp.issuer, { sub: 'alice', aud: AUDIENCE }, { kid, ttl: '10m' });
    const good = await sign('k1');
    const unknownKid = await sign('rotated-away');

    // From now on the IdP hangs: Checks with an unknown kid wait for a refetch until the deadline.
    idp.misbehave('all', { kind: 'hang' });
    const client = createCheckClient(`127.0.0.1:${listening.grpc_port}`);
    const exited = new Promise<{ code: number | null; atMs: number }>((resolve) =>
      child!.once('exit', (code) => resolve({ code, atMs: Date.now() })),
    );

    const waiting = Array.from({ length: 20 }, () => client.check({ path: '/x', token: unknownKid }, 10000));
    const steady = Array.from({ length: 50 }, () => client.check({ path: '/x', token: good }, 10000));
    // SIGTERM once the server holds all 20 waiting Checks (its in-flight gauge), not after a guessed delay.
    const inFlight = async () => {
      const text = await (await fetch(`http://127.0.0.1:${listening.admin_port}/metrics`)).text();
      return Number(/^claimgate_checks_in_flight (\d+)$/m.exec(text)?.[1]);
    };
    await waitFor(inFlight, { what: '20 Checks waiting for keys in flight', until: (n) => n >= 20 });
    const termAt = Date.now();
    child.kill('SIGTERM');

    const settled = await Promise.allSettled([...waiting, ...steady]);
    const exit = await exited;
    client.close();

    expect(settled.filter((s) => s.status === 'rejected')).toEqual([]);
    const answers = settled.map((s) => (s as PromiseFulfilledResult<Awaited<(typeof waiting)[number]>>).value);
    expect(answers.slice(0, 20).map((a) => a.reason)).toEqual(Array(20).fill('ERR_JWKS_UNAVAILABLE'));
    expect(answers.slice(20).every((a) => a.kind === 'allow')).toBe(true);
    expect(exit.code).toBe(0);
    expect(exit.atMs - termAt).toBeLessThan(GRACE_MS + 2000);
  });
});
