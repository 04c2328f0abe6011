/**
 * SECURITY.md principle 11: key fetching is shared and rate-limited, bounded, same-origin, prefetched,
 * serves the last good keys for a bounded time, and an IdP outage is an error answer (503), not a 401.
 * Every request an IdP receives is counted on a loopback server.
 */
import type { ServerResponse } from 'node:http';
import type { CheckRequestMessage } from '../../src/envoy/messages.js';
import { RpcCode } from '../../src/envoy/response.js';
import { answerCheck } from '../../src/envoy/server.js';
import type { KeySourceDeps, SetTimer } from '../../src/keys/key-source.js';
import {
  AUD,
  bearer,
  buildGate,
  closedPort,
  type CountingServer,
  denied,
  type Gate,
  ISS_A,
  mint,
  rsaKey,
  sendJson,
  startCountingServer,
} from './harness.js';
import { sleep } from '../support/wait.js';

const keyA = rsaKey('a-1');
const keyA2 = rsaKey('a-2');
const attacker = rsaKey('evil-1');

const remoteIssuer = (idp: CountingServer, extra: Record<string, unknown> = {}) => ({
  name: 'a',
  issuer: ISS_A,
  jwks_uri: `${idp.origin}/jwks`,
  allow_insecure_http: true,
  audiences: [AUD],
  ...extra,
});

function serveKeys(idp: CountingServer, keys: () => unknown[], delayMs = 0): void {
  idp.handle((_req, res) => {
    const send = () => sendJson(res, 200, { keys: keys() });
    if (delayMs > 0) setTimeout(send, delayMs);
    else send();
  });
}

const settle = (gate: Gate) => Promise.all([...gate.sources.values()].map((s) => s.whenSettled()));

function checkRequest(token: string): CheckRequestMessage {
  return {
    attributes: {
      request: {
        http: {
          method: 'GET',
          host: 'api.example.com',
          path: '/api/items',
          headers: { authorization: `Bearer ${token}` },
        },
      },
    },
  };
}

/** A manual clock and timer queue for KeySourceDeps: nothing happens until `advance`. */
function manualTime(startMs: number) {
  let now = startMs;
  const timers: Array<{ at: number; run: () => void; live: boolean }> = [];
  const setTimer: SetTimer = (run, delayMs) => {
    const t = { at: now + Math.max(0, delayMs), run, live: true };
    timers.push(t);
    return () => {
      t.live = false;
    };
  };
  return {
    now: () => now,
    setTimer,
    /** Moves the clock and runs every timer that fell due, in time order. */
    advance(ms: number) {
      const target = now + ms;
      for (;;) {
        const due = timers.filter((t) => t.live && t.at <= target).sort((a, b) => a.at - b.at)[0];
        if (due === undefined) break;
        due.live = false;
        now = Math.max(now, due.at);
        due.run();
      }
      now = target;
    },
  };
}

describe('P11 shared, rate-limited key fetching', () => {
  let idp: CountingServer;
  let gate: Gate | undefined;
  beforeEach(async () => {
    idp = await startCountingServer();
  });
  afterEach(async () => {
    gate?.close();
    gate = undefined;
    await idp.close();
  });

  it('prefetches at start: keys are fetched once before any request and lookups are then synchronous', async () => {
    serveKeys(idp, () => [keyA.jwk]);
    gate = await buildGate({ issuers: [remoteIssuer(idp)] });
    expect(idp.count('/jwks')).toBe(1);
    const lookup = gate.sources.get('a')!.lookup(keyA.kid, 'RS256', 0);
    expect(lookup).not.toBeInstanceOf(Promise);
    expect(lookup).toMatchObject({ ok: true });
    expect((await gate.decide(bearer(mint(keyA)))).outcome).toBe('allow');
    expect(idp.count()).toBe(1);
  });

  it('a burst of requests on a cold start shares one in-flight fetch', async () => {
    serveKeys(idp, () => [keyA.jwk], 150);
    gate = await buildGate({ issuers: [remoteIssuer(idp)], server: { check_deadline_ms: 5000 }, settle: false });
    const decisions = await Promise.all(Array.from({ length: 25 }, async () => gate!.decide(bearer(mint(keyA)))));
    expect(decisions.every((d) => d.outcome === 'allow')).toBe(true);
    expect(idp.count('/jwks')).toBe(1);
  });

  it('unknown kids refetch at most once per cooldown window, however many and however concurrent', async () => {
    serveKeys(idp, () => [keyA.jwk], 20);
    gate = await buildGate({
      issuers: [remoteIssuer(idp, { keys: { cooldown_seconds: 30 } })],
      server: { check_deadline_ms: 5000 },
    });
    expect(idp.count('/jwks')).toBe(1);
    const burst = await Promise.all(
      Array.from({ length: 30 }, async (_, i) =>
        gate!.decide(bearer(mint(attacker, {}, { header: { kid: `unknown-${i}` } }))),
      ),
    );
    for (const d of burst) expect(denied(d).reason).toBe('ERR_KEY_NOT_FOUND');
    await settle(gate);
    expect(idp.count('/jwks')).toBe(2);
    for (let i = 0; i < 50; i++) {
      expect(denied(await gate.decide(bearer(mint(attacker, {}, { header: { kid: `later-${i}` } })))).reason).toBe(
        'ERR_KEY_NOT_FOUND',
      );
    }
    await settle(gate);
    expect(idp.count('/jwks')).toBe(2);
    // Known keys keep working without any fetch.
    expect((await gate.decide(bearer(mint(keyA)))).outcome).toBe('allow');
    expect(idp.count('/jwks')).toBe(2);
  });

  it('a rotated-in key is picked up by one refetch', async () => {
    let published = [keyA.jwk];
    serveKeys(idp, () => published);
    gate = await buildGate({ issuers: [remoteIssuer(idp)] });
    published = [keyA.jwk, keyA2.jwk];
    expect((await gate.decide(bearer(mint(keyA2)))).outcome).toBe('allow');
    expect(idp.count('/jwks')).toBe(2);
  });

  it('a key removed by the IdP stops verifying tokens it verified before (no cached verification outlives its key)', async () => {
    let published = [keyA.jwk];
    serveKeys(idp, () => published);
    gate = await buildGate({ issuers: [remoteIssuer(idp)] });
    const old = mint(keyA);
    expect((await gate.decide(bearer(old))).outcome).toBe('allow');
    expect((await gate.decide(bearer(old))).outcome).toBe('allow');
    published = [keyA2.jwk]; // a-1 revoked, a-2 rotated in
    expect((await gate.decide(bearer(mint(keyA2)))).outcome).toBe('allow'); // triggers the refetch
    expect(idp.count('/jwks')).toBe(2);
    expect(denied(await gate.decide(bearer(old))).reason).toBe('ERR_KEY_NOT_FOUND');
  });

  it('a kid of attacker size is refused without a fetch', async () => {
    serveKeys(idp, () => [keyA.jwk]);
    gate = await buildGate({ issuers: [remoteIssuer(idp)] });
    expect(denied(await gate.decide(bearer(mint(attacker, {}, { header: { kid: 'k'.repeat(2000) } })))).reason).toBe(
      'ERR_KEY_NOT_FOUND',
    );
    await settle(gate);
    expect(idp.count('/jwks')).toBe(1);
  });

  const outages: Array<[string, (res: ServerResponse) => void]> = [
    ['HTTP 500', (res) => sendJson(res, 500, { error: 'down' })],
    ['HTTP 404', (res) => sendJson(res, 404, { error: 'gone' })],
    [
      'not JSON',
      (res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html>maintenance</html>');
      },
    ],
    ['JSON that is not a JWKS', (res) => sendJson(res, 200, { error: 'maintenance' })],
    ['an empty key set', (res) => sendJson(res, 200, { keys: [] })],
  ];
  it.each(outages)(
    'an IdP answering %s is an outage: 503 error answer (gRPC 14), never a 401 or an allow',
    async (_name, answer) => {
      idp.handle((_req, res) => answer(res));
      gate = await buildGate({ issuers: [remoteIssuer(idp)] });
      const d = denied(await gate.decide(bearer(mint(keyA))));
      expect(d).toMatchObject({ outcome: 'error', reason: 'ERR_JWKS_UNAVAILABLE', status: 503 });
      expect(d.challenge).toBeUndefined();
      const response = await answerCheck(checkRequest(mint(keyA)), gate.decide);
      expect(response.status.code).toBe(RpcCode.UNAVAILABLE);
      expect(response.error_response?.status.code).toBe('ServiceUnavailable');
      expect(response.error_response?.headers.some((h) => h.header.key === 'www-authenticate')).toBe(false);
      expect(response.denied_response).toBeUndefined();
    },
  );

  it('an IdP that refuses connections is an outage (503), not a 401', async () => {
    const port = await closedPort();
    gate = await buildGate({
      issuers: [
        {
          name: 'a',
          issuer: ISS_A,
          jwks_uri: `http://127.0.0.1:${port}/jwks`,
          allow_insecure_http: true,
          audiences: [AUD],
        },
      ],
    });
    const d = denied(await gate.decide(bearer(mint(keyA))));
    expect(d).toMatchObject({ outcome: 'error', reason: 'ERR_JWKS_UNAVAILABLE', status: 503 });
  });

  it('redirects to another origin are not followed; same-origin redirects are', async () => {
    const evil = await startCountingServer((_req, res) => sendJson(res, 200, { keys: [attacker.jwk] }));
    try {
      idp.handle((req, res) => {
        if (req.url === '/jwks') {
          res.writeHead(302, { location: `${evil.origin}/jwks` });
          res.end();
        } else sendJson(res, 200, { keys: [keyA.jwk] });
      });
      gate = await buildGate({ issuers: [remoteIssuer(idp)] });
      expect(denied(await gate.decide(bearer(mint(attacker)))).reason).toBe('ERR_JWKS_UNAVAILABLE');
      await settle(gate);
      expect(evil.count()).toBe(0);
      gate.close();

      idp.handle((req, res) => {
        if (req.url === '/jwks') {
          res.writeHead(302, { location: '/keys' });
          res.end();
        } else sendJson(res, 200, { keys: [keyA.jwk] });
      });
      gate = await buildGate({ issuers: [remoteIssuer(idp)] });
      expect((await gate.decide(bearer(mint(keyA)))).outcome).toBe('allow');
    } finally {
      await evil.close();
    }
  });

  it('a JWKS body over max_response_bytes is refused (with or without Content-Length)', async () => {
    const body = JSON.stringify({ keys: [keyA.jwk], padding: 'x'.repeat(64 * 1024) });
    for (const declare of [true, false]) {
      idp.handle((_req, res) => {
        res.writeHead(
          200,
          declare
            ? { 'content-type': 'application/json', 'content-length': String(body.length) }
            : { 'content-type': 'application/json' },
        );
        res.end(body);
      });
      gate = await buildGate({ issuers: [remoteIssuer(idp, { keys: { max_response_bytes: 8192 } })] });
      expect(denied(await gate.decide(bearer(mint(keyA)))).reason).toBe('ERR_JWKS_UNAVAILABLE');
      gate.close();
    }
    // Control: the same key set without padding is accepted under the same cap.
    serveKeys(idp, () => [keyA.jwk]);
    gate = await buildGate({ issuers: [remoteIssuer(idp, { keys: { max_response_bytes: 8192 } })] });
    expect((await gate.decide(bearer(mint(keyA)))).outcome).toBe('allow');
  });

  it('a hanging IdP costs each Check at most check_deadline_ms, and the Check is an error answer', async () => {
    idp.handle(() => {
      /* never answer */
    });
    gate = await buildGate({
      issuers: [remoteIssuer(idp, { keys: { fetch_timeout_ms: 10000 } })],
      server: { check_deadline_ms: 80 },
      settle: false,
    });
    const started = Date.now();
    const decisions = await Promise.all(Array.from({ length: 10 }, async () => gate!.decide(bearer(mint(keyA)))));
    expect(Date.now() - started).toBeLessThan(3000);
    for (const d of decisions) expect(denied(d)).toMatchObject({ outcome: 'error', reason: 'ERR_JWKS_UNAVAILABLE' });
    expect(idp.count('/jwks')).toBe(1);
  });

  it('keeps serving the last good keys while the IdP fails, for max_stale_seconds only, then fails closed; recovers', async () => {
    let healthy = true;
    idp.handle((_req, res) =>
      healthy ? sendJson(res, 200, { keys: [keyA.jwk] }) : sendJson(res, 503, { error: 'down' }),
    );
    const time = manualTime(1_000_000);
    const deps: KeySourceDeps = { now: time.now, setTimer: time.setTimer, random: () => 0.5 };
    gate = await buildGate({
      issuers: [
        remoteIssuer(idp, {
          keys: { min_refresh_seconds: 60, max_refresh_seconds: 60, max_stale_seconds: 300, cooldown_seconds: 30 },
        }),
      ],
      keyDeps: deps,
    });
    const g = gate;
    expect((await g.decide(bearer(mint(keyA)))).outcome).toBe('allow');
    expect(idp.count('/jwks')).toBe(1);

    healthy = false;
    time.advance(61_000); // scheduled refresh → fails
    await settle(g);
    expect(idp.count('/jwks')).toBe(2);
    expect((await g.decide(bearer(mint(keyA)))).outcome).toBe('allow'); // stale but within bound

    time.advance(240_000); // 301 s after the last success: past max_stale
    await settle(g);
    const d = denied(await g.decide(bearer(mint(keyA))));
    expect(d).toMatchObject({ outcome: 'error', reason: 'ERR_JWKS_UNAVAILABLE', status: 503 });
    await settle(g);

    healthy = true;
    time.advance(31_000); // past the cooldown: the next Check may trigger a fetch
    await settle(g);
    const after = await g.decide(bearer(mint(keyA)));
    expect(after.outcome).toBe('allow');
  });

  it('fetch counts stay bounded under a flood of unknown kids over several cooldown windows', async () => {
    serveKeys(idp, () => [keyA.jwk]);
    const time = manualTime(5_000_000);
    gate = await buildGate({
      issuers: [remoteIssuer(idp, { keys: { cooldown_seconds: 30 } })],
      keyDeps: { now: time.now, setTimer: time.setTimer, random: () => 0.5 },
    });
    for (let window = 0; window < 3; window++) {
      for (let i = 0; i < 200; i++)
        await gate.decide(bearer(mint(attacker, {}, { header: { kid: `w${window}-${i}` } })));
      await settle(gate);
      time.advance(31_000);
    }
    // One prefetch plus at most one refetch per window.
    expect(idp.count('/jwks')).toBeLessThanOrEqual(1 + 3);
    await sleep(0);
  });
});
