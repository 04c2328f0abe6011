/**
 * `server.workers`: one process tree on several cores. The primary aggregates metrics and readiness,
 * forwards SIGHUP, replaces a dead worker and drains all of them on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCheckClient } from '../../src/cli/check-client.js';
import { generateSigningKey } from '../support/fake-idp.js';
import { waitFor } from '../support/wait.js';

const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;

interface LogLine {
  msg: string;
  pid: number;
  grpc_port?: number;
  admin_port?: number;
}

describe('multi-core workers', () => {
  let child: ChildProcess;
  let configFile: string;
  let configText: string;
  const lines: LogLine[] = [];

  const waitForLogs = (predicate: (l: LogLine[]) => boolean, what: string) =>
    waitFor(() => predicate(lines), {
      what,
      timeoutMs: 15000,
      context: () => lines.map((l) => JSON.stringify(l)).join('\n'),
    });
  const count = (msg: string) => lines.filter((l) => l.msg === msg).length;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'claimgate-workers-'));
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [generateSigningKey('ES256', 'k1').jwk] }));
    const identityKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    writeFileSync(join(dir, 'identity.pem'), identityKey.export({ format: 'pem', type: 'pkcs8' }));
    const config = join(dir, 'claimgate.yaml');
    configFile = config;
    configText = `server: { grpc_address: "127.0.0.1:0", admin_address: "127.0.0.1:0", workers: 2, watch_config: false, shutdown_grace_ms: 2000 }
unmatched: authenticated
issuers:
  - { name: a, issuer: "https://a.example.com", audiences: [x], algorithms: [ES256], jwks_file: "${join(dir, 'jwks.json')}" }
upstream:
  identity_jwt: { issuer: "https://claimgate.internal", audience: up, claims: [{ name: sub, principal: qualified_subject }], keys: [{ private_key_file: "${join(dir, 'identity.pem')}", kid: id-1 }] }
`;
    writeFileSync(config, configText);
    child = spawn(process.execPath, [CLI, 'serve', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let buffer = '';
    child.stderr!.on('data', (c: Buffer) => {
      buffer += c.toString();
      const parts = buffer.split('\n');
      buffer = parts.pop()!;
      for (const p of parts) if (p.startsWith('{')) lines.push(JSON.parse(p) as LogLine);
    });
    await waitForLogs(
      (l) => l.filter((x) => x.msg === 'ready: signing keys available').length >= 2 && l.some((x) => x.admin_port),
      'two ready workers',
    );
  });
  afterAll(() => {
    child.kill('SIGKILL');
  });

  const adminPort = () => lines.find((l) => l.msg === 'claimgate primary started')!.admin_port!;
  const grpcPort = () => lines.find((l) => l.msg === 'claimgate listening')!.grpc_port!;

  it('runs two workers on one shared gRPC port', () => {
    const listening = lines.filter((l) => l.msg === 'claimgate listening');
    expect(listening).toHaveLength(2);
    expect(new Set(listening.map((l) => l.pid)).size).toBe(2);
    expect(new Set(listening.map((l) => l.grpc_port)).size).toBe(1);
  });

  it("serves the upstream identity JWKS its workers publish, once per key, at the primary's admin listener", async () => {
    const response = await fetch(`http://127.0.0.1:${adminPort()}/.well-known/jwks.json`);
    expect(response.status).toBe(200);
    const jwks = (await response.json()) as { keys: { kid: string; kty: string; alg: string }[] };
    expect(jwks.keys.map((k) => [k.kid, k.kty, k.alg])).toEqual([['id-1', 'EC', 'ES256']]);
  });

  it("answers Checks and aggregates every worker's metrics and status at the primary", async () => {
    // Separate channels, so the primary spreads connections over the workers.
    for (let i = 0; i < 6; i++) {
      const client = createCheckClient(`127.0.0.1:${grpcPort()}`);
      expect((await client.check({ path: '/x' })).reason).toBe('ERR_TOKEN_MISSING');
      client.close();
    }
    const metrics = await (await fetch(`http://127.0.0.1:${adminPort()}/metrics`)).text();
    expect(metrics).toContain(
      'claimgate_checks_total{decision="deny",reason="ERR_TOKEN_MISSING",issuer="",route="(unmatched)"} 6',
    );
    expect(metrics).toMatch(/^claimgate_ready 1$/m);
    const status = (await (await fetch(`http://127.0.0.1:${adminPort()}/status`)).json()) as {
      ready: boolean;
      workers: unknown[];
    };
    expect(status.ready).toBe(true);
    expect(status.workers).toHaveLength(2);
    expect((await fetch(`http://127.0.0.1:${adminPort()}/readyz`)).status).toBe(200);
  });

  it('forwards SIGHUP to every worker, which reload the changed file', async () => {
    writeFileSync(configFile, configText.replace('unmatched: authenticated', 'unmatched: deny'));
    child.kill('SIGHUP');
    await waitForLogs(() => count('config reloaded') === 2, 'both workers reloaded');
    const client = createCheckClient(`127.0.0.1:${grpcPort()}`);
    expect((await client.check({ path: '/x' })).reason).toBe('ERR_ROUTE_NOT_FOUND');
    client.close();
  });

  /** /readyz answers, every 50 ms, until `until` holds (bounded in time: at most 15 s). */
  const probeReadiness = async (until: () => boolean, what: string): Promise<number[]> => {
    const answers: number[] = [];
    await waitFor(
      async () => {
        if (until()) return true;
        answers.push((await fetch(`http://127.0.0.1:${adminPort()}/readyz`)).status);
        return false;
      },
      { what, intervalMs: 50, timeoutMs: 15000, context: () => `readyz answers: ${answers.join(' ')}` },
    );
    return answers;
  };

  it('replaces a worker that dies, and stays ready while the other one serves', async () => {
    const victim = lines.find((l) => l.msg === 'claimgate listening')!.pid;
    process.kill(victim, 'SIGKILL');
    const answers = await probeReadiness(
      () => count('claimgate listening') === 3 && count('ready: signing keys available') >= 3,
      'the replacement worker ready',
    );
    expect(count('worker exited; starting a replacement')).toBe(1);
    // The replacement starts after a 1 s delay, so the probes covered the time with one worker.
    expect(answers.length).toBeGreaterThanOrEqual(10);
    expect(answers.filter((s) => s !== 200)).toEqual([]);
    const client = createCheckClient(`127.0.0.1:${grpcPort()}`);
    expect((await client.check({ path: '/x' })).reason).toBe('ERR_ROUTE_NOT_FOUND');
    client.close();
  });

  it('is not ready while no worker serves, and ready again once the replacements serve', async () => {
    const pids = [...new Set(lines.filter((l) => l.msg === 'claimgate listening').map((l) => l.pid))].slice(-2);
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    const answers = await probeReadiness(() => count('claimgate listening') === 5, 'both replacements listening');
    // Between the deaths and the replacements (started after 1 s), nothing serves: 503.
    expect(answers).toContain(503);
    await waitForLogs(() => count('ready: signing keys available') >= 5, 'both replacements ready');
    expect((await fetch(`http://127.0.0.1:${adminPort()}/readyz`)).status).toBe(200);
  });

  it('drains every worker on SIGTERM and exits 0', async () => {
    const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(count('stopped')).toBe(3); // the primary and its two current workers
  });
});
