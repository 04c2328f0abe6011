/**
 * Real proxies from Debian in front of an upstream echo server, asking claimgate's forward-auth
 * endpoint, with a real OpenID provider (oidc-provider) issuing the tokens:
 *
 * - nginx 1.22 with `auth_request`, configured by deploy/nginx/nginx.conf (addresses, pid and temp
 *   paths substituted; every substitution must hit exactly once, so a drifting sample fails here);
 * - Caddy 2.6 with `forward_auth`, running deploy/caddy/Caddyfile unchanged (addresses from its
 *   environment placeholders).
 *
 * Each proxy runs as a non-daemon child process, is polled until it answers, and is always killed in
 * afterAll. A missing binary fails the suite with a clear message (never a silent skip).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Claimgate } from '../../src/app/claimgate.js';
import { frontDoorOptionsFromConfig, startHttpFrontDoor, type HttpFrontDoor } from '../../src/http/server.js';
import { DEFAULT_AUDIENCE, startOidcProvider, type OidcProviderIdp } from '../support/oidc-provider.js';
import { freePort } from '../support/listen.js';
import {
  challenge,
  frontDoorConfig,
  HOST,
  OWNED,
  REALM,
  render,
  requireBinary,
  runProxy,
  send,
  startEcho,
  upstreamSaw,
  type Echo,
  type Reply,
  type RunningProxy,
} from './support.js';
import { startSettledGate } from '../support/gate.js';

const DEPLOY = new URL('../../deploy/', import.meta.url);
const RESOURCE = 'https://api.example.com';
const METADATA_PATH = '/.well-known/oauth-protected-resource';

let op: OidcProviderIdp;
let down: OidcProviderIdp;
let gate: Claimgate;
let door: HttpFrontDoor;
let echo: Echo;
let readToken: string;
let downToken: string;
const scratch: string[] = [];

beforeAll(async () => {
  [op, down, echo] = await Promise.all([startOidcProvider(), startOidcProvider(), startEcho()]);
  readToken = await op.mintClientCredentialsToken('orders:read');
  downToken = await down.mintClientCredentialsToken('orders:read');
  await down.stop(); // this issuer's IdP is down when claimgate starts
  const config = frontDoorConfig(
    [
      { name: 'op', issuer: op.issuer, audiences: [DEFAULT_AUDIENCE] },
      { name: 'down', issuer: down.issuer, audiences: [DEFAULT_AUDIENCE] },
    ],
    {},
    { resource_metadata: { resource: RESOURCE } },
  );
  gate = await startSettledGate(config);
  if (config.http === undefined) throw new Error('the http block is missing from the validated config');
  door = await startHttpFrontDoor(
    frontDoorOptionsFromConfig(config.http, { realm: config.realm, decider: () => gate.decider() }),
  );
});

afterAll(async () => {
  await door?.close(200);
  await gate?.close(200);
  await Promise.all([op?.close(), down?.close(), echo?.close()]);
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `claimgate-${name}-`));
  chmodSync(dir, 0o755); // nginx workers (user nobody when run as root) must reach their temp paths
  scratch.push(dir);
  return dir;
}

async function startNginx(port: number): Promise<RunningProxy> {
  const nginx = requireBinary('nginx');
  const dir = tempDir('nginx');
  const sample = readFileSync(new URL('nginx/nginx.conf', DEPLOY), 'utf8');
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `    ${t}_temp_path ${dir}/${t};`)
    .join('\n');
  const conf = render(sample, [
    ['pid /run/nginx-claimgate.pid;', `pid ${dir}/nginx.pid;`],
    ['server 127.0.0.1:9002;', `server 127.0.0.1:${door.port};`],
    ['server 127.0.0.1:3000;', `server 127.0.0.1:${echo.port};`],
    ['listen 127.0.0.1:8080;', `listen 127.0.0.1:${port};`],
    ['http {', `http {\n${temp}`],
  ]);
  writeFileSync(join(dir, 'nginx.conf'), conf);
  return runProxy(nginx, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', 'stderr', '-g', 'daemon off;'], port);
}

async function startCaddy(port: number): Promise<RunningProxy> {
  const caddy = requireBinary('caddy');
  const dir = tempDir('caddy');
  const caddyfile = new URL('caddy/Caddyfile', DEPLOY).pathname;
  return runProxy(caddy, ['run', '--config', caddyfile, '--adapter', 'caddyfile'], port, {
    LISTEN_HOST: '127.0.0.1',
    LISTEN_PORT: String(port),
    CLAIMGATE_HTTP: `127.0.0.1:${door.port}`,
    API_UPSTREAM: `127.0.0.1:${echo.port}`,
    HOME: dir,
    XDG_CONFIG_HOME: join(dir, 'config'),
    XDG_DATA_HOME: join(dir, 'data'),
  });
}

const PROXIES = [
  // nginx answers 500 for any auth status other than 2xx/401/403 (so claimgate's 400 and 503 arrive as 500).
  { name: 'nginx auth_request', start: startNginx, outageStatus: 500, refusalStatus: 500 },
  // Caddy passes claimgate's answer through as it is.
  { name: 'Caddy forward_auth', start: startCaddy, outageStatus: 503, refusalStatus: 400 },
] as const;

const spoofed = Object.fromEntries(OWNED.map((h) => [h, 'spoofed-by-client']));
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe.each(PROXIES)('$name', ({ start, outageStatus, refusalStatus }) => {
  let proxy: RunningProxy;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    proxy = await start(port);
  }, 30_000);

  afterAll(async () => {
    await proxy?.stop();
  });

  /** Sends through the proxy and returns the reply plus whether the upstream was reached. */
  async function through(
    path: string,
    headers: Record<string, string | string[]>,
    method = 'GET',
  ): Promise<{ reply: Reply; reached: boolean }> {
    const before = echo.seen.length;
    const reply = await send(port, { method, path, headers: { host: HOST, ...headers } });
    return { reply, reached: echo.seen.length > before };
  }

  function expectRefused(result: { reply: Reply; reached: boolean }, status: number, reason: string): void {
    expect({ status: result.reply.status, reached: result.reached }).toEqual({ status, reached: false });
    expect(result.reply.headers['x-claimgate-reason']).toBe(reason);
  }

  /**
   * Refused before the upstream: by claimgate (400 with the reason; nginx turns any auth status other than
   * 401/403 into a 500 without it) or by the proxy's own parser (a bare 400, e.g. nginx on a duplicate
   * Authorization line, Go on a malformed Host).
   */
  function expectBadRequest(result: { reply: Reply; reached: boolean }, reason: string, byClaimgate = true): void {
    expect(result.reached).toBe(false);
    expect([400, refusalStatus]).toContain(result.reply.status);
    const given = result.reply.headers['x-claimgate-reason'];
    // Where the proxy passes claimgate's 400 on (Caddy), the refusal must be claimgate's own.
    if (given !== undefined || (byClaimgate && refusalStatus === 400)) expect(given).toBe(reason);
  }

  test("valid token: the upstream gets claimgate's identity headers, never the client's, and no authorization (strip_token)", async () => {
    const { reply, reached } = await through('/orders/42?expand=items', { ...bearer(readToken), ...spoofed });
    expect({ status: reply.status, reached }).toEqual({ status: 200, reached: true });
    const saw = upstreamSaw(reply);
    expect(saw.url).toBe('/orders/42?expand=items');
    expect(saw.headers['x-auth-sub']).toBe(op.clientId);
    expect(saw.headers['x-auth-client']).toBe(op.clientId);
    expect(saw.headers['x-auth-scope']).toBe('orders:read');
    // Not set by claimgate (no such claim): the client's copy is gone, not passed through.
    expect(saw.headers['x-auth-roles']).toBeUndefined();
    expect(saw.headers.authorization).toBeUndefined();
    expect(JSON.stringify(saw.headers)).not.toContain('spoofed-by-client');
  });

  test('public route: no token needed, and client-sent identity headers still never reach the upstream', async () => {
    const { reply, reached } = await through('/healthz', spoofed);
    expect({ status: reply.status, reached }).toEqual({ status: 200, reached: true });
    const saw = upstreamSaw(reply);
    for (const h of OWNED) expect(saw.headers[h]).toBeUndefined();
  });

  test('no token → 401 with a bare Bearer challenge at the client; the upstream is not reached', async () => {
    const result = await through('/orders/1', spoofed);
    expectRefused(result, 401, 'ERR_TOKEN_MISSING');
    expect(challenge(result.reply.headers['www-authenticate'])).toEqual({
      realm: REALM,
      resource_metadata: `${RESOURCE}${METADATA_PATH}`,
    });
  });

  test('RFC 9728 metadata reaches the client through the proxy, listing exactly the configured issuers', async () => {
    const { reply, reached } = await through(METADATA_PATH, spoofed);
    expect({ status: reply.status, reached }).toEqual({ status: 200, reached: false });
    expect(reply.headers['content-type']).toBe('application/json');
    expect(JSON.parse(reply.body)).toMatchObject({
      resource: RESOURCE,
      authorization_servers: [op.issuer, down.issuer],
      bearer_methods_supported: ['header'],
    });
  });

  test('bad token → 401 invalid_token', async () => {
    const bad = `${readToken.slice(0, -6)}${readToken.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA'}`;
    const result = await through('/orders/1', bearer(bad));
    expect(result.reply.status).toBe(401);
    expect(result.reached).toBe(false);
    expect(challenge(result.reply.headers['www-authenticate'])).toMatchObject({ realm: REALM, error: 'invalid_token' });
  });

  test('missing scope → 403 insufficient_scope with the challenge naming the scope', async () => {
    const result = await through('/admin/users', { ...bearer(readToken), ...spoofed });
    expectRefused(result, 403, 'ERR_INSUFFICIENT_SCOPE');
    expect(challenge(result.reply.headers['www-authenticate'])).toMatchObject({
      realm: REALM,
      error: 'insufficient_scope',
      scope: 'admin',
    });
  });

  test('the original method decides: POST /orders with an orders:read token → 403', async () => {
    expectRefused(await through('/orders', bearer(readToken), 'POST'), 403, 'ERR_INSUFFICIENT_SCOPE');
  });

  test('IdP outage (issuer whose IdP was down at start) → a 5xx at the client, not a 401', async () => {
    const result = await through('/orders/1', bearer(downToken));
    expect({ status: result.reply.status, reached: result.reached }).toEqual({ status: outageStatus, reached: false });
    expect(result.reply.headers['www-authenticate']).toBeUndefined();
  });

  // ---- issue 11: what a WSGI-style upstream reads (echo `environ`: HTTP_ + upper case + '-' → '_') ----

  /** The identity variables a WSGI upstream sees (only claimgate's values may be there). */
  const identityEnviron = (result: { reply: Reply; reached: boolean }) =>
    Object.fromEntries(Object.entries(upstreamSaw(result.reply).environ).filter(([k]) => k.startsWith('HTTP_X_AUTH_')));

  const FORGED_SPELLINGS = ['X_Auth_Roles', 'x_auth_scope', 'X-Auth_Sub', 'X.Auth.Client'];

  test('forged underscore/dot spellings of identity headers never reach a WSGI upstream (public route, no token)', async () => {
    for (const name of FORGED_SPELLINGS) {
      const result = await through('/healthz', { [name]: 'admin' });
      // Either the proxy drops the spelling (nginx: underscores_in_headers off, ignore_invalid_headers)
      // or claimgate refuses the request (400); never does the upstream read it as an identity header.
      if (result.reached) expect([name, identityEnviron(result)]).toEqual([name, {}]);
      else expectBadRequest(result, 'ERR_HEADER_NAME_AMBIGUOUS');
    }
  });

  test('with a token, a forged spelling is not merged into the identity the WSGI upstream reads', async () => {
    for (const name of FORGED_SPELLINGS) {
      const result = await through('/orders/42', { ...bearer(readToken), [name]: 'admin' });
      if (result.reached) {
        expect([name, identityEnviron(result)]).toEqual([
          name,
          { HTTP_X_AUTH_SUB: op.clientId, HTTP_X_AUTH_CLIENT: op.clientId, HTTP_X_AUTH_SCOPE: 'orders:read' },
        ]);
      } else expectBadRequest(result, 'ERR_HEADER_NAME_AMBIGUOUS');
    }
  });

  test('a raw # in the target is refused, not cut off (/healthz#/../admin is not the public route)', async () => {
    for (const path of ['/healthz#/../admin/users', '/healthz%23/../admin/users', '/healthz%3F/../admin/users']) {
      expectBadRequest(await through(path, {}), 'ERR_PATH_INVALID');
    }
  });

  test('a host with extra colon parts or userinfo never skips the host-scoped route', async () => {
    for (const host of [`${HOST}:1:2`, `user@${HOST}`, `${HOST}:99999`]) {
      const result = await through('/admin/users', { ...bearer(readToken), host });
      // Either claimgate refuses the authority (Caddy forwards it as sent: 400 ERR_HOST_INVALID), or the
      // proxy has already reduced it to the host it serves (nginx's $host) and the host route decides.
      expect([host, result.reached]).toEqual([host, false]);
      const reason = result.reply.headers['x-claimgate-reason'];
      if (result.reply.status === 403) expect(reason).toBe('ERR_INSUFFICIENT_SCOPE');
      else expectBadRequest(result, 'ERR_HOST_INVALID', false);
    }
  });

  test('method override is refused, not judged as the line method', async () => {
    const overrides: Record<string, string>[] = [
      { 'x-http-method-override': 'DELETE' },
      { 'x-method-override': 'DELETE' },
    ];
    for (const headers of overrides) {
      expectBadRequest(await through('/orders/42', { ...bearer(readToken), ...headers }), 'ERR_METHOD_OVERRIDE');
    }
    expectBadRequest(await through('/orders/42?_method=DELETE', bearer(readToken)), 'ERR_METHOD_OVERRIDE');
  });

  test('a bearer token next to a second credential (Basic in another Authorization line) is refused 400', async () => {
    const result = await through('/orders/42', { authorization: [`Bearer ${readToken}`, 'Basic dXNlcjpwYXNz'] });
    expectBadRequest(result, 'ERR_MULTIPLE_TOKENS', false);
  });

  test('client-sent forwarded headers cannot redescribe the request (/admin stays /admin, not the public /healthz)', async () => {
    const forged = {
      'x-forwarded-uri': '/healthz',
      'x-original-uri': '/healthz',
      'x-forwarded-method': 'GET',
      'x-original-method': 'GET',
      'x-forwarded-host': 'other.example.com',
    };
    expectRefused(await through('/admin', forged, 'DELETE'), 401, 'ERR_TOKEN_MISSING');
  });
});
