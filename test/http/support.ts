/**
 * Shared pieces of the HTTP front-door suites: the claimgate config they run, an upstream echo
 * server, a raw HTTP client (duplicate headers, exact Host), and a runner for real proxy binaries as
 * non-daemon child processes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { validateConfig } from '../../src/validation/load.js';
import type { Config } from '../../src/config/schema.js';
import { closeServer, listen } from '../support/listen.js';
import { waitFor } from '../support/wait.js';

export const REALM = 'claimgate-http';
export const HOST = 'api.example.com';

/** Identity headers claimgate owns in these suites; the deploy/ samples list the same names. */
export const IDENTITY_HEADERS = [
  { name: 'x-auth-sub', claim: 'sub' },
  { name: 'x-auth-client', claim: 'client_id' },
  { name: 'x-auth-scope', claim: 'scope' },
  { name: 'x-auth-roles', claim: 'roles' }, // never in the provider's tokens: always "not set"
] as const;
export const OWNED = IDENTITY_HEADERS.map((h) => h.name);

export const ROUTES = [
  { name: 'health', match: { path: { exact: '/healthz' } }, public: true },
  {
    name: 'orders-read',
    match: { hosts: [HOST], methods: ['GET', 'HEAD'], path: { template: '/orders/{id}' } },
    require: { scope: 'orders:read' },
  },
  {
    name: 'orders-write',
    match: { hosts: [HOST], methods: ['POST'], path: { exact: '/orders' } },
    require: { scope: 'orders:write' },
  },
  { name: 'admin', match: { hosts: [HOST], path: { prefix: '/admin' } }, require: { scope: 'admin' } },
] as const;

export interface Issuer {
  readonly name: string;
  readonly issuer: string;
  readonly audiences: readonly string[];
}

/** The suites' config through the real schema, including the `http` block. */
export function frontDoorConfig(
  issuers: readonly Issuer[],
  http: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): Config {
  return validateConfig(
    {
      server: { grpc_address: '127.0.0.1:0', admin_address: '127.0.0.1:0', shutdown_grace_ms: 500 },
      logging: { level: 'silent' },
      realm: REALM,
      issuers: issuers.map((i) => ({ allow_insecure_http: true, ...i })),
      routes: ROUTES,
      unmatched: 'deny',
      upstream: { headers: IDENTITY_HEADERS, strip_token: true },
      http: { address: '127.0.0.1:0', ...http },
      ...extra,
    },
    'http-front-door-test',
  );
}

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/**
 * One HTTP/1.1 request to 127.0.0.1:port. `headers` values that are arrays are sent as separate
 * header lines; `host` is sent exactly as given.
 */
export function send(
  port: number,
  options: { method?: string; path: string; headers?: Record<string, string | string[]>; body?: string },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: options.headers,
        agent: false,
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Parameters of a `Bearer k="v", ...` challenge. */
export function challenge(value: string | string[] | undefined): Record<string, string> {
  if (typeof value !== 'string') throw new Error(`expected one WWW-Authenticate header, got ${JSON.stringify(value)}`);
  expect(value.startsWith('Bearer ')).toBe(true);
  const params: Record<string, string> = {};
  for (const m of value.slice(7).matchAll(/\s*([A-Za-z_]+)="([^"]*)"\s*,?/g)) params[m[1] as string] = m[2] as string;
  return params;
}

// ---- upstream echo server ----

export interface Echo {
  readonly port: number;
  /** Headers of every request the upstream received, in order. */
  readonly seen: IncomingHttpHeaders[];
  close(): Promise<void>;
}

/**
 * The request headers as a CGI/WSGI server reads them (RFC 3875 §4.1.18, PEP 3333; older gunicorn,
 * wsgiref, Rack/Puma): `HTTP_` + upper case + `-` → `_`, so `X_Auth_Roles` and `X-Auth-Roles` are one
 * variable, and repeated or merged spellings are joined with `,`.
 */
export function wsgiEnviron(rawHeaders: readonly string[]): Record<string, string> {
  const environ: Record<string, string> = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const key = `HTTP_${rawHeaders[i]!.toUpperCase().replace(/-/g, '_')}`;
    environ[key] = key in environ ? `${environ[key]},${rawHeaders[i + 1]!}` : rawHeaders[i + 1]!;
  }
  return environ;
}

/**
 * The protected API: answers 200 with the request headers it received, as JSON (Node's reading and
 * the WSGI reading, `environ`), and records them.
 */
export async function startEcho(): Promise<Echo> {
  const seen: IncomingHttpHeaders[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(req.headers);
    const environ = wsgiEnviron(req.rawHeaders);
    const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, environ });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  });
  return { port: await listen(server), seen, close: () => closeServer(server) };
}

/** What the upstream saw for one proxied reply (the echo body). */
export function upstreamSaw(reply: Reply): {
  method: string;
  url: string;
  headers: Record<string, string | string[]>;
  environ: Record<string, string>;
} {
  return JSON.parse(reply.body) as {
    method: string;
    url: string;
    headers: Record<string, string | string[]>;
    environ: Record<string, string>;
  };
}

// ---- real proxies ----

/**
 * The path of a required proxy binary. A missing binary fails the suite with a clear message (in CI
 * `.ci/run` installs it; locally: `apt-get install nginx caddy`): never a silent skip.
 */
export function requireBinary(name: string): string {
  const found = spawnSync('sh', ['-c', `command -v ${name} || ls /usr/sbin/${name} 2>/dev/null`], { encoding: 'utf8' });
  const path = found.stdout.trim().split('\n')[0] ?? '';
  if (found.status !== 0 || path === '') {
    const where = process.env.CI
      ? 'CI must install it (APT_PACKAGES in .ci/run)'
      : 'install it with `apt-get install -y nginx caddy`';
    throw new Error(`the ${name} binary is required by this suite but was not found on PATH; ${where}`);
  }
  return path;
}

export interface RunningProxy {
  readonly child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Starts a proxy in the foreground, polls until `port` answers HTTP, and returns a handle to stop it. */
export async function runProxy(
  command: string,
  args: readonly string[],
  port: number,
  env: NodeJS.ProcessEnv = {},
): Promise<RunningProxy> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));
  const stop = () =>
    new Promise<void>((resolve) => {
      if (exited !== undefined || child.exitCode !== null) return resolve();
      const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
  try {
    await waitFor(() => send(port, { path: '/__ready', headers: { host: 'ready.invalid' } }), {
      what: `${command} to answer on 127.0.0.1:${port}`,
      timeoutMs: 15_000,
      intervalMs: 100,
      until: () => true,
      retryOnError: true,
      giveUpIf: () => (exited === undefined ? undefined : `${command} exited with ${exited} before it was ready`),
      context: () => output,
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return { child, output: () => output, stop };
}

/** Replaces each `from` (which must occur exactly once) with `to`: a sample that drifts fails loudly. */
export function render(text: string, substitutions: ReadonlyArray<readonly [string, string]>): string {
  let out = text;
  for (const [from, to] of substitutions) {
    const count = out.split(from).length - 1;
    if (count !== 1)
      throw new Error(`expected exactly one ${JSON.stringify(from)} in the sample config, found ${count}`);
    out = out.replace(from, to);
  }
  return out;
}
