/**
 * Shared harness for the SECURITY.md principle tests: real keys (node:crypto), hand-minted compact
 * JWS (so malformed and hostile tokens can be built byte for byte), the real config loader, key
 * sources and decision engine, and a loopback IdP that counts every request it serves.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../../src/validation/load.js';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import type { Decision, DenyDecision, RequestView } from '../../src/core/types.js';
import type { KeySourceDeps } from '../../src/keys/key-source.js';
import { startSettledEngine } from '../support/gate.js';
import { closeServer, listen } from '../support/listen.js';
import { signParts, type SignAlg } from '../support/tokens.js';

export { b64json, b64u, rawSign, segmentOf, signParts, type Part, type SignAlg } from '../support/tokens.js';
export { freePort as closedPort } from '../support/listen.js';

// ---- time ----------------------------------------------------------------------------------------

/** Fixed "now" of every engine-level test, in seconds. */
export const NOW_S = 1_750_000_000;
export const NOW_MS = NOW_S * 1000;

// ---- issuers ---------------------------------------------------------------------------------------

export const ISS_A = 'https://idp-a.example.com';
export const ISS_B = 'https://idp-b.example.com/';
export const AUD = 'https://api.example.com';

// ---- keys ------------------------------------------------------------------------------------------

export interface TestKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** Public JWK (no alg/use unless given in `extra`). */
  readonly jwk: Record<string, unknown>;
}

const keyCache = new Map<string, TestKey>();

function makeKey(
  kid: string,
  cacheKey: string,
  generate: () => { privateKey: KeyObject; publicKey: KeyObject },
  extra: Record<string, unknown> = {},
): TestKey {
  let key = keyCache.get(cacheKey);
  if (key === undefined) {
    const { privateKey, publicKey } = generate();
    key = { kid, privateKey, publicKey, jwk: {} };
    keyCache.set(cacheKey, key);
  }
  return {
    ...key,
    kid,
    jwk: { ...(key.publicKey.export({ format: 'jwk' }) as Record<string, unknown>), kid, ...extra },
  };
}

/** RSA key pair (cached per name: generation is the slow part of these tests). */
export function rsaKey(
  kid: string,
  opts: { bits?: number; exponent?: number; name?: string; extra?: Record<string, unknown> } = {},
): TestKey {
  const bits = opts.bits ?? 2048;
  const exponent = opts.exponent ?? 65537;
  return makeKey(
    kid,
    `rsa:${opts.name ?? kid}:${bits}:${exponent}`,
    () => generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: exponent }),
    opts.extra,
  );
}

export function ecKey(
  kid: string,
  crv: 'P-256' | 'P-384' | 'P-521' = 'P-256',
  extra: Record<string, unknown> = {},
): TestKey {
  return makeKey(kid, `ec:${kid}:${crv}`, () => generateKeyPairSync('ec', { namedCurve: crv }), extra);
}

export function edKey(kid: string, extra: Record<string, unknown> = {}): TestKey {
  return makeKey(kid, `ed:${kid}`, () => generateKeyPairSync('ed25519'), extra);
}

// ---- tokens ----------------------------------------------------------------------------------------

/** Default claims of a good access token of issuer A at NOW_S. */
export function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    iss: ISS_A,
    sub: 'user-1',
    aud: AUD,
    exp: NOW_S + 300,
    iat: NOW_S - 10,
    jti: 'jti-1',
    scope: 'orders:read profile',
  };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  return base;
}

/** A well-formed RFC 9068 token: `typ: at+jwt`, key's kid, claims(overrides). */
export function mint(
  key: TestKey,
  overrides: Record<string, unknown> = {},
  opts: { alg?: SignAlg; header?: Record<string, unknown> } = {},
): string {
  const alg = opts.alg ?? defaultAlg(key);
  const header: Record<string, unknown> = { alg, typ: 'at+jwt', kid: key.kid, ...opts.header };
  for (const [k, v] of Object.entries(header)) if (v === undefined) delete header[k];
  return signParts(alg, key.privateKey, header, claims(overrides));
}

function defaultAlg(key: TestKey): SignAlg {
  const type = key.privateKey.asymmetricKeyType;
  if (type === 'ec') {
    const crv = key.jwk.crv;
    return crv === 'P-384' ? 'ES384' : crv === 'P-521' ? 'ES512' : 'ES256';
  }
  if (type === 'ed25519') return 'EdDSA';
  return 'RS256';
}

// ---- requests --------------------------------------------------------------------------------------

export function view(
  headers: Record<string, string | string[]> = {},
  path = '/api/items',
  method = 'GET',
  host = 'api.example.com',
): RequestView {
  const map = new Map<string, string[]>();
  for (const [k, v] of Object.entries(headers)) map.set(k.toLowerCase(), Array.isArray(v) ? v : [v]);
  return { method, host, path, headers: map };
}

export const bearer = (token: string, path?: string): RequestView => view({ authorization: `Bearer ${token}` }, path);

// ---- engine ----------------------------------------------------------------------------------------

/** The real engine (createEngine) of a config built from `GateOptions`. */
export type Gate = Engine;

const tmpDirs: string[] = [];

/** Writes a JWKS document to a fresh temp file and returns its path. */
export function writeJwks(doc: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'claimgate-sec-'));
  tmpDirs.push(dir);
  const path = join(dir, 'jwks.json');
  writeFileSync(path, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return path;
}

export function cleanupTmp(): void {
  for (const dir of tmpDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export const jwks = (...keys: unknown[]): { keys: unknown[] } => ({ keys });

/** An issuer entry of the raw config with a local JWKS file holding `keys`. */
export function fileIssuer(
  name: string,
  iss: string,
  keys: unknown[],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    name,
    issuer: iss,
    jwks_file: writeJwks(jwks(...keys)),
    audiences: [AUD],
    algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
    ...extra,
  };
}

export interface GateOptions {
  readonly issuers: Record<string, unknown>[];
  readonly routes?: unknown[];
  readonly upstream?: Record<string, unknown>;
  readonly realm?: string;
  readonly unmatched?: 'deny' | 'authenticated';
  readonly server?: Record<string, unknown>;
  readonly resourceMetadata?: Record<string, unknown>;
  readonly keyDeps?: KeySourceDeps;
  readonly nowMs?: () => number;
  /** Wait for every key source's first fetch (default true). */
  readonly settle?: boolean;
  /** Whole-config shadow mode (docs/policy.md). */
  readonly shadowMode?: boolean;
}

/** Builds the real engine: validateConfig → createEngine (real key sources), settled unless `settle: false`. */
export async function buildGate(opts: GateOptions): Promise<Gate> {
  const raw: Record<string, unknown> = {
    issuers: opts.issuers,
    routes: opts.routes ?? [],
    unmatched: opts.unmatched ?? 'authenticated',
  };
  if (opts.upstream) raw.upstream = opts.upstream;
  if (opts.realm) raw.realm = opts.realm;
  if (opts.server) raw.server = opts.server;
  if (opts.shadowMode !== undefined) raw.shadow_mode = opts.shadowMode;
  if (opts.resourceMetadata) raw.resource_metadata = opts.resourceMetadata;
  const config = validateConfig(raw);
  const deps = { keys: opts.keyDeps ?? {}, decider: { nowMs: opts.nowMs ?? (() => NOW_MS) } };
  return opts.settle === false ? createEngine(config, deps) : startSettledEngine(config, deps);
}

export function isDeny(d: Decision): d is DenyDecision {
  return d.outcome !== 'allow';
}

/** Asserts a denial and returns it (typed). */
export function denied(d: Decision): DenyDecision {
  if (!isDeny(d)) throw new Error(`expected a denial, got allow (${d.reason})`);
  return d;
}

// ---- loopback IdP ----------------------------------------------------------------------------------

export interface CountingServer {
  readonly origin: string;
  readonly port: number;
  /** Every request path served, in order. */
  readonly hits: string[];
  count(path?: string): number;
  /** Replace the handler. */
  handle(handler: (req: IncomingMessage, res: ServerResponse) => void): void;
  close(): Promise<void>;
}

/** A loopback HTTP server that records every request. Default handler: 404. */
export async function startCountingServer(
  handler?: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<CountingServer> {
  const hits: string[] = [];
  let current = handler ?? ((_req: IncomingMessage, res: ServerResponse) => sendJson(res, 404, { error: 'not_found' }));
  const server: Server = createServer((req, res) => {
    hits.push(req.url ?? '');
    current(req, res);
  });
  const port = await listen(server);
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    hits,
    count: (path) => (path === undefined ? hits.length : hits.filter((h) => h === path).length),
    handle: (h) => {
      current = h;
    },
    close: () => closeServer(server),
  };
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

// ---- upstream-reading setup (P16/P18 tests and their fuzz suite) ----------------------------------

/**
 * Issuer with three token locations (Bearer, cookie `at`, header `x-access-token`), a public `/public`
 * prefix, a host-scoped admin route, an `ignore_case` `/admin` route, and two identity headers.
 */
export function upstreamReadingSetup(key: TestKey): Record<string, unknown> & { routes: unknown[] } {
  return {
    issuers: [
      fileIssuer('a', ISS_A, [key.jwk], {
        token_locations: [
          { header: 'authorization', scheme: 'Bearer' },
          { cookie: 'at' },
          { header: 'x-access-token' },
        ],
      }),
    ],
    routes: [
      { name: 'public', match: { path: { prefix: '/public' } }, public: true },
      { name: 'admin-host', match: { hosts: ['admin.example.com'] }, require: { role: 'admin' } },
      { name: 'admin', match: { path: { prefix: '/admin' }, ignore_case: true }, require: { role: 'admin' } },
    ],
    upstream: {
      headers: [
        { name: 'x-auth-roles', claim: 'roles' },
        { name: 'x-user-id', claim: 'sub' },
      ],
    },
  };
}
