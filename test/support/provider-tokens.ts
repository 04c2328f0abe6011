/**
 * Access tokens shaped like each provider's real ones: header `typ` (or none), claim names and JSON
 * types, issuer form. The shapes follow the providers' own documentation, cited in docs/providers.md.
 * Every token describes the same person with the same grants (role `admin`, scope `orders:read`,
 * email), so one route rule and one header mapping can be checked across providers.
 */

export const ENTRA_TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
export const ENTRA_OTHER_TENANT = 'f8cdef31-a31e-4b4a-93e4-5f571e91255a';
export const ENTRA_API = '6e74172b-be56-4843-9ff4-e66a39bb12e3';

export interface ProviderToken {
  readonly header: Record<string, unknown>;
  readonly payload: Record<string, unknown>;
}

export interface Shape {
  /** Issuer entry (without keys) as a partner would configure it from the docs. */
  readonly issuer: Record<string, unknown>;
  readonly token: (nowS: number, overrides?: Record<string, unknown>) => ProviderToken;
}

const times = (nowS: number) => ({ iat: nowS - 10, exp: nowS + 3600 });

export const SHAPES = {
  okta: {
    issuer: {
      name: 'okta-partner',
      profile: 'okta',
      issuer: 'https://partner.okta.com/oauth2/default',
      audiences: ['api://default'],
      // Okta puts no roles claim in access tokens; this partner maps its groups to roles.
      claims: { roles: ['groups'] },
    },
    token: (nowS, o = {}) => ({
      header: { kid: 'okta-1', alg: 'RS256' },
      payload: {
        ver: 1,
        jti: 'AT.ZkvelLN_seik7w4pc_prCcfUf',
        iss: 'https://partner.okta.com/oauth2/default',
        aud: 'api://default',
        sub: 'alice@partner.example',
        ...times(nowS),
        cid: '0oa1h6f8z3Wq8yOJk5d7',
        uid: '00u1h6f8z3Wq8yOJk5d7',
        scp: ['openid', 'orders:read'],
        groups: ['Everyone', 'admin'],
        auth_time: nowS - 60,
        ...o,
      },
    }),
  },
  keycloak: {
    issuer: {
      name: 'keycloak-partner',
      profile: 'keycloak',
      issuer: 'https://sso.partner.example/realms/acme',
      audiences: ['orders-api'],
    },
    token: (nowS, o = {}) => ({
      header: { alg: 'RS256', typ: 'JWT', kid: 'kc-1' },
      payload: {
        ...times(nowS),
        jti: 'd58f5dc8-fd8f-462b-8a19-716f8f83985b',
        iss: 'https://sso.partner.example/realms/acme',
        aud: ['orders-api', 'account'],
        sub: '36fa0f91-f94d-4a0c-afed-6b7d952e47da',
        typ: 'Bearer',
        azp: 'web-app',
        sid: '2a88c258-f73a-4103-b862-e1fbd8f4e04e',
        acr: '1',
        'allowed-origins': ['https://app.partner.example'],
        realm_access: { roles: ['offline_access', 'uma_authorization'] },
        resource_access: { 'orders-api': { roles: ['admin'] }, account: { roles: ['manage-account'] } },
        scope: 'openid email profile orders:read',
        email_verified: true,
        preferred_username: 'alice',
        email: 'alice@partner.example',
        ...o,
      },
    }),
  },
  entra: {
    issuer: {
      name: 'entra-partner',
      profile: 'entra',
      issuer: 'https://login.microsoftonline.com/{tenant}/v2.0',
      tenants: [ENTRA_TENANT],
      audiences: [ENTRA_API],
    },
    token: (nowS, o = {}) => ({
      header: { typ: 'JWT', alg: 'RS256', kid: 'entra-1' },
      payload: {
        aud: ENTRA_API,
        iss: `https://login.microsoftonline.com/${ENTRA_TENANT}/v2.0`,
        ...times(nowS),
        nbf: nowS - 10,
        aio: 'AXQAi/8TAAAA',
        azp: 'a4f2d8a0-9bd3-4b0f-a0f3-2d6a4f3b1c11',
        azpacr: '0',
        name: 'Alice',
        oid: '690222be-ff1a-4d56-abd1-7e4f7d38e474',
        preferred_username: 'alice@partner.example',
        email: 'alice@partner.example',
        rh: 'I',
        scp: 'orders:read User.Read',
        roles: ['admin'],
        sub: 'AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ',
        tid: ENTRA_TENANT,
        uti: 'fqiBqXLPj0eQa82S-IYFAA',
        ver: '2.0',
        ...o,
      },
    }),
  },
  auth0: {
    issuer: {
      name: 'auth0-partner',
      profile: 'auth0',
      issuer: 'https://acme.eu.auth0.com/',
      issuer_aliases: ['https://login.acme.example/'],
      audiences: ['https://api.acme.example'],
      // Auth0 roles reach access tokens only through a namespaced custom claim (an Action).
      roles_claim: 'https://acme.example/roles',
      claims: { email: ['https://acme.example/email'] },
    },
    token: (nowS, o = {}) => ({
      header: { alg: 'RS256', typ: 'JWT', kid: 'auth0-1' },
      payload: {
        iss: 'https://acme.eu.auth0.com/',
        sub: 'auth0|5f7c8ec7c33c6c004bbafe82',
        aud: ['https://api.acme.example', 'https://acme.eu.auth0.com/userinfo'],
        azp: 'my_client_id',
        ...times(nowS),
        scope: 'openid profile orders:read',
        permissions: ['orders:read', 'billing:read'],
        org_id: 'org_9ybsU1dN2dKfDkBi',
        'https://acme.example/roles': ['admin'],
        'https://acme.example/email': 'alice@partner.example',
        ...o,
      },
    }),
  },
  cognito: {
    issuer: {
      name: 'cognito-partner',
      profile: 'cognito',
      issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEfGhI',
      audiences: ['3n4b5urk1ft4fl3mg5e62d9ado'],
    },
    token: (nowS, o = {}) => ({
      header: { kid: 'cognito-1', alg: 'RS256' },
      payload: {
        sub: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
        'cognito:groups': ['admin'],
        iss: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEfGhI',
        version: 2,
        client_id: '3n4b5urk1ft4fl3mg5e62d9ado',
        origin_jti: 'aaaaaaaa-1111-2222-3333-444444444444',
        event_id: 'cccccccc-1111-2222-3333-444444444444',
        token_use: 'access',
        scope: 'orders:read',
        auth_time: nowS - 60,
        ...times(nowS),
        jti: 'dddddddd-1111-2222-3333-444444444444',
        username: 'alice',
        ...o,
      },
    }),
  },
  rfc9068: {
    issuer: {
      name: 'rfc9068-partner',
      issuer: 'https://as.partner.example',
      audiences: ['https://api.acme.example'],
    },
    token: (nowS, o = {}) => ({
      header: { typ: 'at+jwt', alg: 'RS256', kid: 'rfc-1' },
      payload: {
        iss: 'https://as.partner.example',
        sub: '5ba552d67',
        aud: 'https://api.acme.example',
        client_id: 's6BhdRkqt3',
        ...times(nowS),
        jti: 'dbe39bf3a3ba4238a513f51d6e1691c4',
        scope: 'openid orders:read',
        roles: ['admin'],
        email: 'alice@partner.example',
        ...o,
      },
    }),
  },
  google: {
    issuer: {
      name: 'google',
      profile: 'google',
      issuer: 'https://accounts.google.com',
      issuer_aliases: ['accounts.google.com'],
      audiences: ['1234987819200.apps.googleusercontent.com'],
    },
    token: (nowS, o = {}) => ({
      header: { alg: 'RS256', kid: 'google-1', typ: 'JWT' },
      payload: {
        iss: 'https://accounts.google.com',
        azp: '1234987819200.apps.googleusercontent.com',
        aud: '1234987819200.apps.googleusercontent.com',
        sub: '10769150350006150715113082367',
        hd: 'partner.example',
        email: 'alice@partner.example',
        email_verified: true,
        ...times(nowS),
        ...o,
      },
    }),
  },
} satisfies Record<string, Shape>;

export type ProviderName = keyof typeof SHAPES;
export const PROVIDERS = Object.keys(SHAPES) as ProviderName[];
