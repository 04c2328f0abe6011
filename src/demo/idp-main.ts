/**
 * DEMO ONLY — the local OpenID provider as a standalone process, for the docker compose demo:
 *
 *   node dist/demo/idp-main.js --port 8081 --issuer http://idp:8081 [--host 0.0.0.0] [--audience URL]
 *
 * It serves discovery and JWKS (see local-idp.ts) and, so that a person trying the demo can get a token,
 * `POST /token` with a form body `scope=...&sub=...[&roles=a,b][&expires_in=SECONDS]`, answering
 * `{access_token, token_type: "Bearer", expires_in}`. Sender-constrained tokens (docs/binding.md): with a
 * `DPoP` proof header (RFC 9449 §5, signed by the client's key, `htm: POST`) the token is bound to that
 * key (`cnf.jkt`, `token_type: "DPoP"`); with a form field `x5t_s256=<base64url SHA-256 of the client
 * certificate>` it is certificate-bound (`cnf.x5t#S256`, RFC 8705; the demo IdP has no TLS of its own,
 * so the caller names its certificate). There is no client authentication and no secret
 * of any kind: it mints a signed token for ANYONE who asks. It exists to show claimgate working; never
 * expose it beyond a laptop, and never point a real claimgate config at it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify } from 'jose';
import { startLocalIdp, type LocalIdp } from './local-idp.js';

export interface DemoIdpOptions {
  readonly host: string;
  readonly port: number;
  /** The exact `iss`; defaults to `http://<host>:<port>`. */
  readonly issuer?: string;
  /** The `aud` of every minted token (claimgate's config must list it). */
  readonly audience: string;
  /** Token lifetime in seconds. */
  readonly ttlSeconds: number;
}

export const DEMO_IDP_DEFAULTS = {
  host: '127.0.0.1',
  port: 8081,
  audience: 'https://api.example.com',
  ttlSeconds: 3600,
} as const;

/** Longest form body accepted by `POST /token`. */
const MAX_FORM_BYTES = 4096;
/** What a scope, subject or role may contain: printable ASCII without `"` and `\`, as RFC 6749 allows. */
const TOKEN_CHARS = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;

export interface DemoIdp {
  readonly idp: LocalIdp;
  /** The port bound (resolved when 0 was asked for). */
  readonly port: number;
  close(): Promise<void>;
}

export async function startDemoIdp(options: DemoIdpOptions): Promise<DemoIdp> {
  let idp: LocalIdp | undefined;
  const handle = (req: IncomingMessage, res: ServerResponse): boolean => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/token') return false;
    if (req.method !== 'POST') {
      json(res, 405, { error: 'invalid_request', error_description: 'use POST /token' }, { allow: 'POST' });
      return true;
    }
    readForm(req)
      .then(async (form) => {
        const claims = tokenClaims(form, options.audience);
        if ('error' in claims) return json(res, 400, claims);
        const ttl = lifetime(form.get('expires_in'), options.ttlSeconds);
        if (typeof ttl !== 'number') return json(res, 400, ttl);
        const binding = await confirmationOf(req, form);
        if ('error' in binding) return json(res, 400, binding);
        const accessToken = await idp!.mint(binding.cnf === undefined ? claims : { ...claims, cnf: binding.cnf }, ttl);
        json(res, 200, { access_token: accessToken, token_type: binding.tokenType, expires_in: ttl });
      })
      .catch((e: Error) =>
        json(res, 400, { error: 'invalid_request', error_description: e.message }, { connection: 'close' }),
      );
    return true;
  };
  idp = await startLocalIdp(options.host, options.port, { issuer: options.issuer, handle });
  return {
    idp,
    port: idp.port,
    close: () => idp!.close(),
  };
}

/**
 * The `cnf` claim a token request asks for: the thumbprint of the key of its DPoP proof (checked: one
 * proof, dpop+jwt, signed by its embedded key, for POST), or a certificate thumbprint from the form.
 */
export async function confirmationOf(
  req: IncomingMessage,
  form: URLSearchParams,
): Promise<
  { cnf?: Record<string, string>; tokenType: 'Bearer' | 'DPoP' } | { error: string; error_description: string }
> {
  const proof = req.headers.dpop;
  if (proof !== undefined) {
    try {
      if (typeof proof !== 'string' || proof.includes(',')) throw new Error('exactly one DPoP proof');
      const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, {
        typ: 'dpop+jwt',
        algorithms: ['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA', 'Ed25519'],
        maxTokenAge: 60,
      });
      if (payload.htm !== 'POST' || typeof payload.jti !== 'string') throw new Error('htm must be POST, jti present');
      return { cnf: { jkt: await calculateJwkThumbprint(protectedHeader.jwk!) }, tokenType: 'DPoP' };
    } catch (e) {
      return { error: 'invalid_dpop_proof', error_description: (e as Error).message };
    }
  }
  const x5t = form.get('x5t_s256');
  if (x5t !== null) {
    if (!/^[A-Za-z0-9_-]{43}$/.test(x5t))
      return { error: 'invalid_request', error_description: 'x5t_s256: base64url SHA-256 (43 characters)' };
    return { cnf: { 'x5t#S256': x5t }, tokenType: 'Bearer' };
  }
  return { tokenType: 'Bearer' };
}

/**
 * Token lifetime from the form's `expires_in` (seconds), default the IdP's; a negative value mints a
 * token that has already expired, to try claimgate's answer to one.
 */
export function lifetime(
  value: string | null,
  fallback: number,
): number | { error: string; error_description: string } {
  if (value === null || value === '') return fallback;
  const n = Number(value);
  if (!/^-?\d{1,5}$/.test(value) || n === 0 || Math.abs(n) > 86400)
    return { error: 'invalid_request', error_description: 'expires_in: whole seconds, -86400..86400, not 0' };
  return n;
}

/** Claims for a form `sub=...&scope=a b&roles=x,y`; an `{error}` object for a bad form. */
export function tokenClaims(
  form: URLSearchParams,
  audience: string,
): { sub: string; aud: string; scope?: string; roles?: string[] } | { error: string; error_description: string } {
  const bad = (what: string) => ({ error: 'invalid_request', error_description: what });
  const sub = form.get('sub') ?? 'demo-user';
  if (!TOKEN_CHARS.test(sub)) return bad('sub: 1-128 printable characters');
  const scopes = (form.get('scope') ?? '').split(' ').filter((s) => s !== '');
  if (scopes.some((s) => !TOKEN_CHARS.test(s))) return bad('scope: space-separated printable tokens');
  const roles = (form.get('roles') ?? '')
    .split(',')
    .map((r) => r.trim())
    .filter((r) => r !== '');
  if (roles.some((r) => !TOKEN_CHARS.test(r))) return bad('roles: comma-separated printable tokens');
  return {
    sub,
    aud: audience,
    ...(scopes.length > 0 ? { scope: scopes.join(' ') } : {}),
    ...(roles.length > 0 ? { roles } : {}),
  };
}

function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    const type = (req.headers['content-type'] ?? 'application/x-www-form-urlencoded')
      .split(';')[0]!
      .trim()
      .toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') {
      req.resume();
      reject(new Error('send the form as application/x-www-form-urlencoded (curl -d)'));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_FORM_BYTES) {
        // Answer first (the response closes the connection); the rest of the body is discarded.
        req.removeAllListeners('data');
        req.resume();
        reject(new Error(`form larger than ${MAX_FORM_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

export function parseIdpArgs(args: string[]): DemoIdpOptions {
  const { values } = parseArgs({
    args,
    options: {
      host: { type: 'string', default: DEMO_IDP_DEFAULTS.host },
      port: { type: 'string', default: String(DEMO_IDP_DEFAULTS.port) },
      issuer: { type: 'string' },
      audience: { type: 'string', default: DEMO_IDP_DEFAULTS.audience },
      ttl: { type: 'string', default: String(DEMO_IDP_DEFAULTS.ttlSeconds) },
    },
  });
  const port = Number(values.port);
  const ttlSeconds = Number(values.ttl);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: not a port: ${values.port}`);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > 86400) throw new Error(`--ttl: 1-86400 seconds`);
  if (values.issuer !== undefined && !/^https?:\/\/[^/]/.test(values.issuer))
    throw new Error(`--issuer: an http(s) URL`);
  return { host: values.host, port, issuer: values.issuer, audience: values.audience, ttlSeconds };
}

async function main(): Promise<void> {
  const options = parseIdpArgs(process.argv.slice(2));
  const demo = await startDemoIdp(options);
  process.stderr.write(
    `${JSON.stringify({
      level: 'warn',
      msg: 'DEMO identity provider: mints tokens for anyone (POST /token). Never expose it or trust it outside a demo.',
      issuer: demo.idp.issuer,
      listen: `${options.host}:${options.port}`,
      audience: options.audience,
    })}\n`,
  );
  // PID 1 in a container: without handlers, SIGTERM would be ignored until the runtime's SIGKILL.
  const stop = () => void demo.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

function isEntry(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntry()) {
  main().catch((e: Error) => {
    process.stderr.write(`idp: ${e.message}\n`);
    process.exit(1);
  });
}
