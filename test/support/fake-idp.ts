/**
 * A loopback fake identity provider for tests: serves an OIDC discovery document and a JWKS on
 * 127.0.0.1 (ephemeral port) and can be told to misbehave in every way a real IdP does — refuse
 * connections, hang, answer 500, garbage, non-JWKS JSON or a huge body, redirect elsewhere — and to
 * rotate or remove keys, move its jwks_uri, and recover. It counts requests per path.
 *
 * Also exports `generateSigningKey` so token tests can sign with keys the fake IdP publishes.
 */
import { generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer, listen } from './listen.js';

/** How the fake IdP answers one path. */
export type Behavior =
  | { kind: 'ok' }
  /** Accept the request and never answer (until the IdP is closed). */
  | { kind: 'hang' }
  | { kind: 'status'; status: number }
  /** 200 with a body that is not JSON. */
  | { kind: 'garbage' }
  /** 200 with this JSON value instead of the real document. */
  | { kind: 'json'; body: unknown }
  /** 200 with `bytes` of JSON-looking padding; `declareLength` sends Content-Length, otherwise chunked. */
  | { kind: 'huge'; bytes: number; declareLength: boolean }
  | { kind: 'redirect'; location: string; status?: number };

export type SigningKeyType = 'RS256' | 'PS256' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA';

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  /** Public JWK as published (with kid, use: sig, and alg unless `withAlg` was false). */
  readonly jwk: JsonWebKey & { kid: string };
}

/** A fresh key pair of the type an algorithm needs, with its published public JWK. */
export function generateSigningKey(alg: SigningKeyType, kid: string, options: { withAlg?: boolean } = {}): SigningKey {
  const pair =
    alg === 'RS256' || alg === 'PS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : alg === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('ec', { namedCurve: { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' }[alg] });
  const jwk = {
    ...pair.publicKey.export({ format: 'jwk' }),
    kid,
    use: 'sig',
    ...(options.withAlg === false ? {} : { alg }),
  };
  return { kid, privateKey: pair.privateKey, jwk };
}

export interface FakeIdpOptions {
  /** Path of the issuer under the origin: '' (default), '/' (Auth0 style), or e.g. '/realms/demo'. */
  issuerPath?: string;
  /** Keys published at start. */
  keys?: JsonWebKey[];
}

export class FakeIdp {
  /** `http://127.0.0.1:PORT`. */
  readonly origin: string;
  /** The issuer identifier this IdP claims (origin + issuerPath). */
  readonly issuer: string;
  /** Value of `issuer` inside the discovery document; set it to simulate a mismatch. */
  discoveryIssuer: string;
  /** Path the discovery document points to as jwks_uri. */
  jwksPath = '/jwks';
  /** JWKS served per path (so a moved jwks_uri can serve a different set). */
  readonly jwksByPath = new Map<string, JsonWebKey[]>();
  /** `Cache-Control` sent with the JWKS, if any. */
  cacheControl: string | undefined;
  private readonly behaviors = new Map<string, Behavior>();
  private readonly counts = new Map<string, number>();
  private readonly hanging = new Set<ServerResponse>();
  private server: Server;
  private readonly port: number;

  private constructor(server: Server, port: number, issuerPath: string, keys: JsonWebKey[]) {
    this.server = server;
    this.port = port;
    this.origin = `http://127.0.0.1:${port}`;
    this.issuer = `${this.origin}${issuerPath}`;
    this.discoveryIssuer = this.issuer;
    this.jwksByPath.set(this.jwksPath, keys);
  }

  /** Start on 127.0.0.1 with an ephemeral port. */
  static async start(options: FakeIdpOptions = {}): Promise<FakeIdp> {
    let idp: FakeIdp | undefined;
    const server = createServer((req, res) => idp!.handle(req, res));
    await listen(server, 0);
    const port = (server.address() as AddressInfo).port;
    idp = new FakeIdp(server, port, options.issuerPath ?? '', options.keys ?? []);
    return idp;
  }

  /** Path of the discovery document (no doubled slash for issuers ending in `/`). */
  get discoveryPath(): string {
    const base = new URL(this.issuer).pathname.replace(/\/+$/, '');
    return `${base}/.well-known/openid-configuration`;
  }

  get jwksUri(): string {
    return `${this.origin}${this.jwksPath}`;
  }

  /** The keys currently served at the discovery's jwks_uri. */
  get keys(): JsonWebKey[] {
    return this.jwksByPath.get(this.jwksPath) ?? [];
  }

  set keys(keys: JsonWebKey[]) {
    this.jwksByPath.set(this.jwksPath, keys);
  }

  /** Publish another key (rotation adds the new key next to the old one). */
  addKey(jwk: JsonWebKey): void {
    this.keys = [...this.keys, jwk];
  }

  /** Stop publishing the key with this kid. */
  removeKey(kid: string): void {
    this.keys = this.keys.filter((k) => (k as { kid?: string }).kid !== kid);
  }

  /** Point the discovery document at another JWKS path serving `keys`. */
  moveJwks(path: string, keys: JsonWebKey[]): void {
    this.jwksByPath.set(path, keys);
    this.jwksPath = path;
  }

  /** Make `path` (or both discovery and the current JWKS path, for 'all') misbehave. */
  misbehave(path: string, behavior: Behavior): void {
    for (const p of path === 'all' ? [this.discoveryPath, ...this.jwksByPath.keys()] : [path])
      this.behaviors.set(p, behavior);
  }

  /** Answer normally again on every path (and release hanging requests with a 503). */
  heal(): void {
    this.behaviors.clear();
    this.releaseHanging();
  }

  /** Requests received on `path` (connections refused while down are not counted). */
  count(path: string): number {
    return this.counts.get(path) ?? 0;
  }

  /** Stop accepting connections (clients get ECONNREFUSED) until `recover()`. */
  async refuse(): Promise<void> {
    this.releaseHanging();
    await closeServer(this.server);
  }

  /** Accept connections again on the same port, answering normally. */
  async recover(): Promise<void> {
    this.heal();
    if (this.server.listening) return;
    this.server = createServer((req, res) => this.handle(req, res));
    await listen(this.server, this.port);
  }

  async close(): Promise<void> {
    this.releaseHanging();
    if (this.server.listening) await closeServer(this.server);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', this.origin).pathname;
    this.counts.set(path, this.count(path) + 1);
    const behavior = this.behaviors.get(path) ?? { kind: 'ok' };
    switch (behavior.kind) {
      case 'hang':
        this.hanging.add(res);
        res.on('close', () => this.hanging.delete(res));
        return;
      case 'status':
        res.writeHead(behavior.status, { 'content-type': 'text/plain' }).end('error');
        return;
      case 'garbage':
        res.writeHead(200, { 'content-type': 'application/json' }).end('<html>not json</html>');
        return;
      case 'json':
        sendJson(res, behavior.body);
        return;
      case 'huge':
        sendHuge(res, behavior.bytes, behavior.declareLength);
        return;
      case 'redirect':
        res.writeHead(behavior.status ?? 302, { location: behavior.location }).end();
        return;
      case 'ok':
        this.answer(path, res);
    }
  }

  private answer(path: string, res: ServerResponse): void {
    if (path === this.discoveryPath) {
      sendJson(res, {
        issuer: this.discoveryIssuer,
        jwks_uri: this.jwksUri,
        id_token_signing_alg_values_supported: ['RS256'],
      });
      return;
    }
    const keys = this.jwksByPath.get(path);
    if (keys === undefined) {
      res.writeHead(404).end();
      return;
    }
    sendJson(res, { keys }, this.cacheControl === undefined ? {} : { 'cache-control': this.cacheControl });
  }

  private releaseHanging(): void {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
  }
}

function sendJson(res: ServerResponse, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res
    .writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers })
    .end(text);
}

function sendHuge(res: ServerResponse, bytes: number, declareLength: boolean): void {
  const head = '{"keys":[],"padding":"';
  const tail = '"}';
  const padding = Math.max(0, bytes - head.length - tail.length);
  res.writeHead(200, {
    'content-type': 'application/json',
    ...(declareLength ? { 'content-length': String(head.length + padding + tail.length) } : {}),
  });
  res.write(head);
  const chunk = 'x'.repeat(16 * 1024);
  let left = padding;
  // Write in chunks, respecting backpressure, so a client that aborts early really stops the transfer.
  const pump = (): void => {
    while (left > 0) {
      const piece = chunk.slice(0, Math.min(chunk.length, left));
      left -= piece.length;
      if (!res.write(piece)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end(tail);
  };
  res.on('error', () => {});
  pump();
}
