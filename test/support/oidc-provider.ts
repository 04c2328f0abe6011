/// <reference path="../integration/oidc-provider-types.d.ts" />
/**
 * A real, external OpenID provider for integration tests: `oidc-provider` (OpenID Certified) running
 * in-process on loopback behind a plain node http server. It serves discovery and JWKS, and issues
 * RFC 9068 JWT access tokens (`typ: at+jwt`) through the client-credentials grant with resource
 * indicators. Tokens are minted by POSTing to its real token endpoint, exactly as a service would.
 *
 * Test hooks around the real provider: a per-path request counter (wrapping the http handler), key
 * rotation (swap in a provider whose JWKS puts a new signing key first, on the same server and port),
 * stop/restart on the same port (an IdP outage), and `sign()` with the provider's own private key for
 * tokens the provider would never issue (wrong `typ`, tampered claims).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import type { Provider as ProviderInstance } from 'oidc-provider';
import { closeServer, listen } from './listen.js';

/** The resource server (audience) claimgate protects in the tests. */
export const DEFAULT_AUDIENCE = 'https://api.example.com';
/** Scopes the default resource server grants. */
export const DEFAULT_SCOPES = ['orders:read', 'orders:write'] as const;

export interface OidcProviderOptions {
  /** Resource indicators the provider will issue tokens for (each becomes the token's `aud`). */
  readonly resources?: readonly string[];
  /** Scopes the resource servers offer. */
  readonly scopes?: readonly string[];
  /** Access-token lifetime of the long-lived client, seconds. */
  readonly accessTokenTtlSeconds?: number;
  /**
   * Issue opaque access tokens (no JWT format for the resource) and serve RFC 7662 introspection,
   * RFC 9701 JWT introspection responses and RFC 7009 revocation, with introspecting clients for
   * claimgate (`introspectionClient`).
   */
  readonly opaqueTokens?: boolean;
  /** Turn on oidc-provider's `features.dPoP` (RFC 9449): a token request with a DPoP proof gets a bound token. */
  readonly dpop?: boolean;
  /** The issuer the provider publishes, from its base URL (e.g. add a trailing slash for a mismatch). */
  readonly publishedIssuer?: (base: string) => string;
  /** More private JWKs published after the signing key (e.g. a weak RSA 1024 key). */
  readonly extraPrivateJwks?: readonly JWK[];
}

/** A client claimgate authenticates as at the introspection endpoint. */
export interface IntrospectionClient {
  readonly clientId: string;
  readonly secret: string;
}

export interface MintOptions {
  /** RFC 8707 `resource`: the audience to request; the provider's default resource when omitted. */
  readonly resource?: string;
  /** Use the client whose tokens live for `SHORT_TTL_SECONDS` only. */
  readonly shortLived?: boolean;
  /**
   * Makes the DPoP proof for the token request (POST to the given token endpoint URL); the provider
   * then issues a DPoP-bound token (`token_type: DPoP`, `cnf.jkt`). Needs `dpop: true`.
   */
  readonly dpopProof?: (htu: string, htm: string) => Promise<string>;
}

/** Lifetime of tokens minted with `{ shortLived: true }`. */
export const SHORT_TTL_SECONDS = 1;

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

export interface OidcProviderIdp {
  /** `http://127.0.0.1:PORT` (no trailing slash, as oidc-provider issuers are). */
  readonly issuer: string;
  readonly port: number;
  readonly audience: string;
  readonly clientId: string;
  /** Clients that may introspect (opaqueTokens only): basic, post, and one that gets RFC 9701 JWT answers. */
  readonly introspectionClients: {
    readonly basic: IntrospectionClient;
    readonly post: IntrospectionClient;
    readonly jwt: IntrospectionClient;
  };
  /** RFC 7009: revoke an access token at the provider's revocation endpoint. */
  revoke(token: string): Promise<void>;
  /** POST /token (client_credentials, client_secret_basic) and return the JWT access token. */
  mintClientCredentialsToken(scope: string, options?: MintOptions): Promise<string>;
  /** The key the provider currently signs with (first in its JWKS). */
  signingKey(): SigningKey;
  /** Start signing with a fresh key; the previous key stays published after it. Returns the new key. */
  rotateSigningKey(): Promise<SigningKey>;
  /** Sign arbitrary header/payload with the provider's current private key (for tokens it would never issue). */
  sign(payload: JWTPayload, header?: Record<string, unknown>): Promise<string>;
  /** Requests received per URL path since start (or since `resetCounts`). */
  requests(path: string): number;
  /** Requests to the JWKS endpoint. */
  jwksRequests(): number;
  counts(): Readonly<Record<string, number>>;
  resetCounts(): void;
  /** Close the listener (connections refused) while keeping the port number for `restart`. */
  stop(): Promise<void>;
  /** Listen again on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

const CLIENT_ID = 'orders-service';
const SHORT_CLIENT_ID = 'orders-service-short';
const INTROSPECTORS = { basic: 'claimgate-basic', post: 'claimgate-post', jwt: 'claimgate-jwt' } as const;
/** Secrets of loopback-only test clients; random per run. */
const secretFor = new Map<string, string>();

type OidcModule = typeof import('oidc-provider');
let oidcModule: Promise<OidcModule> | undefined;

/**
 * Loads oidc-provider once. Its import prints a notice that Node 22+ is its supported runtime (we run
 * Node 20, where everything these tests use works); keep that one line off the test output.
 */
function loadOidcProvider(): Promise<OidcModule> {
  oidcModule ??= (async () => {
    const warn = console.warn;
    console.warn = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING: Unsupported runtime')) return;
      warn(...args);
    };
    try {
      return await import('oidc-provider');
    } finally {
      console.warn = warn;
    }
  })();
  return oidcModule;
}

/**
 * A per-provider in-memory store (oidc-provider's own warns on every construction). Client-credentials
 * JWT access tokens are not stored, so this only ever sees short-lived bookkeeping.
 */
function memoryAdapterFactory(): new (model: string) => object {
  const store = new Map<string, Record<string, unknown>>();
  return class TestAdapter {
    constructor(private readonly model: string) {}
    private key(id: string): string {
      return `${this.model}:${id}`;
    }
    async upsert(id: string, payload: Record<string, unknown>): Promise<void> {
      store.set(this.key(id), payload);
    }
    async find(id: string): Promise<Record<string, unknown> | undefined> {
      return store.get(this.key(id));
    }
    async findByUserCode(): Promise<undefined> {
      return undefined;
    }
    async findByUid(): Promise<undefined> {
      return undefined;
    }
    async consume(id: string): Promise<void> {
      const found = store.get(this.key(id));
      if (found) found.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string): Promise<void> {
      store.delete(this.key(id));
    }
    async revokeByGrantId(): Promise<void> {}
  };
}

async function newSigningKey(): Promise<SigningKey & { privateJwk: JWK }> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = `op-${crypto.randomUUID()}`;
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
  return { kid, privateKey, publicJwk, privateJwk };
}

export async function startOidcProvider(options: OidcProviderOptions = {}): Promise<OidcProviderIdp> {
  const resources = options.resources ?? [DEFAULT_AUDIENCE];
  const audience = resources[0] ?? DEFAULT_AUDIENCE;
  const scopes = (options.scopes ?? DEFAULT_SCOPES).join(' ');
  const ttl = options.accessTokenTtlSeconds ?? 600;
  const opaque = options.opaqueTokens === true;
  for (const id of [CLIENT_ID, SHORT_CLIENT_ID, ...Object.values(INTROSPECTORS)])
    if (!secretFor.has(id)) secretFor.set(id, crypto.randomUUID());
  const introspectorClients = opaque
    ? [
        { id: INTROSPECTORS.basic, method: 'client_secret_basic', jwt: false },
        { id: INTROSPECTORS.post, method: 'client_secret_post', jwt: false },
        { id: INTROSPECTORS.jwt, method: 'client_secret_basic', jwt: true },
      ].map((c) => ({
        client_id: c.id,
        client_secret: secretFor.get(c.id),
        grant_types: [],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: c.method,
        ...(c.jwt ? { introspection_signed_response_alg: 'RS256' } : {}),
      }))
    : [];

  const counts = new Map<string, number>();
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    counts.set(path, (counts.get(path) ?? 0) + 1);
    if (handler === undefined) {
      res.writeHead(503).end();
      return;
    }
    handler(req, res);
  });
  await listen(server, 0);
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;

  const keys: (SigningKey & { privateJwk: JWK })[] = [await newSigningKey()];
  const { Provider, errors } = await loadOidcProvider();
  const adapter = memoryAdapterFactory();

  const buildProvider = (): ProviderInstance => {
    const provider = new Provider(options.publishedIssuer?.(issuer) ?? issuer, {
      adapter,
      clients: [CLIENT_ID, SHORT_CLIENT_ID]
        .map((client_id) => ({
          client_id,
          client_secret: secretFor.get(client_id),
          grant_types: ['client_credentials'],
          response_types: [],
          redirect_uris: [],
          token_endpoint_auth_method: 'client_secret_basic',
        }))
        .concat(introspectorClients),
      jwks: {
        keys: [...keys.map((k) => k.privateJwk), ...(options.extraPrivateJwks ?? [])] as Record<string, unknown>[],
      },
      cookies: { keys: [crypto.randomUUID()] },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        introspection: { enabled: opaque },
        jwtIntrospection: { enabled: opaque },
        dPoP: { enabled: options.dpop === true },
        revocation: { enabled: opaque },
        resourceIndicators: {
          enabled: true,
          defaultResource: async () => audience,
          useGrantedResource: async () => true,
          getResourceServerInfo: async (_ctx: unknown, resourceIndicator: string) => {
            if (!resources.includes(resourceIndicator)) throw new errors.InvalidTarget();
            return {
              scope: scopes,
              audience: resourceIndicator,
              ...(opaque
                ? { accessTokenFormat: 'opaque' }
                : { accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
            };
          },
        },
      },
      ttl: {
        ClientCredentials: (_ctx: unknown, _token: unknown, client: { clientId: string }) =>
          client.clientId === SHORT_CLIENT_ID ? SHORT_TTL_SECONDS : ttl,
        AccessToken: ttl,
        Grant: ttl,
        Interaction: 60,
        Session: 60,
      },
    });
    // Errors are part of several tests (e.g. an unknown resource); keep them off the console.
    provider.on('server_error', () => {});
    return provider;
  };
  handler = buildProvider().callback();

  const idp: OidcProviderIdp = {
    issuer,
    port,
    audience,
    clientId: CLIENT_ID,
    introspectionClients: {
      basic: { clientId: INTROSPECTORS.basic, secret: secretFor.get(INTROSPECTORS.basic) ?? '' },
      post: { clientId: INTROSPECTORS.post, secret: secretFor.get(INTROSPECTORS.post) ?? '' },
      jwt: { clientId: INTROSPECTORS.jwt, secret: secretFor.get(INTROSPECTORS.jwt) ?? '' },
    },

    async revoke(token) {
      const basic = Buffer.from(`${CLIENT_ID}:${encodeURIComponent(secretFor.get(CLIENT_ID) ?? '')}`).toString(
        'base64',
      );
      const response = await fetch(`${issuer}/token/revocation`, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
      });
      if (response.status !== 200) throw new Error(`revocation endpoint answered ${response.status}`);
    },

    async mintClientCredentialsToken(scope, mintOptions = {}) {
      const clientId = mintOptions.shortLived ? SHORT_CLIENT_ID : CLIENT_ID;
      const form = new URLSearchParams({ grant_type: 'client_credentials', scope });
      if (mintOptions.resource !== undefined) form.set('resource', mintOptions.resource);
      const basic = Buffer.from(
        `${encodeURIComponent(clientId)}:${encodeURIComponent(secretFor.get(clientId) ?? '')}`,
      ).toString('base64');
      const headers: Record<string, string> = {
        authorization: `Basic ${basic}`,
        'content-type': 'application/x-www-form-urlencoded',
      };
      if (mintOptions.dpopProof !== undefined) headers.dpop = await mintOptions.dpopProof(`${issuer}/token`, 'POST');
      const response = await fetch(`${issuer}/token`, { method: 'POST', headers, body: form });
      const body = (await response.json()) as Record<string, unknown>;
      if (!response.ok || typeof body.access_token !== 'string') {
        throw new Error(`token endpoint answered ${response.status}: ${JSON.stringify(body)}`);
      }
      return body.access_token;
    },

    signingKey() {
      const key = keys[0];
      if (key === undefined) throw new Error('no signing key');
      return { kid: key.kid, privateKey: key.privateKey, publicJwk: key.publicJwk };
    },

    async rotateSigningKey() {
      keys.unshift(await newSigningKey());
      handler = buildProvider().callback();
      return idp.signingKey();
    },

    sign(payload, header = {}) {
      const key = idp.signingKey();
      return new SignJWT(payload)
        .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: key.kid, ...header })
        .sign(key.privateKey);
    },

    requests: (path) => counts.get(path) ?? 0,
    jwksRequests: () => counts.get('/jwks') ?? 0,
    counts: () => Object.fromEntries(counts),
    resetCounts: () => counts.clear(),

    stop: () => closeServer(server),
    restart: async () => {
      await listen(server, port);
    },
    close: () => closeServer(server),
  };
  return idp;
}
