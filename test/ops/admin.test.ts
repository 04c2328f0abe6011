/**
 * The admin listener and health: /healthz is liveness only; /readyz follows the key readiness policy
 * and agrees with grpc.health.v1 before keys, after keys, after a reload that adds a keyless issuer,
 * and turns 503 as soon as shutdown starts draining (while an in-flight Check is still being served).
 * Key fetches go through an injected fetch the test releases by hand, so every state is reached
 * deterministically.
 */
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { startClaimgate, type Claimgate } from '../../src/app/claimgate.js';
import { healthStatus } from '../support/grpc-health.js';
import { createCheckClient, type CheckClient, type CheckSummary } from '../../src/cli/check-client.js';
import { validateConfig } from '../../src/validation/load.js';
import type { Config } from '../../src/config/schema.js';
import { FakeClock } from '../keys/fake-clock.js';
import { waitFor } from '../support/wait.js';

const AUDIENCE = 'https://api.example.com';
const ACME = 'https://idp.acme.test';
const BETA = 'https://idp.beta.test';

/** A fetch whose answers the test hands out: each request waits until released with a JWKS. */
class HeldKeyServer {
  readonly calls: string[] = [];
  private readonly pending: { url: string; answer: (keys: JWK[]) => void }[] = [];

  readonly fetch: typeof fetch = (input, init) =>
    new Promise<Response>((resolve, reject) => {
      const url = input instanceof Request ? input.url : String(input);
      this.calls.push(url);
      const signal = init?.signal ?? undefined;
      const onAbort = () => reject(new DOMException('aborted', 'AbortError'));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.push({
        url,
        answer: (keys) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(
            new Response(JSON.stringify({ keys }), { status: 200, headers: { 'content-type': 'application/json' } }),
          );
        },
      });
    });

  callsTo(prefix: string): number {
    return this.calls.filter((u) => u.startsWith(prefix)).length;
  }

  /** Answers every held request to a URL starting with `prefix`. */
  release(prefix: string, keys: JWK[]): number {
    const mine = this.pending.filter((p) => p.url.startsWith(prefix));
    for (const p of mine) {
      this.pending.splice(this.pending.indexOf(p), 1);
      p.answer(keys);
    }
    return mine.length;
  }
}

/** claimgate's timer: the readiness poll runs when the test moves it. */
const clock = new FakeClock();
const READINESS_POLL_MS = 500;

function issuer(name: string, iss: string) {
  return {
    name,
    issuer: iss,
    jwks_uri: `${iss}/jwks`,
    audiences: [AUDIENCE],
    algorithms: ['ES256'],
    keys: { fetch_timeout_ms: 30000, cooldown_seconds: 0 },
  };
}

function config(issuers: ReturnType<typeof issuer>[]): Config {
  return validateConfig({
    server: {
      // Every issuer gates readiness here (the default, required_issuers, only waits for required ones).
      readiness: 'all_issuers',
      grpc_address: '127.0.0.1:0',
      admin_address: '127.0.0.1:0',
      check_deadline_ms: 10000,
      shutdown_grace_ms: 5000,
      watch_config: false,
    },
    logging: { level: 'silent' },
    issuers,
    routes: [{ name: 'orders-read', match: { path: { prefix: '/orders' } }, require: { scope: 'orders:read' } }],
  });
}

const keyServer = new HeldKeyServer();
let gate: Claimgate;
let client: CheckClient;
let base: string;
let acmeKey: { privateKey: CryptoKey; jwk: JWK };
let laterKey: { privateKey: CryptoKey; jwk: JWK };

async function makeKey(kid: string) {
  const pair = await generateKeyPair('ES256', { extractable: true });
  return { privateKey: pair.privateKey, jwk: { ...(await exportJWK(pair.publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

async function token(key: { privateKey: CryptoKey; jwk: JWK }): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ scope: 'orders:read', client_id: 'web' })
    .setProtectedHeader({ alg: 'ES256', kid: key.jwk.kid, typ: 'at+jwt' })
    .setIssuer(ACME)
    .setAudience(AUDIENCE)
    .setSubject('user-1')
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .setJti(`jti-${Math.random()}`)
    .sign(key.privateKey);
}

const get = (path: string, init: RequestInit = {}) =>
  fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(3000) });

async function readiness(): Promise<{ http: number; grpcOverall: string; grpcAuthz: string }> {
  return {
    http: (await get('/readyz')).status,
    grpcOverall: await healthStatus(gate.grpcPort, ''),
    grpcAuthz: await healthStatus(gate.grpcPort, 'envoy.service.auth.v3.Authorization'),
  };
}

beforeAll(async () => {
  acmeKey = await makeKey('k1');
  laterKey = await makeKey('k2');
  gate = await startClaimgate(config([issuer('acme', ACME)]), {
    keyDeps: { fetch: keyServer.fetch },
    setTimer: clock.setTimer,
  });
  base = `http://127.0.0.1:${gate.adminPort}`;
  client = createCheckClient(`127.0.0.1:${gate.grpcPort}`);
});

afterAll(async () => {
  client.close();
  keyServer.release('', []);
  await gate.close(100);
});

describe('admin listener and health', () => {
  it('/healthz is 200 from the start; /readyz is 503 and gRPC health NOT_SERVING while no keys are held', async () => {
    await waitFor(() => keyServer.callsTo(ACME) === 1, { what: 'the first key fetch' });
    const healthz = await get('/healthz');
    expect(healthz.status).toBe(200);
    expect(await healthz.text()).toBe('ok\n');
    expect(healthz.headers.get('cache-control')).toBe('no-store');

    const readyz = await get('/readyz');
    expect(readyz.status).toBe(503);
    expect(await readyz.text()).toBe('not ready\n');
    expect(await readiness()).toEqual({ http: 503, grpcOverall: 'NOT_SERVING', grpcAuthz: 'NOT_SERVING' });
    expect(await (await get('/metrics')).text()).toMatch(/^claimgate_ready 0$/m);

    const status = (await (await get('/status')).json()) as {
      ready: boolean;
      issuers: { issuer: string; keyCount: number; usable: boolean }[];
    };
    expect(status.ready).toBe(false);
    expect(status.issuers).toEqual([expect.objectContaining({ issuer: 'acme', keyCount: 0, usable: false })]);
  });

  it('/readyz turns 200 and gRPC health SERVING together once the keys arrive', async () => {
    expect(keyServer.release(ACME, [acmeKey.jwk])).toBe(1);
    await gate.whenSettled();
    expect(await readiness()).toEqual({ http: 200, grpcOverall: 'SERVING', grpcAuthz: 'SERVING' });
    expect(await (await get('/readyz')).text()).toBe('ready\n');
    expect(await (await get('/metrics')).text()).toMatch(/^claimgate_ready 1$/m);
    expect((await client.check({ path: '/orders/1', token: await token(acmeKey) })).kind).toBe('allow');
  });

  it('/status is JSON: ready, config load time, and per-issuer key state', async () => {
    const res = await get('/status');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['config_loaded_at', 'issuers', 'ready']);
    expect(body.ready).toBe(true);
    expect(new Date(body.config_loaded_at as string).toISOString()).toBe(body.config_loaded_at);
    expect(body.issuers).toEqual([
      {
        issuer: 'acme',
        keyCount: 1,
        usable: true,
        consecutiveFailures: 0,
        staleSeconds: 0,
        skippedKeys: 0,
        fetches: { ok: 1, error: 0 },
        lastSuccessAt: expect.any(Number),
        nextRefreshAt: expect.any(Number),
        jwksUri: `${ACME}/jwks`,
      },
    ]);
    // The state holds no key material.
    expect(JSON.stringify(body)).not.toContain(String(acmeKey.jwk.x));
  });

  it('answers 404 for unknown paths and 405 for anything but GET and HEAD; a query string is ignored', async () => {
    for (const path of ['/', '/nope', '/metrics/extra', '/readyz/', '/HEALTHZ'])
      expect([path, (await get(path)).status]).toEqual([path, 404]);
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      for (const path of ['/healthz', '/readyz', '/metrics', '/status', '/nope']) {
        const res = await get(path, { method, body: method === 'DELETE' ? undefined : 'x' });
        expect([method, path, res.status]).toEqual([method, path, 405]);
      }
    }
    const head = await get('/readyz', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await get('/readyz?verbose=1')).status).toBe(200);
    const metrics = await get('/metrics');
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('a reload adding an issuer without keys makes /readyz and gRPC health not ready together (all_issuers), and ready again with its keys', async () => {
    expect(gate.reload(config([issuer('acme', ACME), issuer('beta', BETA)])).ok).toBe(true);
    await waitFor(() => keyServer.callsTo(BETA) === 1, { what: 'the beta key fetch' });
    expect((await get('/readyz')).status).toBe(503);
    // gRPC health follows within the readiness poll (500 ms).
    await clock.advance(READINESS_POLL_MS);
    expect(await healthStatus(gate.grpcPort, '')).toBe('NOT_SERVING');
    expect(await readiness()).toEqual({ http: 503, grpcOverall: 'NOT_SERVING', grpcAuthz: 'NOT_SERVING' });
    // The unchanged issuer kept its keys: no refetch, and its tokens still verify.
    expect(keyServer.callsTo(ACME)).toBe(1);
    expect((await client.check({ path: '/orders/2', token: await token(acmeKey) })).kind).toBe('allow');

    keyServer.release(BETA, [laterKey.jwk]);
    await gate.whenSettled();
    expect(await readiness()).toEqual({ http: 200, grpcOverall: 'SERVING', grpcAuthz: 'SERVING' });
  });

  it('/readyz is 503 as soon as shutdown begins, while an in-flight Check is still being answered', async () => {
    // A token with a kid acme has not published: the Check waits for an on-demand fetch we hold.
    const pending: Promise<CheckSummary> = client.check(
      { path: '/orders/3', token: await token({ ...laterKey, jwk: { ...laterKey.jwk, kid: 'k9' } }) },
      15000,
    );
    await waitFor(() => keyServer.callsTo(ACME) === 2, { what: 'the on-demand fetch' });

    const closing = gate.close(5000);
    let closed = false;
    void closing.then(() => (closed = true));
    await waitFor(() => !gate.ready(), { what: 'the drain to start' });
    expect(closed).toBe(false); // the in-flight Check holds the drain open
    expect((await get('/readyz')).status).toBe(503);
    expect((await get('/healthz')).status).toBe(200);
    expect(gate.ready()).toBe(false);
    expect(await (await get('/metrics')).text()).toMatch(/^claimgate_ready 0$/m);

    // Keys arrive: the in-flight Check is answered, then shutdown completes and the listener is gone.
    keyServer.release(ACME, [acmeKey.jwk, { ...laterKey.jwk, kid: 'k9' }]);
    const answer = await pending;
    expect(answer.kind).toBe('allow');
    await closing;
    await expect(get('/healthz')).rejects.toThrow();
  });
});
