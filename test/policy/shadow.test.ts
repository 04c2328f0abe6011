/**
 * Shadow rules through the running server: a candidate requirement that would deny one of three token
 * kinds changes no answer (gRPC and HTTP forward-auth doors), and exactly the expected disagreements
 * reach the log and the metric. Whole-config shadow mode allows what the policy refuses, without
 * identity, and still refuses what protects the upstream's reading of the request.
 */
import { config, forwardAuth, start, type Running } from './server-harness.js';
import { token } from './policy-harness.js';

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
