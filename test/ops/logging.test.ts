/**
 * Structured logs: one decision line per Check with the documented fields, allow sampling, the log
 * level (also after a reload), and the central redaction list. Every line claimgate writes while
 * serving tokens, cookies and authorization headers is captured through `createLogger(level, stream)`
 * and searched for them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import type { Claimgate } from '../../src/app/claimgate.js';
import { createCheckClient, type CheckClient } from '../../src/cli/check-client.js';
import { validateConfig } from '../../src/validation/load.js';
import type { Decision } from '../../src/core/types.js';
import { createLogger, REDACTED_FIELDS } from '../../src/core/log.js';
import { createDecisionLogger } from '../../src/ops/decision-log.js';
import { startSettledGate } from '../support/gate.js';

const ISSUER = 'https://idp.acme.test';
const AUDIENCE = 'https://api.example.com';
const ROUTE = 'orders-read';

/** Collects every line a logger writes. */
class Capture {
  readonly lines: string[] = [];
  write(chunk: string): void {
    for (const line of chunk.split('\n')) if (line !== '') this.lines.push(line);
  }
  get records(): Record<string, unknown>[] {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
  decisions(): Record<string, unknown>[] {
    return this.records.filter((r) => r.msg === 'decision');
  }
  clear(): void {
    this.lines.length = 0;
  }
}

let dir: string;
let jwksFile: string;
let signingKey: CryptoKey;
let strangerKey: CryptoKey;

interface TokenOptions {
  iss?: string;
  aud?: string;
  sub?: string;
  scope?: string;
  exp?: number;
  key?: CryptoKey;
}

async function token(o: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ scope: o.scope ?? 'orders:read', client_id: 'web' })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
    .setIssuer(o.iss ?? ISSUER)
    .setAudience(o.aud ?? AUDIENCE)
    .setSubject(o.sub ?? 'user-1')
    .setIssuedAt(now - 10)
    .setExpirationTime(o.exp ?? now + 300)
    .setJti(`jti-${Math.random()}`)
    .sign(o.key ?? signingKey);
}

function config(logging: { level?: string; allow_sample_rate?: number } = {}) {
  return validateConfig({
    server: { grpc_address: '127.0.0.1:0', admin_address: '127.0.0.1:0', shutdown_grace_ms: 500, watch_config: false },
    logging: { level: 'info', ...logging },
    issuers: [
      {
        name: 'acme',
        issuer: ISSUER,
        jwks_file: jwksFile,
        audiences: [AUDIENCE],
        algorithms: ['ES256'],
        token_locations: [{ header: 'authorization', scheme: 'Bearer' }, { cookie: 'at' }],
      },
    ],
    routes: [
      {
        name: ROUTE,
        match: { methods: ['GET'], path: { template: '/orders/{id}' } },
        require: { scope: 'orders:read' },
      },
      { name: 'health', match: { path: { exact: '/healthz' } }, public: true },
    ],
  });
}

interface Running {
  gate: Claimgate;
  client: CheckClient;
  capture: Capture;
  close(): Promise<void>;
}

async function start(
  logging: { level?: 'info' | 'warn' | 'debug'; allow_sample_rate?: number } = {},
): Promise<Running> {
  const capture = new Capture();
  const cfg = config(logging);
  const logger = createLogger(cfg.logging.level, capture);
  const gate = await startSettledGate(cfg, { logger });
  const client = createCheckClient(`127.0.0.1:${gate.grpcPort}`);
  return {
    gate,
    client,
    capture,
    async close() {
      client.close();
      await gate.close(200);
    },
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'claimgate-logging-test-'));
  const pair = await generateKeyPair('ES256', { extractable: true });
  signingKey = pair.privateKey;
  strangerKey = (await generateKeyPair('ES256')).privateKey;
  jwksFile = join(dir, 'jwks.json');
  writeFileSync(
    jwksFile,
    JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] }),
  );
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('decision log lines', () => {
  let run: Running;
  beforeAll(async () => {
    run = await start();
  });
  afterAll(async () => run.close());

  it('writes exactly one line per Check with decision, reason, issuer, route, sub, duration_ms and request_id', async () => {
    run.capture.clear();
    const good = await token({ sub: 'alice' });
    const weak = await token({ sub: 'bob', scope: 'profile' });
    await run.client.check({ path: '/orders/1', token: good, headers: { 'x-request-id': 'req-allow' } });
    await run.client.check({ path: '/orders/2', headers: { 'x-request-id': 'req-missing' } });
    await run.client.check({ path: '/orders/3', token: weak, headers: { 'x-request-id': 'req-scope' } });
    await run.client.check({ path: '/healthz' });
    await run.client.check({ path: '/orders/4', token: good, headers: { 'x-request-id': 'r'.repeat(500) } });

    const lines = run.capture.decisions();
    expect(lines).toHaveLength(5);
    for (const line of lines) {
      expect(line).toMatchObject({ level: 'info', service: 'claimgate', msg: 'decision', method: 'GET' });
      expect(typeof line.duration_ms).toBe('number');
      expect(line.duration_ms as number).toBeGreaterThanOrEqual(0);
      expect(line.duration_ms as number).toBeLessThan(5000);
      expect(typeof line.time).toBe('string');
    }
    expect(lines[0]).toMatchObject({
      decision: 'allow',
      reason: 'OK_AUTHENTICATED',
      status: 200,
      issuer: 'acme',
      route: ROUTE,
      sub: 'alice',
      request_id: 'req-allow',
    });
    expect(lines[1]).toMatchObject({
      decision: 'deny',
      reason: 'ERR_TOKEN_MISSING',
      status: 401,
      route: ROUTE,
      request_id: 'req-missing',
    });
    expect(lines[1]).not.toHaveProperty('sub');
    expect(lines[1]).not.toHaveProperty('issuer');
    expect(lines[2]).toMatchObject({
      decision: 'deny',
      reason: 'ERR_INSUFFICIENT_SCOPE',
      status: 403,
      issuer: 'acme',
      route: ROUTE,
      sub: 'bob',
      request_id: 'req-scope',
    });
    expect(lines[3]).toMatchObject({ decision: 'allow', reason: 'OK_PUBLIC_ROUTE', route: 'health' });
    expect(lines[3]).not.toHaveProperty('request_id');
    // A client-chosen request id is cut to a bounded length.
    expect(lines[4]?.request_id).toBe('r'.repeat(128));
  });

  it('follows the log level, including a level changed by reload', async () => {
    const cfg = config({ level: 'warn' });
    expect(run.gate.reload(cfg).ok).toBe(true);
    run.capture.clear();
    await run.client.check({ path: '/orders/1', token: await token() });
    await run.client.check({ path: '/orders/1' });
    expect(run.capture.decisions()).toHaveLength(0);

    expect(run.gate.reload(config({ level: 'info' })).ok).toBe(true);
    run.capture.clear();
    await run.client.check({ path: '/orders/1' });
    expect(run.capture.decisions()).toHaveLength(1);
  });
});

describe('allow sampling', () => {
  it('allow_sample_rate 0 logs no allows but every denial', async () => {
    const run = await start({ allow_sample_rate: 0 });
    try {
      const good = await token();
      for (let i = 0; i < 5; i++) await run.client.check({ path: `/orders/${i}`, token: good });
      await run.client.check({ path: '/healthz' });
      for (let i = 0; i < 3; i++) await run.client.check({ path: `/orders/${i}` });
      await run.client.check({ path: '/orders/1', token: await token({ scope: 'profile' }) });
      const lines = run.capture.decisions();
      expect(lines.map((l) => l.reason)).toEqual([
        'ERR_TOKEN_MISSING',
        'ERR_TOKEN_MISSING',
        'ERR_TOKEN_MISSING',
        'ERR_INSUFFICIENT_SCOPE',
      ]);
    } finally {
      await run.close();
    }
  });

  it('logs the configured fraction of allows (decision logger with a fixed random source); errors always, at warn', () => {
    const capture = new Capture();
    const randoms = [0.1, 0.3, 0.24, 0.9, 0.25, 0.0];
    let i = 0;
    const log = createDecisionLogger(createLogger('info', capture), {
      allowSampleRate: 0.25,
      random: () => randoms[i++ % randoms.length] as number,
    });
    const allow: Decision = {
      outcome: 'allow',
      reason: 'OK_AUTHENTICATED',
      route: 'r',
      issuer: 'acme',
      subject: 's',
      headersToSet: [],
      headersToRemove: [],
    };
    for (let n = 0; n < randoms.length; n++) log(undefined, allow, 0.0001);
    expect(capture.decisions()).toHaveLength(3); // 0.1, 0.24, 0.0 are below 0.25
    log(undefined, { outcome: 'deny', reason: 'ERR_TOKEN_MISSING', status: 401 }, 0.0001);
    log(undefined, { outcome: 'error', reason: 'ERR_JWKS_UNAVAILABLE', status: 503, issuer: 'acme' }, 0.0001);
    const last = capture.decisions().slice(-2);
    expect(last.map((l) => [l.level, l.decision, l.reason])).toEqual([
      ['info', 'deny', 'ERR_TOKEN_MISSING'],
      ['warn', 'error', 'ERR_JWKS_UNAVAILABLE'],
    ]);
    expect(last[0]?.duration_ms).toBe(0.1);
  });
});

describe('no token, cookie or authorization header is ever logged', () => {
  it('finds none of them in any line written while serving a mix of good, bad and hostile requests', async () => {
    const run = await start({ level: 'debug' });
    const secrets: string[] = [];
    const remember = (t: string) => {
      secrets.push(t);
      for (const segment of t.split('.')) if (segment.length >= 8) secrets.push(segment);
      return t;
    };
    const cookieSecret = 'sessioncookie-s3cr3t-value-0123456789';
    secrets.push(cookieSecret);
    try {
      const now = Math.floor(Date.now() / 1000);
      const tokens = [
        remember(await token({ sub: 'alice' })),
        remember(await token({ exp: now - 3600 })),
        remember(await token({ key: strangerKey })),
        remember(await token({ iss: 'https://evil.example' })),
        remember(await token({ aud: 'https://other.example' })),
        remember(await token({ scope: 'profile' })),
        remember(`${(await token()).slice(0, -4)}AAAA`),
        remember('not-a-jwt-but-a-secret-looking-string'),
        remember(`eyJhbGciOiJub25lIn0.${Buffer.from('{"sub":"x"}').toString('base64url')}.`),
      ];
      for (const t of tokens) {
        await run.client.check({ path: '/orders/1', token: t, headers: { cookie: `session=${cookieSecret}` } });
        await run.client.check({ path: '/orders/1', headers: { cookie: `at=${t}; session=${cookieSecret}` } });
        await run.client.check({
          path: '/orders/1',
          headers: { authorization: `Basic ${t}`, cookie: `session=${cookieSecret}` },
        });
      }
      // Two tokens at once, an oversized token, a token in the query string of the path.
      const good = tokens[0] as string;
      await run.client.check({ path: '/orders/1', token: good, headers: { cookie: `at=${good}` } });
      await run.client.check({ path: `/orders/1?access_token=${good}`, token: remember(`${good}${'A'.repeat(9000)}`) });
      // A reload that fails and one that succeeds also log.
      const bad = join(dir, 'bad.yaml');
      writeFileSync(
        bad,
        `issuers: [{ name: acme, issuer: ${ISSUER}, jwks_file: x, audiences: [] }]\nsecret_token: ${good}\n`,
      );
      expect((await run.gate.reloadFromFile(bad)).ok).toBe(false);

      const text = run.capture.lines.join('\n');
      expect(run.capture.decisions().length).toBe(tokens.length * 3 + 2);
      expect(text).toMatch(/config reload rejected/);
      for (const secret of secrets) expect(text.includes(secret) ? secret : 'absent').toBe('absent');
      expect(text).not.toMatch(/Bearer\s/i);
      expect(text).not.toMatch(/Basic\s/);
      expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/); // nothing that looks like a JOSE header
      expect(text).not.toContain('session=');
      expect(text).not.toContain('access_token');
    } finally {
      await run.close();
    }
  });
});

describe('central redaction list', () => {
  const logged = (fields: Record<string, unknown>): Record<string, unknown> => {
    const capture = new Capture();
    createLogger('info', capture).info(fields, 'test');
    expect(capture.lines).toHaveLength(1);
    return capture.records[0] as Record<string, unknown>;
  };

  it('censors authorization and headers passed to any log call', () => {
    const line = logged({
      authorization: 'Bearer x',
      headers: { authorization: 'Bearer y', cookie: 'a=b' },
      keep: 'visible',
    });
    expect(line.authorization).toBe('[redacted]');
    expect(line.headers).toBe('[redacted]');
    expect(line.keep).toBe('visible');
    expect(JSON.stringify(line)).not.toMatch(/Bearer|a=b/);
  });

  it('censors every listed field at the top level and one level down', () => {
    const names = REDACTED_FIELDS.filter((f) => !f.startsWith('*.'));
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) {
      const line = logged({ [name]: 'SECRET-VALUE', nested: { [name]: 'SECRET-VALUE', ok: 1 } });
      expect([
        name,
        line[name],
        (line.nested as Record<string, unknown>)[name],
        (line.nested as Record<string, unknown>).ok,
      ]).toEqual([name, '[redacted]', '[redacted]', 1]);
      expect(JSON.stringify(line)).not.toContain('SECRET-VALUE');
    }
    for (const name of [
      'token',
      'authorization',
      'cookie',
      'password',
      'secret',
      'client_secret',
      'private_key',
      'headers',
    ])
      expect(names).toContain(name);
  });
});
