/**
 * SECURITY.md P17, P19, P20 (issue 11, second attack review): values forwarded exactly or not at all,
 * key rotation that cannot be starved and egress that cannot be misdirected, and sender-constrained
 * tokens never taken as bearer tokens. Every test goes through the real gRPC service (startClaimgate,
 * a grpc-js client over loopback) with real signatures; key timing runs on an injected clock.
 */
import { randomUUID } from 'node:crypto';
import { startClaimgate, type Claimgate } from '../../src/app/claimgate.js';
import { createCheckClient, type CheckClient, type CheckSummary } from '../../src/cli/check-client.js';
import { ConfigError, validateConfig } from '../../src/validation/load.js';
import { FakeClock } from '../keys/fake-clock.js';
import {
  AUD,
  b64u,
  claims,
  cleanupTmp,
  fileIssuer,
  ISS_A,
  mint,
  NOW_MS,
  rsaKey,
  sendJson,
  signParts,
  startCountingServer,
  type CountingServer,
} from './harness.js';

afterAll(() => cleanupTmp());

const keyA = rsaKey('a-1');
const keyA2 = rsaKey('a-2');

interface Running {
  readonly app: Claimgate;
  readonly client: CheckClient;
  check(token: string | undefined, path?: string): Promise<CheckSummary>;
  close(): Promise<void>;
}

async function start(raw: Record<string, unknown>, clock?: FakeClock): Promise<Running> {
  const config = validateConfig({
    server: { grpc_address: '127.0.0.1:0', admin_address: '127.0.0.1:0', watch_config: false },
    unmatched: 'authenticated',
    ...raw,
  });
  const app = await startClaimgate(config, {
    nowMs: () => NOW_MS,
    admin: false,
    ...(clock ? { keyDeps: { now: clock.now, setTimer: clock.setTimer, random: () => 0.5 } } : {}),
  });
  await app.whenSettled();
  const client = createCheckClient(`127.0.0.1:${app.grpcPort}`);
  return {
    app,
    client,
    check: (token, path = '/api/items') => client.check(token === undefined ? { path } : { path, token }),
    close: async () => {
      client.close();
      await app.close(100);
    },
  };
}

/** A token whose payload is written as raw JSON text (so numbers keep every digit). */
function mintRaw(key: typeof keyA, payloadJson: string): string {
  return signParts('RS256', key.privateKey, { alg: 'RS256', typ: 'at+jwt', kid: key.kid }, payloadJson);
}

const rawClaims = (extra: string) => JSON.stringify(claims()).replace(/}$/, `,${extra}}`);

describe('P17 values forwarded exactly or not at all', () => {
  let gate: Running;
  beforeAll(async () => {
    gate = await start({
      issuers: [fileIssuer('a', ISS_A, [keyA.jwk])],
      routes: [
        { name: 'admin', match: { path: { prefix: '/admin' } }, require: { role: 'admin' } },
        { name: 'orders', match: { path: { prefix: '/orders' } }, require: { scope: 'orders' } },
        { name: 'level', match: { path: { prefix: '/level' } }, require: { claim: { path: 'level', equals: 1 } } },
        {
          name: 'not-suspended',
          match: { path: { prefix: '/account' } },
          require: { not: { claim: { path: 'suspended', equals: true } } },
        },
        {
          name: 'no-actor',
          match: { path: { prefix: '/direct' } },
          require: { claim: { path: 'act.sub', exists: false } },
        },
      ],
      upstream: {
        headers: [
          { name: 'x-user-id', claim: 'uid' },
          { name: 'x-auth-roles', claim: 'roles' },
          { name: 'x-scope', claim: 'scope' },
        ],
      },
    });
  });
  afterAll(() => gate.close());

  it('three 19-digit user ids that a double rounds to one value are forwarded as three exact ids', async () => {
    const ids = ['1152921504606846975', '1152921504606846976', '1152921504606846977'];
    const forwarded: string[] = [];
    for (const id of ids) {
      const answer = await gate.check(mintRaw(keyA, rawClaims(`"uid":${id}`)));
      expect(answer.kind).toBe('allow');
      forwarded.push(answer.headers['x-user-id']!);
    }
    expect(forwarded).toEqual(ids);
  });

  it('a number that only rounds to the configured value does not match it; the exact value does', async () => {
    expect((await gate.check(mintRaw(keyA, rawClaims('"level":1.0000000000000000001')), '/level')).httpStatus).toBe(
      403,
    );
    expect((await gate.check(mintRaw(keyA, rawClaims('"level":1')), '/level')).kind).toBe('allow');
  });

  it('the config refuses a comparison value that cannot be held exactly', () => {
    const attempt = () =>
      validateConfig({
        issuers: [fileIssuer('a', ISS_A, [keyA.jwk])],
        routes: [{ name: 'r', require: { claim: { path: 'uid', equals: 1152921504606846976 } } }],
      });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/cannot be compared exactly/);
  });

  it('a roles string holding the separator is neither matched nor forwarded', async () => {
    const token = mint(keyA, { roles: 'user,admin' });
    expect((await gate.check(token, '/admin')).httpStatus).toBe(403);
    const open = await gate.check(token, '/api/items');
    expect(open.kind).toBe('allow');
    expect(open.headers['x-auth-roles']).toBeUndefined();
    expect(open.headersToRemove).toContain('x-auth-roles');
    // An array element with the separator: the same rule.
    const element = mint(keyA, { roles: ['admin', 'user,ops'] });
    expect((await gate.check(element, '/admin')).httpStatus).toBe(403);
    expect((await gate.check(element)).headersToRemove).toContain('x-auth-roles');
    // A clean array is matched and forwarded joined.
    const clean = await gate.check(mint(keyA, { roles: ['user', 'admin'] }), '/admin');
    expect([clean.kind, clean.headers['x-auth-roles']]).toEqual(['allow', 'user,admin']);
  });

  it('a scope with a TAB or a double space grants nothing and is not forwarded', async () => {
    for (const scope of ['orders\tadmin', 'orders  admin', ' orders']) {
      const token = mint(keyA, { scope });
      expect((await gate.check(token, '/orders')).httpStatus).toBe(403);
      const open = await gate.check(token);
      expect(open.headers['x-scope']).toBeUndefined();
      expect(open.headersToRemove).toContain('x-scope');
    }
    const good = await gate.check(mint(keyA, { scope: 'orders admin' }), '/orders');
    expect([good.kind, good.headers['x-scope']]).toEqual(['allow', 'orders admin']);
  });

  it('not / exists:false fail closed on a mistyped claim or a split dotted name', async () => {
    expect((await gate.check(mint(keyA, { suspended: 'true' }), '/account')).httpStatus).toBe(403);
    expect((await gate.check(mint(keyA, { suspended: true }), '/account')).httpStatus).toBe(403);
    expect((await gate.check(mint(keyA, { suspended: false }), '/account')).kind).toBe('allow');
    expect((await gate.check(mint(keyA, {}), '/account')).kind).toBe('allow');
    expect((await gate.check(mint(keyA, { 'act.sub': 'svc' }), '/direct')).httpStatus).toBe(403);
    expect((await gate.check(mint(keyA, { act: 'svc' }), '/direct')).httpStatus).toBe(403);
    expect((await gate.check(mint(keyA, {}), '/direct')).kind).toBe('allow');
  });

  it('a list under not is refused with a clear error instead of meaning "not both"', () => {
    // Every "all of these" kind, h14's groups included; tenant (one of) under not means "none of them".
    for (const kind of ['role', 'scope', 'permission', 'group']) {
      const attempt = () =>
        validateConfig({
          issuers: [fileIssuer('a', ISS_A, [keyA.jwk])],
          routes: [{ name: 'r', require: { not: { [kind]: ['banned', 'suspended'] } } }],
        });
      expect(attempt).toThrow(/a list under not means "not all of them"/);
    }
  });
});

// ---- P19 -----------------------------------------------------------------------------------------

/** A loopback IdP serving `keys()` at /jwks, counting requests. */
async function jwksIdp(keys: () => unknown[]): Promise<CountingServer> {
  const idp = await startCountingServer();
  idp.handle((_req, res) => sendJson(res, 200, { keys: keys() }));
  return idp;
}

interface Rotation {
  readonly gate: Running;
  readonly clock: FakeClock;
  readonly idp: CountingServer;
  /** Replace what the IdP publishes from now on. */
  publish(keys: unknown[]): void;
}

/** A gate on a loopback IdP publishing keyA, with key timing on a fake clock; torn down afterwards. */
async function withRotatingIdp(body: (r: Rotation) => Promise<void>): Promise<void> {
  let published: unknown[] = [keyA.jwk];
  const idp = await jwksIdp(() => published);
  const clock = new FakeClock();
  const gate = await start({ issuers: [remote(idp)] }, clock);
  try {
    await body({ gate, clock, idp, publish: (keys) => (published = keys) });
  } finally {
    await gate.close();
    await idp.close();
  }
}

const remote = (idp: CountingServer, keys: Record<string, unknown> = {}) => ({
  name: 'a',
  issuer: ISS_A,
  jwks_uri: `${idp.origin}/jwks`,
  allow_insecure_http: true,
  audiences: [AUD],
  keys: { min_refresh_seconds: 600, max_refresh_seconds: 600, ...keys },
});

describe('P19 keys and IdP documents cannot be starved or misdirected', () => {
  it('under a continuous flood of random kids, a newly published key is accepted within cooldown_seconds of its first appearance, and fetches stay bounded', () =>
    withRotatingIdp(async ({ gate, clock, idp, publish }) => {
      const stepMs = 250;
      let firstSeenAt: number | undefined;
      let acceptedAt: number | undefined;
      const startAt = clock.now();
      for (let t = 0; t <= 20_000; t += stepMs) {
        for (let i = 0; i < 3; i++) {
          const forged = mint({ ...keyA, kid: randomUUID() });
          expect((await gate.check(forged)).kind).not.toBe('allow');
        }
        if (t === 8_000) publish([keyA.jwk, keyA2.jwk]);
        if (t >= 8_000 && acceptedAt === undefined) {
          firstSeenAt ??= clock.now();
          if ((await gate.check(mint(keyA2))).kind === 'allow') acceptedAt = clock.now();
        }
        await clock.advance(stepMs);
      }
      const cooldownMs = 2_000; // the default issuer-wide cooldown
      expect(acceptedAt).toBeDefined();
      expect(acceptedAt! - firstSeenAt!).toBeLessThanOrEqual(cooldownMs + stepMs);
      // Bound: one prefetch plus at most one on-demand fetch per cooldown window.
      const windows = Math.ceil((clock.now() - startAt) / cooldownMs);
      expect(idp.count('/jwks')).toBeLessThanOrEqual(1 + windows);
    }));

  it('a kid seen two seconds before its key is published is re-checked within seconds, not after 30', () =>
    withRotatingIdp(async ({ gate, clock, idp, publish }) => {
      expect((await gate.check(mint(keyA2))).reason).toBe('ERR_KEY_NOT_FOUND');
      await clock.advance(2_000);
      publish([keyA.jwk, keyA2.jwk]);
      let refused = 0;
      let acceptedAfterMs: number | undefined;
      for (let t = 0; t <= 30_000 && acceptedAfterMs === undefined; t += 100) {
        // A fresh token each time: the same key, new jti (as clients would send).
        const answer = await gate.check(mint(keyA2, { jti: randomUUID() }));
        if (answer.kind === 'allow') acceptedAfterMs = t;
        else refused++;
        await clock.advance(100);
      }
      // kid_cooldown_seconds (5 s) after the first miss, i.e. at most 3 s after publication.
      expect(acceptedAfterMs).toBeDefined();
      expect(acceptedAfterMs!).toBeLessThanOrEqual(3_000);
      expect(refused).toBeLessThanOrEqual(31);
      expect(idp.count('/jwks')).toBe(3); // prefetch, the early miss, the re-check
    }));

  it('an IdP that replaces the key behind the same kid: one rate-limited refetch, then the new key verifies', () =>
    withRotatingIdp(async ({ gate, idp, publish }) => {
      expect((await gate.check(mint(keyA))).kind).toBe('allow');
      const replacement = { ...keyA2, kid: 'a-1' };
      publish([{ ...keyA2.jwk, kid: 'a-1' }]);
      const answer = await gate.check(mint(replacement));
      expect(answer.kind).toBe('allow');
      expect(idp.count('/jwks')).toBe(2);
      // Bad signatures under the known kid cannot turn this into a fetch per request.
      for (let i = 0; i < 50; i++) {
        const token = mint(replacement, { jti: `j${i}` });
        const forged = `${token.slice(0, token.lastIndexOf('.'))}.${b64u(Buffer.alloc(256, i))}`;
        expect((await gate.check(forged)).reason).toBe('ERR_SIGNATURE_INVALID');
      }
      expect(idp.count('/jwks')).toBeLessThanOrEqual(3);
    }));

  describe('egress policy for a discovered jwks_uri', () => {
    /** A loopback IdP whose discovery document names `jwksUri`, and a trap server it may point at. */
    async function setup(jwksUri: (trap: CountingServer) => string) {
      const trap = await jwksIdp(() => [keyA.jwk]);
      const idp = await startCountingServer();
      const issuer = idp.origin;
      idp.handle((req, res) =>
        req.url === '/.well-known/openid-configuration'
          ? sendJson(res, 200, { issuer, jwks_uri: jwksUri(trap) })
          : sendJson(res, 200, { keys: [keyA.jwk] }),
      );
      const token = mint(keyA, { iss: issuer });
      const issuerConfig = (extra: Record<string, unknown> = {}) => ({
        name: 'a',
        issuer,
        allow_insecure_http: true,
        audiences: [AUD],
        ...extra,
      });
      return { trap, idp, token, issuerConfig, close: () => Promise.all([trap.close(), idp.close()]) };
    }

    it('a jwks_uri on another host or port is never contacted by default (503, zero requests)', async () => {
      const s = await setup((trap) => `${trap.origin}/jwks`);
      const gate = await start({ issuers: [s.issuerConfig()] });
      try {
        const answer = await gate.check(s.token);
        expect([answer.kind, answer.httpStatus]).toEqual(['error', 503]);
        expect(s.trap.count()).toBe(0);
      } finally {
        await gate.close();
        await s.close();
      }
    });

    it('a listed host that resolves to loopback is still refused unless private addresses are allowed', async () => {
      const s = await setup((trap) => `${trap.origin}/jwks`);
      const listed = (trapHost: string, extra: Record<string, unknown> = {}) =>
        s.issuerConfig({ jwks_hosts: [trapHost], ...extra });
      const host = new URL(s.trap.origin).host;
      const refused = await start({ issuers: [listed(host)] });
      try {
        expect((await refused.check(s.token)).httpStatus).toBe(503);
        expect(s.trap.count()).toBe(0);
      } finally {
        await refused.close();
      }
      const allowed = await start({ issuers: [listed(host, { allow_private_jwks_hosts: true })] });
      try {
        expect((await allowed.check(s.token)).kind).toBe('allow');
        expect(s.trap.count()).toBeGreaterThan(0);
      } finally {
        await allowed.close();
        await s.close();
      }
    });

    it('link-local and metadata addresses are refused even when listed and private addresses are allowed', async () => {
      // Refused before any connection is attempted: the address is an IP literal, checked locally.
      const s = await setup(() => 'http://169.254.169.254/latest/meta-data/jwks');
      const gate = await start({
        issuers: [s.issuerConfig({ jwks_hosts: ['169.254.169.254'], allow_private_jwks_hosts: true })],
      });
      try {
        expect((await gate.check(s.token)).httpStatus).toBe(503);
      } finally {
        await gate.close();
        await s.close();
      }
    });

    it('the issuer origin itself is always allowed (no allow-list needed)', async () => {
      const s = await setup(() => '');
      s.idp.handle((req, res) =>
        req.url === '/.well-known/openid-configuration'
          ? sendJson(res, 200, { issuer: s.idp.origin, jwks_uri: `${s.idp.origin}/keys` })
          : sendJson(res, 200, { keys: [keyA.jwk] }),
      );
      const gate = await start({ issuers: [s.issuerConfig()] });
      try {
        expect((await gate.check(s.token)).kind).toBe('allow');
      } finally {
        await gate.close();
        await s.close();
      }
    });
  });
});

// ---- P20 -----------------------------------------------------------------------------------------

describe('P20 a sender-constrained token is never a bearer token', () => {
  let gate: Running;
  beforeAll(async () => {
    gate = await start({ issuers: [fileIssuer('a', ISS_A, [keyA.jwk])] });
  });
  afterAll(() => gate.close());

  it.each([
    ['DPoP (RFC 9449 jkt)', { jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' }],
    ['mTLS (RFC 8705 x5t#S256)', { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' }],
    ['an unknown confirmation method', { jwk: { kty: 'EC' } }],
  ])('a validly signed token bound by %s is refused as a bearer token: 401 ERR_TOKEN_BOUND', async (_name, cnf) => {
    const answer = await gate.check(mint(keyA, { cnf }));
    expect([answer.kind, answer.httpStatus, answer.reason]).toEqual(['deny', 401, 'ERR_TOKEN_BOUND']);
    expect(answer.headers['www-authenticate']).toMatch(/error="invalid_token"/);
  });

  it('the same token without cnf is accepted (the refusal is the binding, not the token)', async () => {
    expect((await gate.check(mint(keyA))).kind).toBe('allow');
  });
});
