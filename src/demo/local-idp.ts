/**
 * A tiny OpenID provider for the demo: discovery and JWKS on loopback, RFC 9068 access tokens
 * signed with a key generated at start (fresh every run). Not for production use.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload, type CryptoKey } from 'jose';

export interface LocalIdp {
  readonly issuer: string;
  /** The port bound (useful when 0 was asked for and the issuer is overridden). */
  readonly port: number;
  /** Mints an `at+jwt` access token with these claims (iss, iat, exp, jti added). */
  mint(claims: JWTPayload, ttlSeconds?: number): Promise<string>;
  close(): Promise<void>;
}

export interface LocalIdpOptions {
  /**
   * The issuer URL to publish and sign with, when clients reach the IdP by another name than its bind
   * address (e.g. `http://idp:8081` inside docker compose); used exactly as given for `iss`.
   * Default: `http://<host>:<bound port>`.
   */
  readonly issuer?: string;
  /** Extra requests the IdP answers (the container entry adds `POST /token`); return true when handled. */
  readonly handle?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

export async function startLocalIdp(host = '127.0.0.1', port = 0, options: LocalIdpOptions = {}): Promise<LocalIdp> {
  const kid = `demo-${Date.now().toString(36)}`;
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  let issuer = '';

  const server: Server = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/.well-known/openid-configuration') {
      send(200, {
        issuer,
        jwks_uri: `${issuer.replace(/\/$/, '')}/jwks`,
        id_token_signing_alg_values_supported: ['RS256'],
      });
    } else if (req.url === '/jwks') send(200, { keys: [jwk] });
    else if (options.handle?.(req, res) !== true) send(404, { error: 'not_found' });
  });
  await new Promise<void>((resolve, reject) => {
    const fail = (e: Error) => reject(new Error(`cannot listen on ${host}:${port}: ${e.message}`));
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  issuer = options.issuer ?? `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;

  return {
    issuer,
    port: address.port,
    mint: (claims, ttlSeconds = 3600) => sign(claims, privateKey, kid, issuer, ttlSeconds),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function sign(claims: JWTPayload, key: CryptoKey, kid: string, issuer: string, ttlSeconds: number): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid })
    .setIssuer(issuer)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .setJti(crypto.randomUUID())
    .sign(key);
}
