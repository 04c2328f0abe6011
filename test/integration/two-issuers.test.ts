/**
 * Two issuers trusted at once: the real OpenID provider (RFC 9068 `at+jwt`, issuer without a trailing
 * slash) and an Auth0-shaped issuer (trailing slash, `typ: JWT`, `permissions`, namespaced roles).
 * Each is accepted only for its own audiences; requirements read each issuer's own claim shapes.
 */
import {
  AUTH0_DISCOVERY_PATH,
  AUTH0_LIKE_AUDIENCE,
  ROLES_CLAIM,
  startAuth0LikeIdp,
  type Auth0LikeIdp,
} from '../support/auth0-like-idp.js';
import { DEFAULT_AUDIENCE, startOidcProvider, type OidcProviderIdp } from '../support/oidc-provider.js';
import { challengeParams, claimsOf, gateConfig, OWNED_HEADERS, startGate, type RunningGate } from './harness.js';

let op: OidcProviderIdp;
let auth0: Auth0LikeIdp;
let gate: RunningGate;

beforeAll(async () => {
  // The provider can issue tokens for either API, so cross-audience tokens are real tokens.
  [op, auth0] = await Promise.all([
    startOidcProvider({ resources: [DEFAULT_AUDIENCE, AUTH0_LIKE_AUDIENCE] }),
    startAuth0LikeIdp(),
  ]);
  gate = await startGate(
    gateConfig([
      { name: 'op', issuer: op.issuer, audiences: [DEFAULT_AUDIENCE] },
      {
        name: 'auth0',
        issuer: auth0.issuer,
        audiences: [AUTH0_LIKE_AUDIENCE],
        token_type: 'legacy',
        roles_claim: ROLES_CLAIM,
      },
    ]),
  );
});

afterAll(async () => {
  await gate?.close();
  await Promise.all([op?.close(), auth0?.close()]);
});

const read = { method: 'GET', path: '/orders/7' } as const;

describe('two issuers, each only for its own audiences', () => {
  test('both issuers have keys: the Auth0 discovery URL is joined without a double slash', () => {
    expect(gate.gate.ready()).toBe(true);
    expect(auth0.issuer.endsWith('/')).toBe(true);
    expect(auth0.requests(AUTH0_DISCOVERY_PATH)).toBe(1);
    expect(auth0.requests(`/${AUTH0_DISCOVERY_PATH}`)).toBe(0);
    expect(auth0.jwksRequests()).toBe(1);
    expect(op.jwksRequests()).toBe(1);
  });

  test('each issuer’s token is allowed for its own audience, with its own identity', async () => {
    const opToken = await op.mintClientCredentialsToken('orders:read');
    const opAnswer = await gate.check({ ...read, token: opToken });
    expect(opAnswer.kind).toBe('allow');
    expect(opAnswer.headers).toMatchObject({ 'x-auth-issuer': op.issuer, 'x-auth-sub': claimsOf(opToken).sub });

    const permissions = ['orders:read', 'billing:read'];
    const roles = ['support', 'admin'];
    const a0Token = await auth0.mint({ scope: 'openid orders:read', permissions, roles });
    const a0Answer = await gate.check({ ...read, token: a0Token });
    expect(a0Answer.kind).toBe('allow');
    const claims = claimsOf(a0Token);
    // Arrays joined with the default separator, in token order; the issuer keeps its trailing slash.
    expect(a0Answer.headers).toEqual({
      'x-auth-issuer': auth0.issuer,
      'x-auth-sub': claims.sub,
      'x-auth-scope': claims.scope,
      'x-auth-permissions': permissions.join(','),
      'x-auth-roles': roles.join(','),
    });
    expect([...a0Answer.headersToRemove].sort()).toEqual(OWNED_HEADERS.filter((h) => !(h in a0Answer.headers)).sort());
  });

  test('a token of issuer A carrying issuer B’s audience is refused (both directions)', async () => {
    const opForAuth0Api = await op.mintClientCredentialsToken('orders:read', { resource: AUTH0_LIKE_AUDIENCE });
    expect(claimsOf(opForAuth0Api).aud).toBe(AUTH0_LIKE_AUDIENCE);
    const a = await gate.check({ ...read, token: opForAuth0Api });
    expect({ status: a.httpStatus, reason: a.reason }).toEqual({ status: 401, reason: 'ERR_AUDIENCE_MISMATCH' });

    const auth0ForOpApi = await auth0.mint({ audience: DEFAULT_AUDIENCE, scope: 'orders:read' });
    const b = await gate.check({ ...read, token: auth0ForOpApi });
    expect({ status: b.httpStatus, reason: b.reason }).toEqual({ status: 401, reason: 'ERR_AUDIENCE_MISMATCH' });
  });

  test('the issuer is matched exactly: the Auth0 issuer without its trailing slash is not allowed', async () => {
    const token = await auth0.mint({ scope: 'orders:read', extraClaims: { iss: auth0.issuer.slice(0, -1) } });
    const answer = await gate.check({ ...read, token });
    expect({ status: answer.httpStatus, reason: answer.reason }).toEqual({
      status: 401,
      reason: 'ERR_ISSUER_NOT_ALLOWED',
    });
  });

  test('typ policy is per issuer: `JWT` is accepted from the legacy Auth0 issuer only', async () => {
    const a0 = await gate.check({ ...read, token: await auth0.mint({ scope: 'orders:read', typ: 'JWT' }) });
    expect(a0.kind).toBe('allow');
    const opClaims = claimsOf(await op.mintClientCredentialsToken('orders:read'));
    const opLegacy = await gate.check({ ...read, token: await op.sign(opClaims, { typ: 'JWT' }) });
    expect(opLegacy.reason).toBe('ERR_TOKEN_TYPE_INVALID');
  });

  test('`permission` requirement reads Auth0’s permissions array', async () => {
    const withPermission = await auth0.mint({ permissions: ['billing:read'] });
    expect((await gate.check({ method: 'GET', path: '/billing/invoices', token: withPermission })).kind).toBe('allow');

    // The right word in `scope` is not a permission.
    const scopeOnly = await auth0.mint({ scope: 'billing:read', permissions: ['orders:read'] });
    const denied = await gate.check({ method: 'GET', path: '/billing/invoices', token: scopeOnly });
    expect({ status: denied.httpStatus, reason: denied.reason }).toEqual({
      status: 403,
      reason: 'ERR_PERMISSION_MISSING',
    });
    expect(challengeParams(denied.headers['www-authenticate']).params.error).toBe('insufficient_scope');
  });

  test('`role` requirement reads the namespaced roles claim configured for the issuer', async () => {
    const admin = await auth0.mint({ roles: ['viewer', 'admin'] });
    expect((await gate.check({ method: 'DELETE', path: '/admin/users/1', token: admin })).kind).toBe('allow');

    const viewer = await auth0.mint({ roles: ['viewer'] });
    expect((await gate.check({ method: 'DELETE', path: '/admin/users/1', token: viewer })).reason).toBe(
      'ERR_ROLE_MISSING',
    );

    // `admin` in a claim that is not the configured roles claim does not count.
    const elsewhere = await auth0.mint({ extraClaims: { roles: ['admin'], 'https://example.com/role': 'admin' } });
    expect((await gate.check({ method: 'DELETE', path: '/admin/users/1', token: elsewhere })).reason).toBe(
      'ERR_ROLE_MISSING',
    );

    // The provider's tokens carry no roles at all.
    const opToken = await op.mintClientCredentialsToken('orders:read orders:write');
    expect((await gate.check({ method: 'DELETE', path: '/admin/users/1', token: opToken })).reason).toBe(
      'ERR_ROLE_MISSING',
    );
  });
});
