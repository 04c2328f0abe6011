/**
 * A second issuer shaped like Auth0, for multi-issuer tests: the issuer URL ends in `/`
 * (`http://127.0.0.1:PORT/`), discovery lives at `/.well-known/openid-configuration` and the JWKS at
 * `/.well-known/jwks.json`, and access tokens look like Auth0's: header `typ: JWT` (not `at+jwt`), an
 * `aud` array with the API identifier and the `/userinfo` audience, `azp`, a space-delimited `scope`,
 * RBAC `permissions`, and roles in a namespaced custom claim (`https://example.com/roles`).
 * Loopback only; counts requests per path.
 */
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { closeServer, listen } from './listen.js';

export const AUTH0_LIKE_AUDIENCE = 'https://orders.auth0-like.test/';
export const ROLES_CLAIM = 'https://example.com/roles';

export interface Auth0MintOptions {
  readonly sub?: string;
  /** The API identifier; the IdP's own audience when omitted. */
  readonly audience?: string;
  readonly scope?: string;
  readonly permissions?: readonly string[];
  readonly roles?: readonly string[];
  readonly ttlSeconds?: number;
  /** Header `typ`; Auth0 sends `JWT`. */
  readonly typ?: string;
  readonly extraClaims?: JWTPayload;
}

export interface Auth0LikeIdp {
  /** `http://127.0.0.1:PORT/`: with the trailing slash, as Auth0 issuers are. */
  readonly issuer: string;
  readonly audience: string;
  readonly kid: string;
  mint(options?: Auth0MintOptions): Promise<string>;
  requests(path: string): number;
  jwksRequests(): number;
  close(): Promise<void>;
}

export const AUTH0_DISCOVERY_PATH = '/.well-known/openid-configuration';
export const AUTH0_JWKS_PATH = '/.well-known/jwks.json';

export async function startAuth0LikeIdp(options: { audience?: string } = {}): Promise<Auth0LikeIdp> {
  const audience = options.audience ?? AUTH0_LIKE_AUDIENCE;
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const kid = `a0-${crypto.randomUUID().slice(0, 8)}`;
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  const counts = new Map<string, number>();
  let issuer = '';

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'public, max-age=15',
      });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET') send(405, { error: 'method_not_allowed' });
    else if (path === AUTH0_DISCOVERY_PATH) {
      send(200, {
        issuer,
        authorization_endpoint: `${issuer}authorize`,
        token_endpoint: `${issuer}oauth/token`,
        userinfo_endpoint: `${issuer}userinfo`,
        jwks_uri: `${issuer}${AUTH0_JWKS_PATH.slice(1)}`,
        id_token_signing_alg_values_supported: ['HS256', 'RS256', 'PS256'],
      });
    } else if (path === AUTH0_JWKS_PATH) send(200, { keys: [jwk] });
    else send(404, { error: 'not_found' });
  });
  issuer = `http://127.0.0.1:${await listen(server)}/`;

  return {
    issuer,
    audience,
    kid,
    mint: (mintOptions = {}) => mint(mintOptions, { issuer, audience, kid, privateKey }),
    requests: (path) => counts.get(path) ?? 0,
    jwksRequests: () => counts.get(AUTH0_JWKS_PATH) ?? 0,
    close: () => closeServer(server),
  };
}

function mint(
  o: Auth0MintOptions,
  idp: { issuer: string; audience: string; kid: string; privateKey: CryptoKey },
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: JWTPayload = {
    ...(o.roles === undefined ? {} : { [ROLES_CLAIM]: [...o.roles] }),
    iss: idp.issuer,
    sub: o.sub ?? 'auth0|5f7c8ec7c33c6c004bbafe82',
    aud: [o.audience ?? idp.audience, `${idp.issuer}userinfo`],
    iat: now,
    exp: now + (o.ttlSeconds ?? 86400),
    azp: 'dvyDl7o2x9Hm1kRb3Wc0jA',
    scope: o.scope ?? 'openid profile',
    ...(o.permissions === undefined ? {} : { permissions: [...o.permissions] }),
    ...o.extraClaims,
  };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', typ: o.typ ?? 'JWT', kid: idp.kid })
    .sign(idp.privateKey);
}
