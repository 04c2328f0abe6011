/**
 * Three partners, each a real OpenID provider on loopback. Partner A issues RFC 9068 tokens through
 * its token endpoint; partner B's provider signs Keycloak-shaped access tokens (typ JWT, realm and
 * client roles) with its published key; partner C's provider is down from start-up.
 *
 * One route table and one principal header mapping serve A and B alike; C's outage does not take the
 * replica out (readiness `required_issuers`, the default): /readyz and gRPC health stay SERVING and
 * C's tokens get 503 ERR_JWKS_UNAVAILABLE.
 */
import { validateConfig } from '../../src/validation/load.js';
import { healthStatus } from '../support/grpc-health.js';
import { DEFAULT_AUDIENCE, startOidcProvider, type OidcProviderIdp } from '../support/oidc-provider.js';
import { HOST, REALM, startGate, type RunningGate } from './harness.js';

const KEYCLOAK_AUDIENCE = 'orders-api';

let a: OidcProviderIdp;
let b: OidcProviderIdp;
let c: OidcProviderIdp;
let tokenOfC: string;
let gate: RunningGate;

const HEADERS = [
  { name: 'x-user-key', principal: 'qualified_subject' },
  { name: 'x-user-issuer', principal: 'issuer' },
  { name: 'x-user-scopes', principal: 'scopes' },
  { name: 'x-user-roles', principal: 'roles' },
  { name: 'x-user-client', principal: 'client_id' },
];

function config(readiness?: string, required: Partial<Record<'a' | 'b' | 'c', boolean>> = {}) {
  return validateConfig(
    {
      server: {
        grpc_address: '127.0.0.1:0',
        admin_address: '127.0.0.1:0',
        shutdown_grace_ms: 1000,
        ...(readiness === undefined ? {} : { readiness }),
      },
      logging: { level: 'silent' },
      realm: REALM,
      issuers: [
        { name: 'partner-a', issuer: a.issuer, audiences: [DEFAULT_AUDIENCE], required: required.a ?? false },
        {
          name: 'partner-b',
          profile: 'keycloak',
          issuer: b.issuer,
          audiences: [KEYCLOAK_AUDIENCE],
          required: required.b ?? false,
        },
        { name: 'partner-c', issuer: c.issuer, audiences: [DEFAULT_AUDIENCE], required: required.c ?? false },
      ].map((i) => ({ allow_insecure_http: true, ...i })),
      routes: [{ name: 'orders', match: { path: { prefix: '/orders' } }, require: { scope: 'orders:read' } }],
      unmatched: 'deny',
      upstream: { headers: HEADERS },
    },
    'partners-test',
  );
}

/** A Keycloak-shaped access token for the same person, signed by partner B's provider. */
function keycloakToken(): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return b.sign(
    {
      iss: b.issuer,
      aud: [KEYCLOAK_AUDIENCE, 'account'],
      sub: '36fa0f91-f94d-4a0c-afed-6b7d952e47da',
      typ: 'Bearer',
      azp: 'web-app',
      iat: now,
      exp: now + 300,
      jti: 'kc-1',
      scope: 'openid orders:read',
      realm_access: { roles: ['offline_access'] },
      resource_access: { [KEYCLOAK_AUDIENCE]: { roles: ['admin'] } },
    },
    { typ: 'JWT' },
  );
}

beforeAll(async () => {
  [a, b, c] = await Promise.all([startOidcProvider(), startOidcProvider(), startOidcProvider()]);
  tokenOfC = await c.mintClientCredentialsToken('orders:read');
  await c.stop(); // partner C's IdP refuses connections from before claimgate starts
  gate = await startGate(config());
});

afterAll(async () => {
  await gate?.close();
  await Promise.all([a?.close(), b?.close(), c?.close()]);
});

const read = { method: 'GET', path: '/orders/7', host: HOST } as const;

describe('three partners, one IdP down from start-up', () => {
  test('/readyz and gRPC health stay SERVING by default', async () => {
    expect(gate.gate.ready()).toBe(true);
    const res = await fetch(`http://127.0.0.1:${gate.gate.adminPort}/readyz`);
    expect(res.status).toBe(200);
    expect(await healthStatus(gate.gate.grpcPort)).toBe('SERVING');
  });

  test('the two other partners are served through the same rules and headers', async () => {
    const fromA = await gate.check({ ...read, token: await a.mintClientCredentialsToken('orders:read') });
    const fromB = await gate.check({ ...read, token: await keycloakToken() });
    expect([fromA.kind, fromB.kind]).toEqual(['allow', 'allow']);
    expect(fromA.headers['x-user-issuer']).toBe('partner-a');
    expect(fromA.headers['x-user-scopes']).toBe('orders:read');
    expect(fromA.headers['x-user-key']).toBe(`partner-a|${a.clientId}`);
    expect(fromB.headers['x-user-issuer']).toBe('partner-b');
    expect(fromB.headers['x-user-scopes']!.split(',')).toContain('orders:read');
    expect(fromB.headers['x-user-roles']).toBe('offline_access,admin');
    expect(fromB.headers['x-user-client']).toBe('web-app');
    expect(fromB.headers['x-user-key']).toBe('partner-b|36fa0f91-f94d-4a0c-afed-6b7d952e47da');
  });

  test('the partner whose IdP is down gets 503 ERR_JWKS_UNAVAILABLE, never a 401', async () => {
    const answer = await gate.check({ ...read, token: tokenOfC });
    expect({ kind: answer.kind, status: answer.httpStatus, reason: answer.reason }).toEqual({
      kind: 'error',
      status: 503,
      reason: 'ERR_JWKS_UNAVAILABLE',
    });
  });

  test('marking that partner required, or readiness all_issuers, takes the replica out', async () => {
    for (const [readiness, required] of [
      [undefined, { c: true }],
      ['all_issuers', {}],
    ] as const) {
      const strict = await startGate(config(readiness, required));
      try {
        expect(strict.gate.ready()).toBe(false);
        expect((await fetch(`http://127.0.0.1:${strict.gate.adminPort}/readyz`)).status).toBe(503);
        expect(await healthStatus(strict.gate.grpcPort)).toBe('NOT_SERVING');
      } finally {
        await strict.close();
      }
    }
  });
});
