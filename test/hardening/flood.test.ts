/**
 * Flooding (issue 8): 10,000 Checks carrying distinct unknown issuers and 10,000 carrying distinct
 * unknown kids of a configured issuer (served by the loopback fake IdP, which counts requests).
 *
 * Asserts: no outbound request at all for the unknown issuers (loopback servers listen at some of those
 * issuer URLs, with discovery and JWKS documents, and count every hit); at most one JWKS fetch per
 * cooldown window for the unknown kids; the negative caches keep to their size bounds (seen through
 * the token cache's own hit/miss reports); heap growth stays under a generous bound. Sent through the
 * real decider in bounded batches, and a sample through real gRPC.
 */
import { createCheckClient } from '../../src/cli/check-client.js';
import { validateConfig } from '../../src/validation/load.js';
import type { Decide } from '../../src/engine/decide.js';
import { startSettledEngine } from '../support/gate.js';
import type { CheckRequestMessage } from '../../src/envoy/messages.js';
import { startGrpcServer, type GrpcServer } from '../../src/envoy/server.js';
import type { KeySource } from '../../src/keys/key-source.js';
import type { TokenCacheResult } from '../../src/token/token-cache.js';
import { FakeIdp, generateSigningKey } from '../support/fake-idp.js';
import {
  b64json,
  b64u,
  sendJson,
  signParts,
  startCountingServer,
  view,
  type CountingServer,
} from '../security/harness.js';

const FLOOD = 10_000;
const BATCH = 500;
const COOLDOWN_S = 30;
const AUD = 'https://api.example.com';
const START_MS = 1_750_000_000_000;

let clock = START_MS;
let idp: FakeIdp;
let traps: CountingServer[] = [];
const sources: KeySource[] = [];
let decide: Decide;
const cacheReports: TokenCacheResult[] = [];
const key = generateSigningKey('RS256', 'live');

/** A token that parses: header and payload as given, a signature of the right size that verifies nothing. */
const token = (header: Record<string, unknown>, payload: Record<string, unknown>) =>
  `${b64json(header)}.${b64json(payload)}.${b64u(Buffer.alloc(256, 7))}`;
const claims = (iss: string) => ({ iss, sub: 'flood', aud: AUD, exp: START_MS / 1000 + 3600, iat: START_MS / 1000 });
const heapMiB = () => {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / (1024 * 1024);
};

/** Unknown issuer number i: every fourth one points at a live loopback trap (with discovery and JWKS). */
function unknownIssuer(i: number): string {
  if (i % 4 !== 0) return `https://unknown-${i}.example.com`;
  const trap = traps[(i / 4) % traps.length]!;
  return [trap.origin, `${trap.origin}/`, `${trap.origin}/tenant-${i}`, idp.issuer + `/x${i}`, `${idp.issuer}/`][
    (i / 4) % 5
  ]!;
}

async function inBatches<T>(n: number, each: (i: number) => T | Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let start = 0; start < n; start += BATCH) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(BATCH, n - start) }, (_, k) => each(start + k)))));
  }
  return out;
}

beforeAll(async () => {
  idp = await FakeIdp.start({ keys: [key.jwk] });
  traps = await Promise.all(
    Array.from({ length: 3 }, () =>
      startCountingServer((req, res) => {
        // Looks like a perfectly good IdP, so any fetch would be noticed (and would succeed).
        if (req.url?.endsWith('/.well-known/openid-configuration')) sendJson(res, 200, { issuer: 'x', jwks_uri: 'x' });
        else sendJson(res, 200, { keys: [key.jwk] });
      }),
    ),
  );
  const config = validateConfig({
    issuers: [
      {
        name: 'idp',
        issuer: idp.issuer,
        jwks_uri: idp.jwksUri,
        allow_insecure_http: true,
        audiences: [AUD],
        keys: { cooldown_seconds: COOLDOWN_S },
      },
    ],
    unmatched: 'authenticated',
    token_cache: { max_entries: 1000, max_negative_entries: 1000 },
  });
  const engine = await startSettledEngine(config, {
    keys: { now: () => clock },
    decider: { nowMs: () => clock, onTokenCache: (r) => cacheReports.push(r) },
  });
  sources.push(...engine.sources.values());
  decide = engine.decide;
});

afterAll(async () => {
  for (const s of sources) s.close();
  await Promise.all([idp.close(), ...traps.map((t) => t.close())]);
});

describe('flooding with unknown issuers and unknown kids', () => {
  let heapBefore = 0;
  let jwksFetchesAtStart = 0;

  it('a genuine token verifies (the setup is live) and exactly one JWKS fetch happened at start', async () => {
    const genuine = signParts(
      'RS256',
      key.privateKey,
      { alg: 'RS256', typ: 'at+jwt', kid: 'live' },
      claims(idp.issuer),
    );
    expect((await decide(view({ authorization: `Bearer ${genuine}` }))).reason).toBe('OK_AUTHENTICATED');
    heapBefore = heapMiB();
    jwksFetchesAtStart = idp.count('/jwks');
    expect(jwksFetchesAtStart).toBe(1);
  });

  it(`${FLOOD} distinct unknown issuers: all refused, zero outbound requests (not to the traps, not to the IdP)`, async () => {
    const decisions = await inBatches(FLOOD, (i) =>
      decide(
        view({
          authorization: `Bearer ${token({ alg: 'RS256', typ: 'at+jwt', kid: 'live' }, claims(unknownIssuer(i)))}`,
        }),
      ),
    );
    expect(new Set(decisions.map((d) => d.reason))).toEqual(new Set(['ERR_ISSUER_NOT_ALLOWED']));
    expect(traps.map((t) => t.count())).toEqual([0, 0, 0]);
    expect(idp.count('/jwks')).toBe(jwksFetchesAtStart);
    expect(idp.count(idp.discoveryPath)).toBe(0);
  });

  it('the token cache keeps at most max_negative_entries of them: the oldest is gone, the newest is a negative hit', async () => {
    cacheReports.length = 0;
    const last = FLOOD - 1;
    await decide(
      view({
        authorization: `Bearer ${token({ alg: 'RS256', typ: 'at+jwt', kid: 'live' }, claims(unknownIssuer(last)))}`,
      }),
    );
    await decide(
      view({
        authorization: `Bearer ${token({ alg: 'RS256', typ: 'at+jwt', kid: 'live' }, claims(unknownIssuer(1)))}`,
      }),
    );
    expect(cacheReports).toEqual(['negative_hit', 'miss']);
  });

  it(`${FLOOD} distinct unknown kids over 4 cooldown windows: refused, at most one JWKS fetch per window`, async () => {
    const perWindow = FLOOD / 4;
    const fetchesPerWindow: number[] = [];
    for (let w = 0; w < 4; w++) {
      const before = idp.count('/jwks');
      const decisions = await inBatches(perWindow, (i) =>
        decide(
          view({
            authorization: `Bearer ${token({ alg: 'RS256', typ: 'at+jwt', kid: `flood-${w}-${i}` }, claims(idp.issuer))}`,
          }),
        ),
      );
      for (const d of decisions) expect(['ERR_KEY_NOT_FOUND', 'ERR_JWKS_UNAVAILABLE']).toContain(d.reason);
      fetchesPerWindow.push(idp.count('/jwks') - before);
      clock += (COOLDOWN_S + 1) * 1000;
    }
    for (const n of fetchesPerWindow) expect(n).toBeLessThanOrEqual(1);
    expect(fetchesPerWindow.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1); // the refetch does happen
    expect(idp.count(idp.discoveryPath)).toBe(0);
  });

  it('heap growth over both floods stays bounded (generous: 64 MiB)', () => {
    expect(heapMiB() - heapBefore).toBeLessThan(64);
  });

  describe('a sample through real gRPC', () => {
    let server: GrpcServer;
    beforeAll(async () => {
      server = await startGrpcServer({ address: '127.0.0.1:0', decider: () => decide });
    });
    afterAll(() => server.shutdown(1000));

    it('400 Checks (unknown issuers and unknown kids, 100 at a time): all refused, still no outbound request to unknown issuers', async () => {
      const client = createCheckClient(`127.0.0.1:${server.port}`);
      const request = (authorization: string): CheckRequestMessage => ({
        attributes: {
          request: { http: { method: 'GET', path: '/api', host: 'api.example.com', headers: { authorization } } },
        },
      });
      try {
        const fetchesBefore = idp.count('/jwks');
        for (let round = 0; round < 4; round++) {
          const answers = await Promise.all(
            Array.from({ length: 100 }, (_, k) => {
              const i = round * 100 + k;
              const t =
                i % 2
                  ? token({ alg: 'RS256', typ: 'at+jwt', kid: 'live' }, claims(unknownIssuer(20_000 + i * 4)))
                  : token({ alg: 'RS256', typ: 'at+jwt', kid: `grpc-${i}` }, claims(idp.issuer));
              return client.check(request(`Bearer ${t}`));
            }),
          );
          for (const a of answers) {
            expect(a.kind).toBe('deny');
            expect(['ERR_ISSUER_NOT_ALLOWED', 'ERR_KEY_NOT_FOUND']).toContain(a.reason);
          }
        }
        expect(traps.map((t) => t.count())).toEqual([0, 0, 0]);
        expect(idp.count('/jwks') - fetchesBefore).toBeLessThanOrEqual(1);
      } finally {
        client.close();
      }
    });
  });
});
