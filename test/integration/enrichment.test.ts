/**
 * Enrichment against a loopback service shaped like Auth0's Management API: claimgate obtains its own
 * M2M token (client credentials), looks up the user's roles at /api/v2/users/{id}/roles, and the roles
 * drive a route's `role` requirement. claimgate's clock is injected: token renewal is tested without
 * waiting.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCheckClient } from '../../src/cli/check-client.js';
import { validateConfig } from '../../src/validation/load.js';
import { AUTH0_LIKE_AUDIENCE, startAuth0LikeIdp, type Auth0LikeIdp } from '../support/auth0-like-idp.js';
import { MANAGEMENT_CLIENT_ID, startManagementApi, type ManagementApi } from '../support/auth0-management-api.js';
import { HOST, REALM, ROUTES } from './harness.js';
import { startSettledGate } from '../support/gate.js';

const USER = 'auth0|5f7c8ec7c33c6c004bbafe82';
let idp: Auth0LikeIdp;
let api: ManagementApi;
let secretFile: string;

beforeAll(async () => {
  [idp, api] = await Promise.all([startAuth0LikeIdp(), startManagementApi()]);
  secretFile = join(mkdtempSync(join(tmpdir(), 'claimgate-enrich-')), 'm2m.secret');
  writeFileSync(secretFile, api.clientSecret);
});
afterAll(async () => {
  await Promise.all([idp?.close(), api?.close()]);
});

async function startGate(enrichment: Record<string, unknown> = {}) {
  const config = validateConfig({
    server: {
      grpc_address: '127.0.0.1:0',
      admin_address: '127.0.0.1:0',
      shutdown_grace_ms: 500,
      check_deadline_ms: 2000,
    },
    logging: { level: 'silent' },
    realm: REALM,
    issuers: [
      {
        name: 'auth0',
        issuer: idp.issuer,
        audiences: [AUTH0_LIKE_AUDIENCE],
        profile: 'auth0',
        allow_insecure_http: true,
      },
    ],
    routes: ROUTES,
    enrichment: [
      {
        name: 'auth0-roles',
        url: `${api.baseUrl}/api/v2/users/{subject}/roles`,
        allow_insecure_http: true,
        client_credentials: {
          token_url: `${api.baseUrl}/oauth/token`,
          client_id: MANAGEMENT_CLIENT_ID,
          auth_method: 'client_secret_post',
          client_secret_file: secretFile,
          audience: api.audience,
          renew_before_seconds: 300,
        },
        map: [{ field: 'roles', item: 'name' }],
        cache_ttl_seconds: 0,
        ...enrichment,
      },
    ],
    upstream: { headers: [{ name: 'x-auth-roles', principal: 'roles' }] },
  });
  let offsetMs = 0;
  const gate = await startSettledGate(config, { nowMs: () => Date.now() + offsetMs });
  const grpc = createCheckClient(`127.0.0.1:${gate.grpcPort}`);
  return {
    gate,
    advanceClock: (ms: number) => void (offsetMs += ms),
    check: (token: string, path: string) => grpc.check({ host: HOST, path, token }),
    async close() {
      grpc.close();
      await gate.close(200);
    },
  };
}

describe('enrichment from an Auth0-Management-API-shaped service', () => {
  test('roles from the lookup drive a role requirement and reach the identity header', async () => {
    api.roles.set(USER, ['admin', 'support']);
    api.roles.set('auth0|nobody-special', ['viewer']);
    const gate = await startGate();
    try {
      const admin = await idp.mint({ sub: USER, roles: [] });
      const answer = await gate.check(admin, '/admin/users');
      expect(answer.kind).toBe('allow');
      expect(answer.headers['x-auth-roles']).toBe('admin,support');
      const viewer = await idp.mint({ sub: 'auth0|nobody-special', roles: [] });
      expect((await gate.check(viewer, '/admin/users')).reason).toBe('ERR_ROLE_MISSING');
      // A user the API does not know has no roles to add.
      const unknown = await idp.mint({ sub: 'auth0|unknown', roles: [] });
      expect((await gate.check(unknown, '/admin/users')).reason).toBe('ERR_ROLE_MISSING');
    } finally {
      await gate.close();
    }
  });

  test('a subject is one path segment: `|` and `/` are encoded, `..` is never sent', async () => {
    api.roles.set('auth0|a/b', ['admin']);
    const gate = await startGate();
    try {
      expect((await gate.check(await idp.mint({ sub: 'auth0|a/b', roles: [] }), '/admin/x')).kind).toBe('allow');
      const before = api.roleLookups();
      const climbing = await gate.check(await idp.mint({ sub: '..', roles: [] }), '/admin/x');
      expect(climbing.reason).toBe('ERR_ENRICHMENT_UNAVAILABLE');
      expect(api.roleLookups()).toBe(before);
    } finally {
      await gate.close();
    }
  });

  test('the M2M token is fetched once and reused until shortly before it expires', async () => {
    api.roles.set(USER, ['admin']);
    const gate = await startGate();
    try {
      // The user's token outlives the whole test clock (claimgate checks its exp on the injected clock).
      const token = await idp.mint({ sub: USER, roles: [], ttlSeconds: 200_000 });
      const issuedBefore = api.tokensIssued();
      const lookupsBefore = api.roleLookups();
      for (let i = 0; i < 5; i++) expect((await gate.check(token, '/admin/x')).kind).toBe('allow');
      await Promise.all(Array.from({ length: 50 }, () => gate.check(token, '/admin/x')));
      expect(api.tokensIssued() - issuedBefore).toBe(1);
      expect(api.roleLookups() - lookupsBefore).toBeGreaterThanOrEqual(6);
      // 86,400 s tokens, renewed 300 s before expiry: still reused at +86,000 s ...
      gate.advanceClock(86_000_000);
      expect((await gate.check(token, '/admin/x')).kind).toBe('allow');
      expect(api.tokensIssued() - issuedBefore).toBe(1);
      // ... and renewed once past 86,100 s, then reused again.
      gate.advanceClock(200_000);
      expect((await gate.check(token, '/admin/x')).kind).toBe('allow');
      expect((await gate.check(token, '/admin/x')).kind).toBe('allow');
      expect(api.tokensIssued() - issuedBefore).toBe(2);
    } finally {
      await gate.close();
    }
  });

  test('while renewal fails, the held M2M token serves until it actually expires; then error answers', async () => {
    api.roles.set(USER, ['admin']);
    const gate = await startGate();
    try {
      const token = await idp.mint({ sub: USER, roles: [], ttlSeconds: 200_000 });
      expect((await gate.check(token, '/admin/x')).kind).toBe('allow');
      api.setTokenEndpointDown(true);
      gate.advanceClock(86_200_000); // past the renewal point (86,100 s), before expiry (86,400 s)
      expect((await gate.check(token, '/admin/x')).kind).toBe('allow');
      gate.advanceClock(300_000); // past expiry
      expect((await gate.check(token, '/admin/x')).reason).toBe('ERR_ENRICHMENT_UNAVAILABLE');
      api.setTokenEndpointDown(false);
      expect((await gate.check(token, '/admin/x')).kind).toBe('allow');
    } finally {
      api.setTokenEndpointDown(false);
      await gate.close();
    }
  });

  test('the service down: error answers (503), not 401', async () => {
    api.roles.set(USER, ['admin']);
    const gate = await startGate();
    try {
      const token = await idp.mint({ sub: USER, roles: [] });
      expect((await gate.check(token, '/admin/x')).kind).toBe('allow');
      await api.stop();
      for (const path of ['/admin/x', '/orders/1']) {
        const answer = await gate.check(token, path);
        expect({ kind: answer.kind, status: answer.httpStatus, reason: answer.reason }).toEqual({
          kind: 'error',
          status: 503,
          reason: 'ERR_ENRICHMENT_UNAVAILABLE',
        });
      }
    } finally {
      await api.restart();
      await gate.close();
    }
  });

  test('cached roles answer repeat Checks without a lookup (cache per subject)', async () => {
    api.roles.set(USER, ['admin']);
    const gate = await startGate({ cache_ttl_seconds: 60 });
    try {
      const token = await idp.mint({ sub: USER, roles: [] });
      const before = api.roleLookups();
      for (let i = 0; i < 10; i++) expect((await gate.check(token, '/admin/x')).kind).toBe('allow');
      expect(api.roleLookups() - before).toBe(1);
      gate.advanceClock(61_000);
      const fresh = await idp.mint({ sub: USER, roles: [] });
      await gate.check(fresh, '/admin/x');
      expect(api.roleLookups() - before).toBe(2);
    } finally {
      await gate.close();
    }
  });
});
