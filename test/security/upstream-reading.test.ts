/**
 * SECURITY.md principles 16 and 18, through the real gRPC service (startClaimgate + an ext_authz
 * client over loopback): claimgate decides on what the upstream will read (header-name spellings,
 * the authority, path characters, case folding, method override), and a request carries one
 * credential at most, across every location. The nginx and Caddy samples are exercised with a
 * WSGI-style upstream in test/http/proxies.test.ts.
 */
import fc from 'fast-check';
import { startClaimgate, type Claimgate } from '../../src/app/claimgate.js';
import { createCheckClient, type CheckClient, type CheckInput, type CheckSummary } from '../../src/cli/check-client.js';
import { validateConfig } from '../../src/validation/load.js';
import { upstreamHeaderReading } from '../../src/engine/upstream-reading.js';
import type { RequestView } from '../../src/core/types.js';
import {
  buildGate,
  cleanupTmp,
  fileIssuer,
  ISS_A,
  mint,
  NOW_MS,
  rsaKey,
  upstreamReadingSetup,
  view,
} from './harness.js';

const key = rsaKey('upstream-reading');
const userToken = mint(key, { roles: ['user'] });
const adminToken = mint(key, { roles: ['admin'] });
const OWNED = ['x-auth-roles', 'x-user-id'];

let app: Claimgate;
let client: CheckClient;

beforeAll(async () => {
  const setup = upstreamReadingSetup(key);
  const config = validateConfig({
    ...setup,
    server: { grpc_address: '127.0.0.1:0', admin_address: '127.0.0.1:0', watch_config: false },
    routes: [...setup.routes, { name: 'read', match: { path: { prefix: '/orders' }, methods: ['GET', 'POST'] } }],
    unmatched: 'deny',
  });
  app = await startClaimgate(config, { nowMs: () => NOW_MS });
  await app.whenSettled();
  client = createCheckClient(`127.0.0.1:${app.grpcPort}`);
});

afterAll(async () => {
  client?.close();
  await app?.close(100);
  cleanupTmp();
});

const check = (input: CheckInput): Promise<CheckSummary> => client.check({ host: 'api.example.com', ...input });
const outcome = (s: CheckSummary) => (s.kind === 'allow' ? 'allow' : `${s.httpStatus} ${s.reason}`);

describe('P16 decide on what the upstream will read', () => {
  it('another spelling of an owned header is refused on a public route without a token, and with a token', async () => {
    for (const name of ['x_auth_roles', 'X_Auth_Roles', 'x.auth.roles', 'x-auth_roles', 'x-auth-roles_', 'x_user_id']) {
      expect([name, outcome(await check({ path: '/public/x', headers: { [name]: 'admin' } }))]).toEqual([
        name,
        '400 ERR_HEADER_NAME_AMBIGUOUS',
      ]);
      const withToken = await check({ path: '/orders/1', token: userToken, headers: { [name]: 'admin' } });
      expect([name, outcome(withToken)]).toEqual([name, '400 ERR_HEADER_NAME_AMBIGUOUS']);
    }
  });

  it('the exact owned name is still replaced (token) or removed (public route), never refused', async () => {
    const pub = await check({ path: '/public/x', headers: { 'x-auth-roles': 'admin' } });
    expect(pub.kind).toBe('allow');
    expect(pub.headersToRemove).toEqual(expect.arrayContaining(OWNED));
    const authed = await check({ path: '/orders/1', token: userToken, headers: { 'x-auth-roles': 'admin' } });
    expect(authed.headers['x-auth-roles']).toBe('user');
  });

  it('every spelling an upstream reads as an owned or credential header is refused (property)', async () => {
    const separators = fc.constantFrom('-', '_', '.', '~', '!', '*');
    const spelling = fc
      .tuple(fc.constantFrom(...OWNED, 'x-access-token'), fc.array(separators, { minLength: 3, maxLength: 3 }))
      .map(([name, seps]) => {
        let i = 0;
        return name.replace(/-/g, () => seps[i++] ?? '_');
      })
      .filter((n) => n !== 'x-auth-roles' && n !== 'x-user-id' && n !== 'x-access-token');
    await fc.assert(
      fc.asyncProperty(spelling, fc.boolean(), async (name, withToken) => {
        expect(upstreamHeaderReading(name)).toMatch(/^x_(auth_roles|user_id|access_token)$/);
        const s = await check({
          path: '/public/x',
          headers: { [name]: 'admin' },
          ...(withToken ? { token: userToken } : {}),
        });
        expect(outcome(s)).toBe('400 ERR_HEADER_NAME_AMBIGUOUS');
      }),
      { numRuns: 40 },
    );
  });

  it('an authority that is not one host[:port] is refused before host-scoped routes are tried', async () => {
    for (const host of [
      'admin.example.com:1:2',
      'user@admin.example.com',
      'admin.example.com:',
      'admin.example.com:99999',
      '',
    ]) {
      expect([host, outcome(await check({ host, path: '/public/x', token: userToken }))]).toEqual([
        host,
        '400 ERR_HOST_INVALID',
      ]);
    }
    // A well-formed authority with a port still reaches the host route: the user token lacks the role.
    expect(outcome(await check({ host: 'ADMIN.example.com:8443', path: '/orders', token: userToken }))).toBe(
      '403 ERR_ROLE_MISSING',
    );
    expect(outcome(await check({ host: 'admin.example.com.', path: '/orders', token: adminToken }))).toBe('allow');
  });

  it('path characters an upstream reads differently are refused: raw #, %23, %3F', async () => {
    for (const path of ['/public#/../admin', '/public/x?a=1#/../admin', '/public%23/../admin', '/public%3F/../admin']) {
      expect([path, outcome(await check({ path, token: userToken }))]).toEqual([path, '400 ERR_PATH_INVALID']);
    }
  });

  it('with an ignore_case route, characters that fold onto ASCII elsewhere are refused, not matched to nothing', async () => {
    for (const path of ['/adm%C4%B0n', '/adm%C4%B1n', '/ADMİN', '/%C5%BFecret', '/orders/%E2%84%AA']) {
      expect([path, outcome(await check({ path, token: userToken }))]).toEqual([path, '400 ERR_PATH_INVALID']);
    }
    expect(outcome(await check({ path: '/ADMIN', token: userToken }))).toBe('403 ERR_ROLE_MISSING');
  });

  it('method override (any header spelling, or _method in the query) is refused, never judged as the line method', async () => {
    const overrides: CheckInput[] = [
      { method: 'POST', headers: { 'x-http-method-override': 'DELETE' } },
      { method: 'POST', headers: { 'x-http-method': 'DELETE' } },
      { method: 'POST', headers: { 'x-method-override': 'DELETE' } },
      { method: 'POST', headers: { x_http_method_override: 'DELETE' } },
      { method: 'POST', path: '/orders/1?_method=DELETE' },
      { method: 'GET', path: '/public/x?_method=DELETE' },
    ];
    for (const input of overrides) {
      expect([input, outcome(await check({ path: '/orders/1', token: adminToken, ...input }))]).toEqual([
        input,
        '400 ERR_METHOD_OVERRIDE',
      ]);
    }
    expect(outcome(await check({ method: 'POST', path: '/orders/1', token: adminToken }))).toBe('allow');
  });

  it('whole-config shadow mode allows what the policy refuses, but none of the readings above', async () => {
    const key = rsaKey('shadow-1');
    const gate = await buildGate({
      issuers: [fileIssuer('a', ISS_A, [key.jwk])],
      routes: [{ name: 'admin', match: { path: { prefix: '/' } }, require: { role: 'admin' } }],
      upstream: { headers: [{ name: 'x-user-id', claim: 'sub' }] },
      unmatched: 'deny',
      shadowMode: true,
    });
    try {
      const viewer = `Bearer ${mint(key, { sub: 'u', roles: ['viewer'] })}`;
      const answer = async (v: RequestView) => {
        const d = await gate.decide(v);
        return d.outcome === 'allow' ? d.reason : `${d.status} ${d.reason}`;
      };
      expect(await answer(view({ authorization: viewer }))).toBe('OK_SHADOW_MODE');
      expect(await answer(view({ authorization: viewer, x_user_id: 'admin' }))).toBe('400 ERR_HEADER_NAME_AMBIGUOUS');
      expect(await answer(view({ authorization: viewer, 'x-http-method-override': 'DELETE' }, '/a', 'POST'))).toBe(
        '400 ERR_METHOD_OVERRIDE',
      );
      expect(await answer(view({ authorization: viewer }, '/a/%2e%2e/%2e%2e/etc'))).toBe('400 ERR_PATH_INVALID');
      expect(await answer({ ...view({ authorization: viewer }), hostInvalid: true })).toBe('400 ERR_HOST_INVALID');
      expect(await answer({ ...view({ authorization: viewer }), incomplete: true })).toBe('400 ERR_REQUEST_MALFORMED');
    } finally {
      gate.close();
    }
  });
});

describe('P18 one credential per request', () => {
  it('a token in any location next to another credential anywhere is refused 400 invalid_request', async () => {
    const pairs: Record<string, string>[] = [
      { cookie: `at=${adminToken}`, authorization: 'Basic dXNlcjpwYXNz' },
      { cookie: `at=${adminToken}`, authorization: `DPoP ${userToken}` },
      { cookie: `theme=dark; at=${adminToken}`, authorization: `Bearer\t${userToken}` },
      { 'x-access-token': adminToken, authorization: 'Basic dXNlcjpwYXNz' },
      { 'x-access-token': adminToken, authorization: 'Negotiate abc' },
      { 'x-access-token': adminToken, cookie: `at=${userToken}` },
      { authorization: `Bearer ${adminToken}`, cookie: 'at=' },
    ];
    for (const headers of pairs) {
      const s = await check({ path: '/orders/1', headers });
      expect([Object.keys(headers), outcome(s)]).toEqual([Object.keys(headers), '400 ERR_MULTIPLE_TOKENS']);
      expect(s.headers['www-authenticate']).toContain('error="invalid_request"');
    }
  });

  it('one credential alone decides as before: a token anywhere allows, another scheme alone is 401', async () => {
    expect(outcome(await check({ path: '/orders/1', headers: { cookie: `theme=dark; at=${adminToken}` } }))).toBe(
      'allow',
    );
    expect(outcome(await check({ path: '/orders/1', headers: { 'x-access-token': adminToken } }))).toBe('allow');
    expect(outcome(await check({ path: '/orders/1', headers: { authorization: 'Basic dXNlcjpwYXNz' } }))).toBe(
      '401 ERR_TOKEN_MISSING',
    );
  });
});
