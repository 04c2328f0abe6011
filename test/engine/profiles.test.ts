/**
 * Provider profiles through the real engine: one route table and one header mapping, seven partners
 * whose access tokens are shaped like their providers' real ones (test/support/provider-tokens.ts).
 */
import {
  buildGate,
  bearer,
  cleanupTmp,
  denied,
  NOW_S,
  rsaKey,
  signParts,
  startCountingServer,
  sendJson,
  view,
  writeJwks,
  type CountingServer,
  type Gate,
  type TestKey,
} from '../security/harness.js';
import type { AllowDecision, Decision } from '../../src/engine/types.js';
import { ENTRA_OTHER_TENANT, ENTRA_TENANT, PROVIDERS, SHAPES, type ProviderName } from '../support/provider-tokens.js';

const keys = Object.fromEntries(PROVIDERS.map((p) => [p, rsaKey(`${p}-key`)])) as Record<ProviderName, TestKey>;

/** Signs a provider-shaped token with that provider's key (its kid is the header's). */
function tokenOf(
  provider: ProviderName,
  overrides: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
) {
  const shaped = SHAPES[provider].token(NOW_S, overrides);
  const h: Record<string, unknown> = { ...shaped.header, ...header };
  for (const [k, v] of Object.entries(h)) if (v === undefined) delete h[k];
  return signParts('RS256', keys[provider].privateKey, h, shaped.payload);
}

const HEADERS = [
  { name: 'x-user-id', principal: 'subject' },
  { name: 'x-user-key', principal: 'qualified_subject' },
  { name: 'x-issuer', principal: 'issuer' },
  { name: 'x-scopes', principal: 'scopes' },
  { name: 'x-roles', principal: 'roles' },
  { name: 'x-email', principal: 'email' },
  { name: 'x-tenant', principal: 'tenant' },
  { name: 'x-client-id', principal: 'client_id' },
];

const ROUTES = [
  { name: 'admin', match: { path: { prefix: '/admin' } }, require: { role: 'admin' } },
  { name: 'orders', match: { path: { prefix: '/orders' } }, require: { scope: 'orders:read' } },
  { name: 'billing', match: { path: { prefix: '/billing' } }, require: { permission: 'billing:read' } },
  { name: 'eng', match: { path: { prefix: '/eng' } }, require: { group: 'engineering' } },
  { name: 'acme-tenant', match: { path: { prefix: '/tenant' } }, require: { tenant: ENTRA_TENANT } },
  {
    name: 'verified',
    match: { path: { prefix: '/verified' } },
    require: { claim: { path: 'email_verified', equals: true } },
  },
  { name: 'unbanned', match: { path: { prefix: '/unbanned' } }, require: { not: { role: 'banned' } } },
  { name: 'me', match: { path: { prefix: '/me' } } },
];

let gate: Gate;
beforeAll(async () => {
  const issuers = PROVIDERS.map((p) => ({
    ...SHAPES[p].issuer,
    jwks_file: writeJwks({ keys: [{ ...keys[p].jwk, kid: SHAPES[p].token(NOW_S).header.kid }] }),
  }));
  gate = await buildGate({ issuers, routes: ROUTES, unmatched: 'deny', upstream: { headers: HEADERS } });
});
afterAll(() => {
  gate?.close();
  cleanupTmp();
});

const reasonOf = async (token: string, path = '/me') => denied(await gate.decide(bearer(token, path))).reason;

const headersOf = (d: Decision): Record<string, string> => {
  if (d.outcome !== 'allow') throw new Error(`expected allow, got ${d.reason}`);
  return Object.fromEntries((d as AllowDecision).headersToSet.map((h) => [h.name, h.value]));
};

describe('provider profiles: one route table, one header mapping', () => {
  const ADMINS: ProviderName[] = ['okta', 'keycloak', 'entra', 'auth0', 'cognito', 'rfc9068'];

  it.each(ADMINS)('%s: an admin token passes `role: admin` with the same principal headers', async (p) => {
    const h = headersOf(await gate.decide(bearer(tokenOf(p), '/admin/users')));
    expect(h['x-roles']!.split(',')).toContain('admin');
    expect(h['x-issuer']).toBe(`${p}-partner`);
    expect(h['x-user-key']).toBe(`${h['x-issuer']}${p === 'entra' ? `/${ENTRA_TENANT}` : ''}|${h['x-user-id']}`);
  });

  const SCOPED: ProviderName[] = ['okta', 'keycloak', 'entra', 'auth0', 'cognito', 'rfc9068'];
  it.each(SCOPED)('%s: `scope: orders:read` reads the provider’s own scope claim', async (p) => {
    const h = headersOf(await gate.decide(bearer(tokenOf(p), '/orders/7')));
    expect(h['x-scopes']!.split(',')).toContain('orders:read');
  });

  it('each provider’s fields land in the same headers', async () => {
    const all = Object.fromEntries(
      await Promise.all(PROVIDERS.map(async (p) => [p, headersOf(await gate.decide(bearer(tokenOf(p), '/me')))])),
    ) as Record<ProviderName, Record<string, string>>;
    expect(all.okta).toMatchObject({ 'x-user-id': 'alice@partner.example', 'x-client-id': '0oa1h6f8z3Wq8yOJk5d7' });
    expect(all.okta['x-scopes']).toBe('openid,orders:read');
    expect(all.keycloak).toMatchObject({ 'x-email': 'alice@partner.example', 'x-client-id': 'web-app' });
    // Realm roles and the API client's roles, not those of other clients (account).
    expect(all.keycloak['x-roles']).toBe('offline_access,uma_authorization,admin');
    expect(all.entra).toMatchObject({
      'x-tenant': ENTRA_TENANT,
      'x-scopes': 'orders:read,User.Read',
      'x-roles': 'admin',
    });
    expect(all.auth0).toMatchObject({
      'x-tenant': 'org_9ybsU1dN2dKfDkBi',
      'x-email': 'alice@partner.example',
      'x-client-id': 'my_client_id',
    });
    expect(all.cognito).toMatchObject({ 'x-roles': 'admin', 'x-client-id': '3n4b5urk1ft4fl3mg5e62d9ado' });
    expect(all.google).toMatchObject({ 'x-tenant': 'partner.example', 'x-email': 'alice@partner.example' });
    for (const p of PROVIDERS) expect([p, all[p]['x-issuer']]).toEqual([p, SHAPES[p].issuer.name]);
  });

  it('a principal header with nothing to carry is removed, never left to the client', async () => {
    const d = await gate.decide(
      view({ authorization: `Bearer ${tokenOf('google')}`, 'x-roles': 'admin', 'x-scopes': 'orders:write' }, '/me'),
    );
    expect(d.outcome).toBe('allow');
    expect((d as AllowDecision).headersToRemove).toEqual(expect.arrayContaining(['x-roles', 'x-scopes']));
  });
});

describe('provider profiles: the documented denials', () => {
  it('each kind of missing grant has its own 403 code', async () => {
    const noRole = await gate.decide(bearer(tokenOf('keycloak', { resource_access: {} }), '/admin'));
    expect(denied(noRole)).toMatchObject({ status: 403, reason: 'ERR_ROLE_MISSING', requirement: 'role' });
    expect(denied(noRole).challenge).toContain('error="insufficient_scope"');
    expect(await reasonOf(tokenOf('auth0', { permissions: ['orders:read'] }), '/billing')).toBe(
      'ERR_PERMISSION_MISSING',
    );
    expect(await reasonOf(tokenOf('okta'), '/eng')).toBe('ERR_GROUP_MISSING');
    expect(await reasonOf(tokenOf('auth0'), '/tenant')).toBe('ERR_TENANT_NOT_ALLOWED');
    expect(await reasonOf(tokenOf('okta'), '/verified')).toBe('ERR_CLAIM_CONDITION_FAILED');
    const noScope = denied(await gate.decide(bearer(tokenOf('okta', { scp: ['openid'] }), '/orders')));
    expect(noScope).toMatchObject({ reason: 'ERR_INSUFFICIENT_SCOPE' });
    expect(noScope.challenge).toContain('scope="orders:read"');
  });

  it('the profile reads only its provider’s claims (a top-level roles claim grants nothing to Keycloak)', async () => {
    expect(await reasonOf(tokenOf('keycloak', { resource_access: {}, roles: ['admin'] }), '/admin')).toBe(
      'ERR_ROLE_MISSING',
    );
    // Keycloak scope is a string; Okta's scp array is not read for Keycloak.
    expect(await reasonOf(tokenOf('keycloak', { scope: 'openid', scp: ['orders:read'] }), '/orders')).toBe(
      'ERR_INSUFFICIENT_SCOPE',
    );
  });

  it('typ: each profile accepts what its provider sends and at+jwt, nothing else', async () => {
    expect(await reasonOf(tokenOf('okta', {}, { typ: 'JWT' }))).toBe('ERR_TOKEN_TYPE_INVALID');
    expect(await reasonOf(tokenOf('rfc9068', {}, { typ: undefined }))).toBe('ERR_TOKEN_TYPE_INVALID');
    expect(await reasonOf(tokenOf('keycloak', {}, { typ: undefined }))).toBe('ERR_TOKEN_TYPE_INVALID');
    expect((await gate.decide(bearer(tokenOf('okta', {}, { typ: 'at+jwt' }), '/me'))).outcome).toBe('allow');
    // Auth0's RFC 9068 dialect: typ at+jwt and client_id instead of azp.
    const rfcDialect = tokenOf('auth0', { azp: undefined, client_id: 'my_client_id' }, { typ: 'at+jwt' });
    expect(headersOf(await gate.decide(bearer(rfcDialect, '/me')))['x-client-id']).toBe('my_client_id');
  });

  it('ID tokens of the same issuer are refused: Keycloak typ ID, Cognito token_use id', async () => {
    expect(await reasonOf(tokenOf('keycloak', { typ: 'ID', aud: 'orders-api' }))).toBe('ERR_TOKEN_TYPE_INVALID');
    const cognitoId = tokenOf('cognito', { token_use: 'id', aud: '3n4b5urk1ft4fl3mg5e62d9ado', client_id: undefined });
    expect(await reasonOf(cognitoId)).toBe('ERR_TOKEN_TYPE_INVALID');
  });

  it('Cognito: the audience is client_id (access tokens carry no aud)', async () => {
    expect(await reasonOf(tokenOf('cognito', { client_id: 'another-app-client' }))).toBe('ERR_AUDIENCE_MISMATCH');
    expect(await reasonOf(tokenOf('cognito', { client_id: undefined, aud: '3n4b5urk1ft4fl3mg5e62d9ado' }))).toBe(
      'ERR_CLAIMS_INVALID',
    );
  });
});

describe('the one rule for claim values reaches the principal (P17)', () => {
  const keycloakRoles = (realm: unknown[], client: unknown[] = ['reader']) =>
    tokenOf('keycloak', { realm_access: { roles: realm }, resource_access: { 'orders-api': { roles: client } } });

  it.each([
    ['a role holding the separator', ['user,admin']],
    ['a role with a TAB', ['admin\t']],
    ['a role with an edge space', [' admin']],
    ['a role that is not a string', [7]],
  ])('%s: not matched by `role: admin`, and x-roles is removed rather than forwarded', async (_what, realm) => {
    const denial = denied(await gate.decide(bearer(keycloakRoles(realm), '/admin')));
    expect(denial).toMatchObject({ status: 403, reason: 'ERR_ROLE_MISSING', requirement: 'role' });
    const d = await gate.decide(view({ authorization: `Bearer ${keycloakRoles(realm)}`, 'x-roles': 'admin' }, '/me'));
    expect(d.outcome).toBe('allow');
    expect(headersOf(d)['x-roles']).toBeUndefined();
    expect((d as AllowDecision).headersToRemove).toContain('x-roles');
  });

  it('one unusable path of several (Keycloak client roles) makes the whole roles field unreadable', async () => {
    const d = await gate.decide(bearer(keycloakRoles(['admin'], ['ops,admin']), '/admin'));
    expect(denied(d).reason).toBe('ERR_ROLE_MISSING');
    expect(headersOf(await gate.decide(bearer(keycloakRoles(['admin'], ['ops']), '/admin')))['x-roles']).toBe(
      'admin,ops',
    );
  });

  it('cannot tell stays a failure under `not`, named by the role leaf that could not tell', async () => {
    expect(headersOf(await gate.decide(bearer(keycloakRoles(['user']), '/unbanned')))['x-roles']).toBe('user,reader');
    expect(denied(await gate.decide(bearer(keycloakRoles(['banned']), '/unbanned')))).toMatchObject({
      reason: 'ERR_CLAIM_CONDITION_FAILED',
      requirement: 'not',
    });
    expect(denied(await gate.decide(bearer(keycloakRoles(['user,banned']), '/unbanned')))).toMatchObject({
      status: 403,
      reason: 'ERR_ROLE_MISSING',
      requirement: 'not.role',
    });
  });

  it('scopes split on single spaces only (RFC 6749 §3.3); a scope array holds scope-tokens only', async () => {
    for (const scope of ['openid  orders:read', 'openid\torders:read', ' orders:read', 'orders:read ']) {
      const denial = denied(await gate.decide(bearer(tokenOf('keycloak', { scope }), '/orders')));
      expect([scope, denial.reason]).toEqual([scope, 'ERR_INSUFFICIENT_SCOPE']);
      const d = await gate.decide(bearer(tokenOf('keycloak', { scope }), '/me'));
      expect([scope, headersOf(d)['x-scopes']]).toEqual([scope, undefined]);
    }
    expect(await reasonOf(tokenOf('okta', { scp: ['openid', 'orders:read x'] }), '/orders')).toBe(
      'ERR_INSUFFICIENT_SCOPE',
    );
  });

  it('an unusable email or tenant is neither forwarded nor replaced by a later claim', async () => {
    const d = await gate.decide(bearer(tokenOf('keycloak', { email: 'alice@partner.example\t' }), '/me'));
    expect(headersOf(d)['x-email']).toBeUndefined();
    expect((d as AllowDecision).headersToRemove).toContain('x-email');
    // Entra's client id is `azp`, else `appid`: an unusable `azp` does not fall through to `appid`.
    const e = headersOf(await gate.decide(bearer(tokenOf('entra', { azp: 'web,app', appid: 'other-app' }), '/me')));
    expect(e['x-client-id']).toBeUndefined();
    expect(await reasonOf(tokenOf('entra', { tid: `${ENTRA_TENANT} ` }), '/tenant')).toBe('ERR_TENANT_MISMATCH');
  });
});

describe('multi-domain issuers: several exact iss values, one key set, one principal', () => {
  it('Auth0 custom domain and canonical domain give the same qualified subject', async () => {
    const canonical = headersOf(await gate.decide(bearer(tokenOf('auth0'), '/me')));
    const custom = headersOf(
      await gate.decide(bearer(tokenOf('auth0', { iss: 'https://login.acme.example/' }), '/me')),
    );
    expect(custom['x-user-key']).toBe(canonical['x-user-key']);
    expect(custom['x-issuer']).toBe('auth0-partner');
  });

  it('Google: both documented iss forms are accepted', async () => {
    const bare = await gate.decide(bearer(tokenOf('google', { iss: 'accounts.google.com' }), '/me'));
    expect(bare.outcome).toBe('allow');
    expect(await reasonOf(tokenOf('google', { iss: 'http://accounts.google.com' }))).toBe('ERR_ISSUER_NOT_ALLOWED');
  });
});

describe('qualified subjects never collide across issuers', () => {
  it('two issuers with the same sub give different qualified subjects', async () => {
    const a = headersOf(await gate.decide(bearer(tokenOf('okta', { sub: '1234' }), '/me')));
    const b = headersOf(await gate.decide(bearer(tokenOf('rfc9068', { sub: '1234' }), '/me')));
    expect(a['x-user-id']).toBe(b['x-user-id']);
    expect(a['x-user-key']).toBe('okta-partner|1234');
    expect(b['x-user-key']).toBe('rfc9068-partner|1234');
  });

  it('a sub that contains the separator cannot imitate another issuer', async () => {
    // Issuer names have no `|`: the first `|` always ends the issuer part.
    const forged = headersOf(await gate.decide(bearer(tokenOf('okta', { sub: 'x|rfc9068-partner|1234' }), '/me')));
    expect(forged['x-user-key']).toBe('okta-partner|x|rfc9068-partner|1234');
    expect(forged['x-user-key']!.split('|')[0]).toBe('okta-partner');
  });
});

describe('Entra ID tenant template', () => {
  let idp: CountingServer;
  let entra: Gate;
  const entraKey = rsaKey('entra-template-key');
  const sign = (payload: Record<string, unknown>) =>
    signParts('RS256', entraKey.privateKey, { typ: 'JWT', alg: 'RS256', kid: 'entra-1' }, payload);

  beforeAll(async () => {
    idp = await startCountingServer((_req, res) => sendJson(res, 200, { keys: [{ ...entraKey.jwk, kid: 'entra-1' }] }));
    entra = await buildGate({
      issuers: [
        {
          ...SHAPES.entra.issuer,
          jwks_uri: `${idp.origin}/common/discovery/v2.0/keys`,
          allow_insecure_http: true,
        },
      ],
      upstream: { headers: HEADERS },
    });
  });
  afterAll(async () => {
    entra?.close();
    await idp?.close();
  });

  const entraToken = (o: Record<string, unknown> = {}) => sign(SHAPES.entra.token(NOW_S, o).payload);

  it('an allowed tenant is accepted, its tenant in the qualified subject', async () => {
    const h = headersOf(await entra.decide(bearer(entraToken())));
    expect(h['x-tenant']).toBe(ENTRA_TENANT);
    expect(h['x-user-key']).toBe(`entra-partner/${ENTRA_TENANT}|AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ`);
  });

  it('another tenant is refused with no request to any IdP', async () => {
    const before = idp.count();
    const other = entraToken({
      iss: `https://login.microsoftonline.com/${ENTRA_OTHER_TENANT}/v2.0`,
      tid: ENTRA_OTHER_TENANT,
    });
    const d = denied(await entra.decide(bearer(other)));
    expect(d.reason).toBe('ERR_ISSUER_NOT_ALLOWED');
    // An unknown kid would make a known issuer refetch; an unlisted tenant never gets that far.
    const otherKid = signParts(
      'RS256',
      entraKey.privateKey,
      { typ: 'JWT', alg: 'RS256', kid: 'unknown-kid' },
      {
        ...SHAPES.entra.token(NOW_S).payload,
        iss: `https://login.microsoftonline.com/${ENTRA_OTHER_TENANT}/v2.0`,
      },
    );
    expect(denied(await entra.decide(bearer(otherKid))).reason).toBe('ERR_ISSUER_NOT_ALLOWED');
    expect(idp.count()).toBe(before);
  });

  it('a tid that disagrees with the tenant in iss is refused', async () => {
    expect(denied(await entra.decide(bearer(entraToken({ tid: ENTRA_OTHER_TENANT })))).reason).toBe(
      'ERR_TENANT_MISMATCH',
    );
    expect(denied(await entra.decide(bearer(entraToken({ tid: undefined })))).reason).toBe('ERR_TENANT_MISMATCH');
  });
});
