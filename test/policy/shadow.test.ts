/**
 * Shadow rules through the running server: a candidate requirement that would deny one of three token
 * kinds changes no answer (gRPC and HTTP forward-auth doors), and exactly the expected disagreements
 * reach the log and the metric. Whole-config shadow mode allows what the policy refuses, without
 * identity, and still refuses what protects the upstream's reading of the request.
 */
import { request as httpRequest } from 'node:http';
import { startClaimgate, type Claimgate } from '../../src/app.js';
import { createCheckClient, type CheckClient } from '../../src/cli/check-client.js';
import { validateConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { ISSUER_CONFIG, token } from './policy-harness.js';

class Capture {
  readonly lines: Record<string, unknown>[] = [];
  write(chunk: string): void {
    for (const line of chunk.split('\n')) if (line !== '') this.lines.push(JSON.parse(line) as Record<string, unknown>);
  }
  withMessage(msg: string) {
    return this.lines.filter((l) => l.msg === msg);
  }
}

function config(extra: Record<string, unknown>) {
  return validateConfig({
    server: { grpc_address: '127.0.0.1:0', admin_address: '127.0.0.1:0', shutdown_grace_ms: 200, watch_config: false },
    http: { address: '127.0.0.1:0' },
    issuers: [ISSUER_CONFIG],
    upstream: { headers: [{ name: 'x-user-id', claim: 'sub' }], strip_token: true },
    ...extra,
  });
}

interface Running {
  gate: Claimgate;
  client: CheckClient;
  capture: Capture;
}
const running: Running[] = [];
async function start(extra: Record<string, unknown>): Promise<Running> {
  const capture = new Capture();
  const gate = await startClaimgate(config(extra), { logger: createLogger('info', capture) });
  await gate.whenSettled();
  const run = { gate, client: createCheckClient(`127.0.0.1:${gate.grpcPort}`), capture };
  running.push(run);
  return run;
}
afterAll(async () => {
  for (const r of running) {
    r.client.close();
    await r.gate.close(100);
  }
});

/** The forward-auth door (nginx/Traefik/Caddy style) over loopback: status and response headers. */
function forwardAuth(port: number, path: string, headers: Record<string, string>) {
  return new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/auth',
        headers: {
          'x-forwarded-method': 'GET',
          'x-forwarded-uri': path,
          'x-forwarded-host': 'api.example.com',
          ...headers,
        },
        timeout: 5000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('shadow rules per route', () => {
  it('allows all three token kinds and logs and counts exactly the one disagreement kind', async () => {
    const run = await start({
      routes: [
        {
          name: 'orders',
          match: { path: { prefix: '/orders' } },
          require: { scope: 'orders:read' },
          // Candidate: also require MFA. Tokens without `amr: [mfa]` would be refused.
          shadow: { require: { all: [{ scope: 'orders:read' }, { cel: 'claims.amr.exists(m, m == "mfa")' }] } },
        },
      ],
    });
    const kinds = {
      mfa: await token({ scope: 'orders:read', amr: ['pwd', 'mfa'] }),
      sso: await token({ scope: 'orders:read', amr: ['fed'] }),
      mfa2: await token({ scope: 'orders:read orders:write', amr: ['mfa'] }),
    };
    for (const t of Object.values(kinds)) {
      const grpc = await run.client.check({ path: '/orders/1', token: t });
      expect(grpc).toMatchObject({ kind: 'allow', headers: { 'x-user-id': 'alice' } });
      const http = await forwardAuth(run.gate.httpPort as number, '/orders/1', { authorization: `Bearer ${t}` });
      expect(http).toMatchObject({ status: 200, headers: { 'x-user-id': 'alice' } });
    }
    // One kind (sso), asked twice (gRPC and HTTP): two lines, the same in every field.
    const lines = run.capture.withMessage('shadow disagreement');
    expect(lines).toHaveLength(2);
    for (const line of lines)
      expect(line).toMatchObject({
        route: 'orders',
        issuer: 'idp',
        enforced: 'allow',
        enforced_reason: 'OK_AUTHENTICATED',
        candidate: 'deny',
        candidate_reason: 'ERR_CEL_CONDITION_FAILED',
        requirement: 'all[1].cel',
      });
    expect(JSON.stringify(lines)).not.toContain(kinds.sso);
    const metrics = await run.gate.metrics.registry.getSingleMetricAsString('claimgate_shadow_disagreements_total');
    const samples = metrics.split('\n').filter((l) => l.startsWith('claimgate_shadow_disagreements_total{'));
    expect(samples).toEqual([
      'claimgate_shadow_disagreements_total{route="orders",issuer="idp",enforced="allow",candidate="deny"} 2',
    ]);
    // The decision lines are the enforced answers.
    expect(run.capture.withMessage('decision').map((d) => d.reason)).toEqual(Array(6).fill('OK_AUTHENTICATED'));
  });

  it('refuses a shadow rule on a public route', () => {
    expect(() => config({ routes: [{ name: 'p', public: true, shadow: { require: { scope: 'x' } } }] })).toThrow(
      /routes\[0\]\.shadow: a public route verifies no token/,
    );
  });
});

describe('whole-config shadow mode', () => {
  let run: Running;
  beforeAll(async () => {
    run = await start({
      shadow_mode: true,
      routes: [{ name: 'admin', match: { path: { prefix: '/admin' } }, require: { role: 'admin' } }],
    });
  });

  it('is off by default', () => {
    expect(config({}).shadow_mode).toBe(false);
  });

  it('says so loudly at start', () => {
    const warnings = run.capture.lines.filter((l) => l.level === 'warn' && /SHADOW MODE IS ON/.test(String(l.msg)));
    expect(warnings).toHaveLength(1);
  });

  it('allows what the policy refuses, forwarding no identity, and logs what it would have answered', async () => {
    const cases = [
      { path: '/admin/x', token: await token({ roles: ['viewer'] }), wouldDeny: 'ERR_ROLE_MISSING' },
      { path: '/admin/x', token: undefined, wouldDeny: 'ERR_TOKEN_MISSING' },
      { path: '/admin/x', token: 'not.a.jwt', wouldDeny: 'ERR_TOKEN_MALFORMED' },
      { path: '/elsewhere', token: await token({ roles: ['admin'] }), wouldDeny: 'ERR_ROUTE_NOT_FOUND' },
    ];
    for (const c of cases) {
      const r = await run.client.check({ path: c.path, token: c.token, headers: { 'x-user-id': 'mallory' } });
      expect(r).toMatchObject({ kind: 'allow', headers: {} });
      expect(r.headersToRemove).toEqual(expect.arrayContaining(['x-user-id', 'authorization']));
    }
    const lines = run.capture.withMessage('decision').slice(-cases.length);
    expect(lines.map((l) => [l.reason, l.would_deny])).toEqual(cases.map((c) => ['OK_SHADOW_MODE', c.wouldDeny]));
  });

  it('still forwards the identity of a token the policy allows', async () => {
    const r = await run.client.check({ path: '/admin/x', token: await token({ roles: ['admin'] }) });
    expect(r).toMatchObject({ kind: 'allow', headers: { 'x-user-id': 'alice' } });
  });

  it('still refuses a header spelled to read as an owned identity header', async () => {
    const r = await run.client.check({ path: '/admin/x', headers: { x_user_id: 'mallory' } });
    expect(r).toMatchObject({ kind: 'deny', reason: 'ERR_HEADER_NAME_AMBIGUOUS' });
  });
});
