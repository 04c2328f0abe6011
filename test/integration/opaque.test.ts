/**
 * Opaque access tokens against a real OpenID provider (`oidc-provider` on loopback): it issues opaque
 * tokens through the client-credentials grant and answers RFC 7662 introspection (and RFC 9701 JWT
 * introspection responses) and RFC 7009 revocation. claimgate introspects with its own client
 * credentials; every decision travels over real gRPC. claimgate's clock is injected, so expiry and the
 * cache bound are tested without waiting.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCheckClient } from '../../src/cli/check-client.js';
import { validateConfig } from '../../src/validation/load.js';
import { createLogger } from '../../src/core/log.js';
import { DEFAULT_AUDIENCE, startOidcProvider, type OidcProviderIdp } from '../support/oidc-provider.js';
import { HOST, IDENTITY_HEADERS, REALM, ROUTES } from './harness.js';
import { startSettledGate } from '../support/gate.js';

const INTROSPECTION_PATH = '/token/introspection';

let op: OidcProviderIdp;
const dir = mkdtempSync(join(tmpdir(), 'claimgate-opaque-'));
const secretFile = (name: string, secret: string) => {
  const file = join(dir, name);
  writeFileSync(file, `${secret}\n`);
  return file;
};

beforeAll(async () => {
  op = await startOidcProvider({ opaqueTokens: true });
});
afterAll(async () => {
  await op?.close();
});

interface GateOptions {
  readonly client?: 'basic' | 'post' | 'jwt';
  readonly secretFile?: string;
  readonly introspection?: Record<string, unknown>;
}

async function startOpaqueGate(options: GateOptions = {}) {
  const kind = options.client ?? 'basic';
  const client = op.introspectionClients[kind];
  const config = validateConfig({
    server: {
      grpc_address: '127.0.0.1:0',
      admin_address: '127.0.0.1:0',
      shutdown_grace_ms: 500,
      check_deadline_ms: 3000,
    },
    realm: REALM,
    issuers: [
      {
        name: 'op',
        issuer: op.issuer,
        audiences: [DEFAULT_AUDIENCE],
        allow_insecure_http: true,
        clock_skew_seconds: 0,
        introspection: {
          client_id: client.clientId,
          auth_method: kind === 'post' ? 'client_secret_post' : 'client_secret_basic',
          client_secret_file: options.secretFile ?? secretFile(`${kind}.secret`, client.secret),
          jwt_response: kind === 'jwt',
          ...options.introspection,
        },
      },
    ],
    opaque_tokens: [{ issuer: 'op' }],
    routes: ROUTES,
    upstream: { headers: [...IDENTITY_HEADERS, { name: 'x-auth-subject', principal: 'qualified_subject' }] },
  });
  let clockOffsetMs = 0;
  const lines: Record<string, unknown>[] = [];
  const gate = await startSettledGate(config, {
    nowMs: () => Date.now() + clockOffsetMs,
    logger: createLogger('info', { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) }),
  });
  const grpc = createCheckClient(`127.0.0.1:${gate.grpcPort}`);
  return {
    gate,
    lines,
    advanceClock: (ms: number) => void (clockOffsetMs += ms),
    check: (token: string, path = '/orders/1') => grpc.check({ host: HOST, path, token }),
    async close() {
      grpc.close();
      await gate.close(200);
    },
  };
}

describe('opaque tokens introspected at a real oidc-provider', () => {
  test('the provider issues opaque tokens (the premise)', async () => {
    const token = await op.mintClientCredentialsToken('orders:read');
    expect(token.includes('.')).toBe(false);
  });

  test.each(['basic', 'post', 'jwt'] as const)(
    'an active token is allowed with the identity headers of its introspection (client auth %s)',
    async (client) => {
      const gate = await startOpaqueGate({ client });
      try {
        const token = await op.mintClientCredentialsToken('orders:read');
        const answer = await gate.check(token);
        expect(answer.kind).toBe('allow');
        expect(answer.headers).toMatchObject({
          'x-auth-issuer': op.issuer,
          'x-auth-client': op.clientId,
          'x-auth-scope': 'orders:read',
          // No `sub` in a client-credentials token: the client is the subject.
          'x-auth-subject': `op|${op.clientId}`,
        });
        // The route's scope requirement reads the introspected scope like a JWT's.
        expect((await gate.check(token, '/billing')).reason).toBe('ERR_PERMISSION_MISSING');
      } finally {
        await gate.close();
      }
    },
  );

  test('a revoked token is refused once the cached answer (bounded by max_cache_ttl_seconds) is gone', async () => {
    const gate = await startOpaqueGate({ introspection: { max_cache_ttl_seconds: 30 } });
    try {
      const token = await op.mintClientCredentialsToken('orders:read');
      expect((await gate.check(token)).kind).toBe('allow');
      await op.revoke(token);
      gate.advanceClock(31_000);
      const answer = await gate.check(token);
      expect({ kind: answer.kind, status: answer.httpStatus, reason: answer.reason }).toEqual({
        kind: 'deny',
        status: 401,
        reason: 'ERR_TOKEN_INACTIVE',
      });
      expect(answer.headers['www-authenticate']).toContain('error="invalid_token"');
      const revokedUnseen = await op.mintClientCredentialsToken('orders:read');
      await op.revoke(revokedUnseen);
      expect((await gate.check(revokedUnseen)).reason).toBe('ERR_TOKEN_INACTIVE');
    } finally {
      await gate.close();
    }
  });

  test('an expired token is refused (claimgate checks exp itself, and never serves a cached answer past it)', async () => {
    const gate = await startOpaqueGate({ introspection: { max_cache_ttl_seconds: 3600 } });
    try {
      const token = await op.mintClientCredentialsToken('orders:read');
      expect((await gate.check(token)).kind).toBe('allow');
      gate.advanceClock(601_000); // the provider's tokens live 600 s
      const answer = await gate.check(token);
      expect({ kind: answer.kind, status: answer.httpStatus, reason: answer.reason }).toEqual({
        kind: 'deny',
        status: 401,
        reason: 'ERR_TOKEN_EXPIRED',
      });
    } finally {
      await gate.close();
    }
  });

  test('wrong client credentials: an error answer (503, not 401) and a clear log line without the secret', async () => {
    const wrong = secretFile('wrong.secret', 'not-the-secret');
    const gate = await startOpaqueGate({ secretFile: wrong });
    try {
      const token = await op.mintClientCredentialsToken('orders:read');
      const answer = await gate.check(token);
      expect({ kind: answer.kind, status: answer.httpStatus, reason: answer.reason }).toEqual({
        kind: 'error',
        status: 503,
        reason: 'ERR_INTROSPECTION_UNAVAILABLE',
      });
      const line = gate.lines.find((l) => String(l.msg).includes("rejected claimgate's client credentials"));
      expect(line).toMatchObject({ level: 'error', issuer: 'op', status: 401 });
      const all = JSON.stringify(gate.lines);
      expect(all).not.toContain('not-the-secret');
      expect(all).not.toContain(token);
    } finally {
      await gate.close();
    }
  });

  test('the secret file is re-read on reload: fixing it heals the next Check; a missing file is refused', async () => {
    const file = secretFile('rotating.secret', 'stale-secret');
    const gate = await startOpaqueGate({ secretFile: file });
    try {
      const token = await op.mintClientCredentialsToken('orders:read');
      expect((await gate.check(token)).reason).toBe('ERR_INTROSPECTION_UNAVAILABLE');
      writeFileSync(file, op.introspectionClients.basic.secret);
      const config = gate.gate.compiled().source;
      expect(gate.gate.reload(config).ok).toBe(true);
      expect((await gate.check(token)).kind).toBe('allow');
      const missing = {
        ...config,
        issuers: config.issuers.map((i) => ({
          ...i,
          introspection: { ...i.introspection!, client_secret_file: join(dir, 'absent.secret') },
        })),
      };
      const result = gate.gate.reload(missing);
      expect(result.ok).toBe(false);
      expect(JSON.stringify(result)).toContain('absent.secret (ENOENT)');
      expect((await gate.check(token)).kind).toBe('allow');
    } finally {
      await gate.close();
    }
  });

  test('1,000 concurrent Checks with one new token make one introspection call', async () => {
    const gate = await startOpaqueGate();
    try {
      const token = await op.mintClientCredentialsToken('orders:read');
      const before = op.requests(INTROSPECTION_PATH);
      const answers = await Promise.all(Array.from({ length: 1000 }, () => gate.check(token)));
      expect(answers.filter((a) => a.kind === 'allow')).toHaveLength(1000);
      expect(op.requests(INTROSPECTION_PATH) - before).toBe(1);
      const metrics = await gate.gate.metrics.registry.metrics();
      expect(metrics).toMatch(/claimgate_lookups_total\{kind="introspection",name="op",result="ok"\} 1\n/);
    } finally {
      await gate.close();
    }
  });

  test('a JWT is still verified locally, never introspected', async () => {
    const gate = await startOpaqueGate();
    try {
      const before = op.requests(INTROSPECTION_PATH);
      const jwt = await op.sign({
        iss: op.issuer,
        aud: DEFAULT_AUDIENCE,
        sub: 'x',
        scope: 'orders:read',
        client_id: 'c',
        iat: Math.floor(Date.now() / 1000),
        exp: Math.floor(Date.now() / 1000) + 60,
      });
      const answer = await gate.check(jwt);
      expect([answer.kind, answer.reason]).toEqual(['allow', undefined]);
      expect(op.requests(INTROSPECTION_PATH)).toBe(before);
    } finally {
      await gate.close();
    }
  });

  test('the provider down: an error answer, not a 401', async () => {
    const gate = await startOpaqueGate();
    try {
      const token = await op.mintClientCredentialsToken('orders:read');
      await op.stop();
      const answer = await gate.check(token);
      expect({ kind: answer.kind, status: answer.httpStatus, reason: answer.reason }).toEqual({
        kind: 'error',
        status: 503,
        reason: 'ERR_INTROSPECTION_UNAVAILABLE',
      });
    } finally {
      await op.restart();
      await gate.close();
    }
  });
});
