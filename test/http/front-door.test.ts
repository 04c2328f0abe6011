/**
 * The HTTP front doors in process, over real loopback HTTP, with claimgate and a real OpenID provider
 * (oidc-provider). Envoy HTTP service mode has no binary here, so its contract is proven at the
 * wire: what Envoy's `http_service` sends (original method, Host and path under the prefix) and
 * what it reads back (200 + identity headers + `x-envoy-auth-headers-to-remove`; any other status
 * is a denial; 5xx an error). Forward-auth parsing (trust, missing, duplicated, conflicting headers)
 * is covered here too; the real proxies are in proxies.test.ts.
 */
import type { Claimgate } from '../../src/app/claimgate.js';
import { createCheckClient, type CheckClient } from '../../src/cli/check-client.js';
import type { Decide } from '../../src/engine/decide.js';
import {
  frontDoorOptionsFromConfig,
  MAX_BODY_BYTES,
  startHttpFrontDoor,
  type HttpFrontDoor,
} from '../../src/http/server.js';
import { PROBLEMS } from '../../src/http/request.js';
import { DEFAULT_AUDIENCE, startOidcProvider, type OidcProviderIdp } from '../support/oidc-provider.js';
import { challenge, frontDoorConfig, HOST, OWNED, REALM, send, type Reply } from './support.js';
import { startSettledGate } from '../support/gate.js';

let op: OidcProviderIdp;
let down: OidcProviderIdp;
let gate: Claimgate;
let door: HttpFrontDoor;
let grpc: CheckClient;
let readToken: string;
let downToken: string;
let deciderCalls = 0;

beforeAll(async () => {
  [op, down] = await Promise.all([startOidcProvider(), startOidcProvider()]);
  readToken = await op.mintClientCredentialsToken('orders:read');
  downToken = await down.mintClientCredentialsToken('orders:read');
  await down.stop(); // its IdP is down when claimgate starts
  const config = frontDoorConfig([
    { name: 'op', issuer: op.issuer, audiences: [DEFAULT_AUDIENCE] },
    { name: 'down', issuer: down.issuer, audiences: [DEFAULT_AUDIENCE] },
  ]);
  gate = await startSettledGate(config);
  const http = config.http;
  if (http === undefined) throw new Error('the http block is missing from the validated config');
  door = await startHttpFrontDoor(
    frontDoorOptionsFromConfig(http, {
      realm: config.realm,
      decider: () => {
        deciderCalls++;
        return gate.decider();
      },
    }),
  );
  grpc = createCheckClient(`127.0.0.1:${gate.grpcPort}`);
});

afterAll(async () => {
  grpc?.close();
  await door?.close(200);
  await gate?.close(200);
  await Promise.all([op?.close(), down?.close()]);
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const spoofed = Object.fromEntries(OWNED.map((h) => [h, 'spoofed-by-client']));

function expectDenial(reply: Reply, status: number, reason: string): void {
  expect({ status: reply.status, reason: reply.headers['x-claimgate-reason'] }).toEqual({ status, reason });
  expect(reply.headers['content-type']).toBe('application/problem+json');
  expect(reply.headers['cache-control']).toBe('no-store');
  expect(JSON.parse(reply.body)).toMatchObject({ status, code: reason });
  for (const h of OWNED) expect(reply.headers[h]).toBeUndefined();
}

/** The token never appears in an answer. */
function expectNoEcho(reply: Reply, token: string): void {
  const text = JSON.stringify(reply.headers) + reply.body;
  for (const segment of token.split('.')) expect(text).not.toContain(segment);
}

const removals = (reply: Reply): string[] =>
  String(reply.headers['x-envoy-auth-headers-to-remove'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .sort();

describe('Envoy HTTP service mode (path prefix /envoy)', () => {
  test('allow: 200 with identity headers set from the token; unset owned headers and the token header listed for removal, set ones never', async () => {
    const reply = await send(door.port, {
      path: '/envoy/orders/42?expand=items',
      headers: { host: `${HOST}:8443`, ...bearer(readToken), ...spoofed },
    });
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('');
    expect(reply.headers['x-auth-sub']).toBe(op.clientId);
    expect(reply.headers['x-auth-client']).toBe(op.clientId);
    expect(reply.headers['x-auth-scope']).toBe('orders:read');
    expect(reply.headers['x-auth-roles']).toBeUndefined();
    // Envoy applies removals after setting, so a set header must never be listed (it would be lost).
    expect(removals(reply)).toEqual(['authorization', 'x-auth-roles']);
    expect(reply.headers['x-claimgate-reason']).toBe('OK_AUTHENTICATED');
  });

  test('public route: nothing set, every owned header listed for removal (client copies never reach the upstream)', async () => {
    const reply = await send(door.port, { path: '/envoy/healthz', headers: { host: HOST, ...spoofed } });
    expect(reply.status).toBe(200);
    for (const h of OWNED) expect(reply.headers[h]).toBeUndefined();
    // Every owned name (and, with strip_token, whatever else the engine lists) is removed.
    expect(removals(reply)).toEqual(expect.arrayContaining(OWNED));
  });

  test('no token → 401 with a bare Bearer challenge and the problem body', async () => {
    const reply = await send(door.port, { path: '/envoy/orders/1', headers: { host: HOST, ...spoofed } });
    expectDenial(reply, 401, 'ERR_TOKEN_MISSING');
    expect(challenge(reply.headers['www-authenticate'])).toEqual({ realm: REALM });
  });

  test('bad token (flipped signature) → 401 invalid_token; the token is not echoed', async () => {
    const [h, p, s = ''] = readToken.split('.');
    const sig = Buffer.from(s, 'base64url');
    sig[10] = (sig[10] ?? 0) ^ 1;
    const bad = `${h}.${p}.${sig.toString('base64url')}`;
    const reply = await send(door.port, { path: '/envoy/orders/1', headers: { host: HOST, ...bearer(bad) } });
    expectDenial(reply, 401, 'ERR_SIGNATURE_INVALID');
    expect(challenge(reply.headers['www-authenticate'])).toMatchObject({ realm: REALM, error: 'invalid_token' });
    expectNoEcho(reply, bad);
  });

  test('missing scope → 403 insufficient_scope naming the scope', async () => {
    const reply = await send(door.port, { path: '/envoy/admin/users', headers: { host: HOST, ...bearer(readToken) } });
    expectDenial(reply, 403, 'ERR_INSUFFICIENT_SCOPE');
    expect(challenge(reply.headers['www-authenticate'])).toMatchObject({ error: 'insufficient_scope', scope: 'admin' });
  });

  test('IdP outage → 503 ERR_JWKS_UNAVAILABLE without a challenge (Envoy treats any 5xx as an authorization error)', async () => {
    const reply = await send(door.port, { path: '/envoy/orders/1', headers: { host: HOST, ...bearer(downToken) } });
    expectDenial(reply, 503, 'ERR_JWKS_UNAVAILABLE');
    expect(reply.headers['www-authenticate']).toBeUndefined();
  });

  test('the original method is the request method (POST needs orders:write); HEAD gets the same status without a body', async () => {
    expectDenial(
      await send(door.port, { method: 'POST', path: '/envoy/orders', headers: { host: HOST, ...bearer(readToken) } }),
      403,
      'ERR_INSUFFICIENT_SCOPE',
    );
    const head = await send(door.port, {
      method: 'HEAD',
      path: '/envoy/orders/7',
      headers: { host: HOST, ...bearer(readToken) },
    });
    expect(head.status).toBe(200);
    expect(head.headers['x-auth-sub']).toBe(op.clientId);
  });

  test('forwarded headers are never read in Envoy mode: X-Forwarded-Uri cannot turn /admin into the public /healthz', async () => {
    const reply = await send(door.port, {
      path: '/envoy/admin',
      headers: {
        host: HOST,
        'x-forwarded-uri': '/healthz',
        'x-original-uri': '/healthz',
        'x-forwarded-host': 'other.example.com',
      },
    });
    expectDenial(reply, 401, 'ERR_TOKEN_MISSING');
  });

  test("path checks are the engine's: an encoded traversal under the prefix is refused, not matched", async () => {
    expectDenial(
      await send(door.port, { path: '/envoy/healthz/..%2fadmin', headers: { host: HOST } }),
      400,
      'ERR_PATH_INVALID',
    );
  });

  test('two Authorization headers → 400 invalid_request (never merged)', async () => {
    expectDenial(
      await send(door.port, {
        path: '/envoy/orders/1',
        headers: { host: HOST, authorization: [`Bearer ${readToken}`, `Bearer ${readToken}`] },
      }),
      400,
      'ERR_MULTIPLE_TOKENS',
    );
  });

  test('same decision as the gRPC service for the same request (one engine, no second copy of a rule)', async () => {
    const cases = [
      { method: 'GET', path: '/orders/9', token: readToken },
      { method: 'GET', path: '/orders/9', token: undefined },
      { method: 'POST', path: '/orders', token: readToken },
      { method: 'GET', path: '/healthz', token: undefined },
      { method: 'GET', path: '/nowhere', token: readToken },
      { method: 'GET', path: '/orders/9', token: downToken },
    ];
    for (const c of cases) {
      const viaGrpc = await grpc.check({
        host: HOST,
        method: c.method,
        path: c.path,
        ...(c.token ? { token: c.token } : {}),
      });
      const viaHttp = await send(door.port, {
        method: c.method,
        path: `/envoy${c.path}`,
        headers: { host: HOST, ...(c.token ? bearer(c.token) : {}) },
      });
      const reason = viaGrpc.kind === 'allow' ? viaHttp.headers['x-claimgate-reason'] : viaGrpc.reason;
      expect([c.path, viaHttp.status, viaHttp.headers['x-claimgate-reason']]).toEqual([
        c.path,
        viaGrpc.httpStatus,
        reason,
      ]);
      expect(viaHttp.headers['www-authenticate']).toBe(viaGrpc.headers['www-authenticate']);
    }
  });
});

const forwarded = (uri: string, method = 'GET') => ({
  'x-forwarded-method': method,
  'x-forwarded-uri': uri,
  'x-forwarded-host': HOST,
  'x-forwarded-proto': 'https',
});

describe('forward-auth endpoint (/auth)', () => {
  test('allow: 200 with identity headers for the proxy to copy; no Envoy removal list', async () => {
    const reply = await send(door.port, {
      path: '/auth',
      headers: { host: '127.0.0.1:9002', ...forwarded('/orders/5?x=1'), ...bearer(readToken) },
    });
    expect(reply.status).toBe(200);
    expect(reply.headers['x-auth-sub']).toBe(op.clientId);
    expect(reply.headers['x-auth-scope']).toBe('orders:read');
    expect(reply.headers['x-envoy-auth-headers-to-remove']).toBeUndefined();
  });

  test('the described request decides, not the auth request: method, host and path come from forwarded headers', async () => {
    expectDenial(
      await send(door.port, {
        method: 'GET',
        path: '/auth',
        headers: { ...forwarded('/orders', 'POST'), ...bearer(readToken) },
      }),
      403,
      'ERR_INSUFFICIENT_SCOPE',
    );
    expectDenial(
      await send(door.port, {
        path: '/auth',
        headers: { ...forwarded('/orders/1'), 'x-forwarded-host': 'other.example.com', ...bearer(readToken) },
      }),
      403,
      'ERR_ROUTE_NOT_FOUND',
    );
    expectDenial(await send(door.port, { path: '/auth', headers: forwarded('/orders/1') }), 401, 'ERR_TOKEN_MISSING');
  });

  test('nginx style X-Original-URI / X-Original-Method work alone, and agree-or-refuse with X-Forwarded-*', async () => {
    const nginx = { 'x-original-method': 'GET', 'x-original-uri': '/orders/3', 'x-forwarded-host': HOST };
    expect((await send(door.port, { path: '/auth', headers: { ...nginx, ...bearer(readToken) } })).status).toBe(200);
    expect(
      (
        await send(door.port, {
          path: '/auth',
          headers: { ...nginx, 'x-forwarded-uri': '/orders/3', ...bearer(readToken) },
        })
      ).status,
    ).toBe(200);
    const conflict = await send(door.port, { path: '/auth', headers: { ...nginx, 'x-forwarded-uri': '/healthz' } });
    expectDenial(conflict, 400, 'ERR_REQUEST_MALFORMED');
    expect(conflict.headers['x-claimgate-detail']).toBe(PROBLEMS.conflicting);
    expect(challenge(conflict.headers['www-authenticate'])).toMatchObject({ realm: REALM, error: 'invalid_request' });
  });

  test.each([
    ['method', { 'x-forwarded-uri': '/healthz', 'x-forwarded-host': HOST }, PROBLEMS.missingMethod],
    ['uri', { 'x-forwarded-method': 'GET', 'x-forwarded-host': HOST }, PROBLEMS.missingUri],
    ['host', { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/healthz' }, PROBLEMS.missingHost],
  ])(
    'missing forwarded %s → 400 invalid_request, never an allow (even for a public path)',
    async (_what, headers, problem) => {
      const reply = await send(door.port, { path: '/auth', headers });
      expectDenial(reply, 400, 'ERR_REQUEST_MALFORMED');
      expect(reply.headers['x-claimgate-detail']).toBe(problem);
    },
  );

  test.each([
    ['x-forwarded-uri'],
    ['x-original-uri'],
    ['x-forwarded-method'],
    ['x-forwarded-host'],
    ['x-forwarded-proto'],
  ])('duplicated %s → 400', async (name) => {
    const base: Record<string, string | string[]> = { ...forwarded('/healthz') };
    const first = base[name] ?? '/healthz';
    base[name] = [String(first), name.endsWith('uri') ? '/admin' : String(first)];
    const reply = await send(door.port, { path: '/auth', headers: base });
    expectDenial(reply, 400, 'ERR_REQUEST_MALFORMED');
    expect(reply.headers['x-claimgate-detail']).toBe(PROBLEMS.duplicated);
  });

  test('a list (or extra colons, or userinfo) in X-Forwarded-Host or Host, or a non-token method → 400', async () => {
    expectDenial(
      await send(door.port, {
        path: '/auth',
        headers: { ...forwarded('/healthz'), 'x-forwarded-host': `${HOST}, evil.example.com` },
      }),
      400,
      'ERR_HOST_INVALID',
    );
    expectDenial(
      await send(door.port, {
        path: '/auth',
        headers: { ...forwarded('/healthz'), 'x-forwarded-method': 'GET /admin' },
      }),
      400,
      'ERR_REQUEST_MALFORMED',
    );
    for (const host of [`${HOST}:1:2`, `user@${HOST}`, `${HOST}:`]) {
      expectDenial(
        await send(door.port, { path: '/auth', headers: { ...forwarded('/healthz'), 'x-forwarded-host': host } }),
        400,
        'ERR_HOST_INVALID',
      );
    }
    expectDenial(
      await send(door.port, {
        path: '/envoy/healthz',
        headers: { host: `${HOST}:1:2` },
      }),
      400,
      'ERR_HOST_INVALID',
    );
  });

  test('from a peer outside trusted_proxies the endpoint refuses, with or without forwarded headers', async () => {
    const strict = await startHttpFrontDoor({
      address: '127.0.0.1:0',
      decider: () => gate.decider(),
      trustedProxies: ['10.0.0.0/8'],
      realm: REALM,
    });
    try {
      for (const headers of [forwarded('/healthz'), {}]) {
        const reply = await send(strict.port, { path: '/auth', headers });
        expectDenial(reply, 400, 'ERR_REQUEST_MALFORMED');
        expect(reply.headers['x-claimgate-detail']).toBe(PROBLEMS.untrustedPeer);
      }
      // Envoy mode reads no forwarded headers, so it does not depend on the peer.
      expect((await send(strict.port, { path: '/envoy/healthz', headers: { host: HOST } })).status).toBe(200);
    } finally {
      await strict.close(100);
    }
  });

  test('unknown endpoint → 400 with a detail; the prefix is matched per segment', async () => {
    for (const path of ['/', '/authx', '/envoyx/healthz', '/favicon.ico']) {
      const reply = await send(door.port, { path, headers: { host: HOST } });
      expectDenial(reply, 400, 'ERR_REQUEST_MALFORMED');
      expect(reply.headers['x-claimgate-detail']).toBe(PROBLEMS.unknownEndpoint);
    }
  });
});

describe('robustness', () => {
  test('a small body is discarded and the request answered; a body over the cap is refused', async () => {
    expect(
      (
        await send(door.port, {
          method: 'POST',
          path: '/envoy/healthz',
          headers: { host: HOST },
          body: 'x'.repeat(1000),
        })
      ).status,
    ).toBe(200);
    const big = await send(door.port, {
      method: 'POST',
      path: '/envoy/healthz',
      headers: { host: HOST },
      body: 'x'.repeat(MAX_BODY_BYTES + 1),
    });
    expectDenial(big, 400, 'ERR_REQUEST_MALFORMED');
    expect(big.headers['x-claimgate-detail']).toBe(PROBLEMS.bodyTooLarge);
    expect(big.headers.connection).toBe('close');
  });

  test('more than 200 header lines → 400; a head over the size cap → 431; neither is an allow', async () => {
    const many = Object.fromEntries(Array.from({ length: 210 }, (_, i) => [`x-h${i}`, 'v']));
    const reply = await send(door.port, { path: '/envoy/healthz', headers: { host: HOST, ...many } });
    expectDenial(reply, 400, 'ERR_REQUEST_MALFORMED');
    expect(reply.headers['x-claimgate-detail']).toBe(PROBLEMS.tooManyHeaders);
    const huge = await send(door.port, {
      path: '/envoy/healthz',
      headers: { host: HOST, 'x-big': 'a'.repeat(100 * 1024) },
    });
    expect(huge.status).toBe(431);
  });

  test('a decider that throws → 500 ERR_INTERNAL error answer; the decider is read per request', async () => {
    const throwing: Decide = async () => {
      throw new TypeError('boom');
    };
    const broken = await startHttpFrontDoor({ address: '127.0.0.1:0', decider: () => throwing, realm: REALM });
    try {
      const reply = await send(broken.port, { path: '/envoy/orders/1', headers: { host: HOST, ...bearer(readToken) } });
      expectDenial(reply, 500, 'ERR_INTERNAL');
      expect(reply.body).not.toContain('boom');
    } finally {
      await broken.close(100);
    }
    const before = deciderCalls;
    await send(door.port, { path: '/envoy/healthz', headers: { host: HOST } });
    await send(door.port, { path: '/auth', headers: forwarded('/healthz') });
    expect(deciderCalls - before).toBe(2);
  });
});
