/**
 * Resource limits (issue 8): each bound claimgate applies to hostile input, pinned at its boundary.
 * docs/security.md ("Resource limits") lists them with these tests.
 *
 * Includes the regression test for the request-view finding of the fuzz suite: a CheckRequest whose
 * header lines were not all read (past the count cap, or over the size cap) used to be decided on the
 * lines that were read, so a second credential beyond the caps was ignored while the upstream still
 * received it. Such a request is now refused (400 `ERR_REQUEST_MALFORMED`).
 */
import * as grpc from '@grpc/grpc-js';
import { createCheckClient } from '../../src/cli/check-client.js';
import type { CheckRequestMessage } from '../../src/envoy/messages.js';
import { MAX_HEADER_ENTRIES, MAX_HEADER_VALUE_BYTES } from '../../src/core/request-limits.js';
import { toRequestView } from '../../src/envoy/request.js';
import { startGrpcServer, type GrpcServer } from '../../src/envoy/server.js';
import { MAX_KEYS_PER_SET } from '../../src/keys/jwk.js';
import { MAX_KID_LENGTH, NEGATIVE_CACHE_ENTRIES } from '../../src/keys/key-source.js';
import { MAX_PATH_LENGTH } from '../../src/routes/normalize.js';
import { MAX_JSON_DEPTH } from '../../src/token/parse.js';
import { validateConfig } from '../../src/validation/load.js';
import { startSettledEngine } from '../support/gate.js';
import { ISS_A, NOW_MS, buildGate, cleanupTmp, fileIssuer, mint, rsaKey, view } from '../security/harness.js';
import { RSA, claims, fuzzGate, goodHeader, signed, type FuzzGate } from '../fuzz/support.js';

let gate: FuzzGate;
beforeAll(async () => {
  gate = await fuzzGate();
});
afterAll(() => {
  gate.close();
  cleanupTmp();
});

const TOKEN = signed(goodHeader(RSA), claims());
const http = (h: Record<string, unknown>): CheckRequestMessage => ({
  attributes: { request: { http: { method: 'GET', host: 'api.example.com', path: '/api/items', ...h } } },
});
const fillers = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ key: `x-f${from + i}`, value: 'v' }));
const decideRequest = (req: CheckRequestMessage) => gate.decide(toRequestView(req));

describe('request view caps: a request is never decided on part of its headers (regression)', () => {
  it(`a second Authorization line past the first ${MAX_HEADER_ENTRIES} header_map entries → 400, not an allow`, async () => {
    const entries = [
      { key: 'authorization', value: `Bearer ${TOKEN}` },
      ...fillers(MAX_HEADER_ENTRIES),
      { key: 'authorization', value: 'Basic YTpi' },
    ];
    const d = await decideRequest(http({ header_map: { headers: entries } }));
    expect(d.outcome).toBe('deny');
    expect(d.reason).toBe('ERR_REQUEST_MALFORMED');
    expect(toRequestView(http({ header_map: { headers: entries } })).incomplete).toBe(true);
  });

  it('a second Authorization line over the value cap (raw_value or value, counted in UTF-8) → 400', async () => {
    for (const second of [
      { key: 'authorization', raw_value: Buffer.alloc(MAX_HEADER_VALUE_BYTES + 1, 0x41) },
      { key: 'Authorization', value: `Basic ${'é'.repeat(MAX_HEADER_VALUE_BYTES / 2)}` },
      { key: 'a'.repeat(MAX_HEADER_VALUE_BYTES + 1), value: 'x' },
    ]) {
      const d = await decideRequest(
        http({ header_map: { headers: [{ key: 'authorization', value: `Bearer ${TOKEN}` }, second] } }),
      );
      expect(d.reason).toBe('ERR_REQUEST_MALFORMED');
    }
  });

  it(`the headers map form: more than ${MAX_HEADER_ENTRIES} names, or one value over the cap → 400`, async () => {
    const many = Object.fromEntries([
      ['authorization', `Bearer ${TOKEN}`],
      ...fillers(MAX_HEADER_ENTRIES).map((f) => [f.key, f.value]),
    ]);
    expect((await decideRequest(http({ headers: many }))).reason).toBe('ERR_REQUEST_MALFORMED');
    const oversized = { authorization: `Bearer ${TOKEN}`, cookie: 'c'.repeat(MAX_HEADER_VALUE_BYTES + 1) };
    expect((await decideRequest(http({ headers: oversized }))).reason).toBe('ERR_REQUEST_MALFORMED');
  });

  it('at the caps exactly, the request is read whole and allowed', async () => {
    const entries = [
      { key: 'authorization', value: `Bearer ${TOKEN}` },
      ...fillers(MAX_HEADER_ENTRIES - 2),
      { key: 'x-big', raw_value: Buffer.alloc(MAX_HEADER_VALUE_BYTES, 0x61) },
    ];
    expect(entries).toHaveLength(MAX_HEADER_ENTRIES);
    const v = toRequestView(http({ header_map: { headers: entries } }));
    expect(v.incomplete).toBeUndefined();
    expect((await gate.decide(v)).reason).toBe('OK_AUTHENTICATED');
    const map = Object.fromEntries([
      ['authorization', `Bearer ${TOKEN}`],
      ...fillers(MAX_HEADER_ENTRIES - 1).map((f) => [f.key, f.value]),
    ]);
    expect((await decideRequest(http({ headers: map }))).reason).toBe('OK_AUTHENTICATED');
  });

  it('a public route still answers an incomplete request (no credential is read there; owned headers are removed)', async () => {
    const d = await decideRequest(
      http({ path: '/public/x', header_map: { headers: fillers(MAX_HEADER_ENTRIES + 1) } }),
    );
    expect(d.reason).toBe('OK_PUBLIC_ROUTE');
    expect(d.outcome === 'allow' && d.headersToRemove).toContain('x-user-id');
  });
});

describe('token, JSON and path bounds', () => {
  it(`path longer than ${MAX_PATH_LENGTH} characters → ERR_PATH_INVALID (the query may be longer)`, async () => {
    const at = `/${'a'.repeat(MAX_PATH_LENGTH - 1)}`;
    expect((await gate.decide(view({ authorization: `Bearer ${TOKEN}` }, at))).reason).toBe('OK_AUTHENTICATED');
    expect((await gate.decide(view({ authorization: `Bearer ${TOKEN}` }, `${at}a`))).reason).toBe('ERR_PATH_INVALID');
    expect(
      (await gate.decide(view({ authorization: `Bearer ${TOKEN}` }, `/x?${'q'.repeat(3 * MAX_PATH_LENGTH)}`))).reason,
    ).toBe('OK_AUTHENTICATED');
  });

  it(`JSON depth ${MAX_JSON_DEPTH} verifies, ${MAX_JSON_DEPTH + 1} is malformed — also in the header`, async () => {
    const nest = (d: number) => `${'['.repeat(d - 1)}1${']'.repeat(d - 1)}`; // d levels including the top object
    const payload = (d: number) => JSON.stringify(claims()).replace(/}$/, `,"deep":${nest(d)}}`);
    expect(
      (await gate.decide(view({ authorization: `Bearer ${signed(goodHeader(RSA), payload(MAX_JSON_DEPTH))}` }))).reason,
    ).toBe('OK_AUTHENTICATED');
    expect(
      (await gate.decide(view({ authorization: `Bearer ${signed(goodHeader(RSA), payload(MAX_JSON_DEPTH + 1))}` })))
        .reason,
    ).toBe('ERR_TOKEN_MALFORMED');
    const header = JSON.stringify(goodHeader(RSA)).replace(/}$/, `,"x":${nest(MAX_JSON_DEPTH + 1)}}`);
    expect((await gate.decide(view({ authorization: `Bearer ${signed(header, claims())}` }))).reason).toBe(
      'ERR_TOKEN_MALFORMED',
    );
  });

  it('max_token_bytes bounds the token, and with it the claims (size) an issuer can make claimgate parse', async () => {
    const key = rsaKey('limits');
    const g = await buildGate({ issuers: [fileIssuer('a', ISS_A, [key.jwk], { max_token_bytes: 1024 })] });
    try {
      let pad = '';
      let token = mint(key, { pad });
      while (token.length < 1024) token = mint(key, { pad: (pad += 'x') });
      // token.length is now 1024..1027: trim the padding until it is exactly at the limit or just over.
      while (token.length > 1024) token = mint(key, { pad: (pad = pad.slice(0, -1)) });
      expect(token.length).toBeLessThanOrEqual(1024);
      expect((await g.decide(view({ authorization: `Bearer ${token}` }))).reason).toBe('OK_AUTHENTICATED');
      const over = mint(key, { pad: `${pad}xxxx` });
      expect(over.length).toBeGreaterThan(1024);
      expect((await g.decide(view({ authorization: `Bearer ${over}` }))).reason).toBe('ERR_TOKEN_TOO_LARGE');
    } finally {
      g.close();
    }
  });
});

describe('cache and key-set bounds', () => {
  it(`a JWKS with more than ${MAX_KEYS_PER_SET} keys: the first ${MAX_KEYS_PER_SET} are imported, the rest skipped`, async () => {
    const key = rsaKey('many');
    const keys = Array.from({ length: MAX_KEYS_PER_SET + 20 }, (_, i) => ({ ...key.jwk, kid: `k${i}` }));
    const g = await buildGate({ issuers: [fileIssuer('a', ISS_A, keys)] });
    try {
      const state = g.sources.get('a')!.state();
      expect(state.keyCount).toBe(MAX_KEYS_PER_SET);
      expect(state.skippedKeys).toBe(20);
      expect(
        (await g.decide(view({ authorization: `Bearer ${mint({ ...key, kid: `k${MAX_KEYS_PER_SET - 1}` })}` }))).reason,
      ).toBe('OK_AUTHENTICATED');
      expect(
        (await g.decide(view({ authorization: `Bearer ${mint({ ...key, kid: `k${MAX_KEYS_PER_SET}` })}` }))).reason,
      ).toBe('ERR_KEY_NOT_FOUND');
    } finally {
      g.close();
    }
  });

  it('the verified-token cache keeps at most max_negative_entries failed tokens (oldest evicted first)', async () => {
    const key = rsaKey('neg');
    const results: string[] = [];
    const config = validateConfig({
      issuers: [fileIssuer('a', ISS_A, [key.jwk])],
      unmatched: 'authenticated',
      token_cache: { max_entries: 10, max_negative_entries: 50 },
    });
    const engine = await startSettledEngine(config, {
      decider: { nowMs: () => NOW_MS, onTokenCache: (r) => results.push(r) },
    });
    const decide = engine.decide;
    try {
      const tokens = Array.from({ length: 120 }, (_, i) => `Bearer ${mint(key, { aud: `other-${i}` })}`);
      for (const t of tokens) expect((await decide(view({ authorization: t }))).reason).toBe('ERR_AUDIENCE_MISMATCH');
      results.length = 0;
      await decide(view({ authorization: tokens[tokens.length - 1]! })); // recent: still cached
      await decide(view({ authorization: tokens[0]! })); // evicted long ago
      expect(results).toEqual(['negative_hit', 'miss']);
    } finally {
      engine.close();
    }
  });

  it('key-source bounds are what docs/keys.md says', () => {
    expect(NEGATIVE_CACHE_ENTRIES).toBe(10_000);
    expect(MAX_KID_LENGTH).toBe(256);
    expect(MAX_KEYS_PER_SET).toBe(100);
  });
});

describe('gRPC transport limits (real gRPC on loopback)', () => {
  let server: GrpcServer;
  beforeAll(async () => {
    server = await startGrpcServer({ address: '127.0.0.1:0', decider: () => gate.decide });
  });
  afterAll(() => server.shutdown(1000));

  it('a 2 MiB CheckRequest is refused with RESOURCE_EXHAUSTED and the server keeps serving', async () => {
    const client = createCheckClient(`127.0.0.1:${server.port}`);
    try {
      const huge = http({ headers: { authorization: `Bearer ${TOKEN}`, 'x-pad': 'p'.repeat(2 * 1024 * 1024) } });
      await expect(client.check(huge)).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
      const ok = await client.check(http({ headers: { authorization: `Bearer ${TOKEN}` } }));
      expect(ok.kind).toBe('allow');
    } finally {
      client.close();
    }
  });

  it('just under 1 MiB is read, and the oversized header inside it makes it a 400, not an allow', async () => {
    const client = createCheckClient(`127.0.0.1:${server.port}`);
    try {
      const answer = await client.check(
        http({ headers: { authorization: `Bearer ${TOKEN}`, 'x-pad': 'p'.repeat(1000 * 1024) } }),
      );
      expect(answer.kind).toBe('deny');
      expect(answer.reason).toBe('ERR_REQUEST_MALFORMED');
    } finally {
      client.close();
    }
  });

  it('500 concurrent Checks on one connection, under the default bound, are all answered', async () => {
    const client = createCheckClient(`127.0.0.1:${server.port}`);
    try {
      const answers = await Promise.all(
        Array.from({ length: 500 }, (_, i) =>
          client.check(http({ headers: { authorization: `Bearer ${i % 2 ? TOKEN : 'x.y.z'}` } }), 20_000),
        ),
      );
      expect(answers.filter((a) => a.kind === 'allow')).toHaveLength(250);
      expect(answers.filter((a) => a.kind === 'deny')).toHaveLength(250);
    } finally {
      client.close();
    }
  });
});
