/**
 * SECURITY.md principles 1-6: fail closed, issuer allow-list, issuer-bound keys, no key material from
 * the token, the asymmetric algorithm allow-list, key hygiene at load. Every test drives the real
 * engine (config loader → compileConfig → key sources → createDecider) with real signatures.
 */
import { createHash, createHmac, type KeyObject } from 'node:crypto';
import { compileConfig } from '../../src/engine/compile.js';
import { ConfigError, validateConfig } from '../../src/validation/load.js';
import { createDecider, type Decide } from '../../src/engine/decide.js';
import type { CheckRequestMessage } from '../../src/envoy/messages.js';
import { RpcCode } from '../../src/envoy/response.js';
import { answerCheck, startGrpcServer } from '../../src/envoy/server.js';
import { createCheckClient } from '../../src/cli/check-client.js';
import type { KeyLookup, KeySource } from '../../src/keys/key-source.js';
import {
  AUD,
  b64json,
  b64u,
  bearer,
  buildGate,
  cleanupTmp,
  denied,
  ecKey,
  edKey,
  fileIssuer,
  type Gate,
  ISS_A,
  ISS_B,
  mint,
  NOW_MS,
  rawSign,
  rsaKey,
  sendJson,
  signParts,
  startCountingServer,
  type CountingServer,
  claims,
} from './harness.js';

afterAll(() => cleanupTmp());

const keyA = rsaKey('a-1');
const keyB = rsaKey('b-1');
const attacker = rsaKey('evil-1');

function checkRequest(token?: string): CheckRequestMessage {
  const headers: Record<string, string> = { ':method': 'GET', ':path': '/api/items', ':authority': 'api.example.com' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  return { attributes: { request: { http: { method: 'GET', host: 'api.example.com', path: '/api/items', headers } } } };
}

/** A KeySource double: lookups behave as `lookup` says; everything else is inert. */
function fakeSource(lookup: KeySource['lookup']): KeySource {
  return {
    start() {},
    close() {},
    lookup,
    ready: () => true,
    state: () => ({
      issuer: 'a',
      keyCount: 1,
      usable: true,
      consecutiveFailures: 0,
      staleSeconds: 0,
      skippedKeys: 0,
      fetches: { ok: 1, error: 0 },
    }),
    whenSettled: () => Promise.resolve(),
  };
}

function deciderWith(source: KeySource): Decide {
  const config = validateConfig({
    issuers: [{ name: 'a', issuer: ISS_A, jwks_file: '/nonexistent/never-read.json', audiences: [AUD] }],
    unmatched: 'authenticated',
  });
  return createDecider(
    compileConfig(config, () => source),
    { nowMs: () => NOW_MS },
  );
}

describe('P1 fail closed', () => {
  const throwing: Array<[string, () => unknown]> = [
    [
      'TypeError',
      () => {
        throw new TypeError('boom');
      },
    ],
    [
      'RangeError',
      () => {
        throw new RangeError('deep');
      },
    ],
    [
      'a string',
      () => {
        throw 'not an error';
      },
    ],
    [
      'undefined',
      () => {
        throw undefined;
      },
    ],
  ];

  it.each(throwing)(
    'a decider that throws %s synchronously gets an error answer (13), never OK',
    async (_name, thrower) => {
      const response = await answerCheck(checkRequest(mint(keyA)), thrower as unknown as Decide);
      expect(response.status.code).toBe(RpcCode.INTERNAL);
      expect(response.ok_response).toBeUndefined();
      expect(response.error_response).toBeDefined();
    },
  );

  it.each(throwing)('a decider whose promise rejects with %s gets an error answer (13)', async (_name, thrower) => {
    const decide: Decide = async () => thrower() as never;
    const response = await answerCheck(checkRequest(mint(keyA)), decide);
    expect(response.status.code).toBe(RpcCode.INTERNAL);
    expect(response.ok_response).toBeUndefined();
  });

  it('a decider that resolves to a malformed decision (a bug, not a throw) still gets an error answer (13)', async () => {
    // The Check handler must always answer: turning the decision into a CheckResponse can fail too,
    // and in the gRPC server a rejected answerCheck is an unanswered call and an unhandled rejection.
    const malformed = [
      undefined,
      null,
      {},
      { outcome: 'deny', reason: 'ERR_NOT_IN_CATALOGUE', status: 401 },
      { outcome: 'allow', reason: 'OK_AUTHENTICATED', route: 'r' },
    ];
    for (const bad of malformed) {
      const response = await answerCheck(checkRequest(mint(keyA)), (async () => bad) as unknown as Decide).catch(
        (e: Error) => `rejected: ${e.message}`,
      );
      expect([bad, response]).toEqual([
        bad,
        expect.objectContaining({ status: { code: RpcCode.INTERNAL, message: 'ERR_INTERNAL' } }),
      ]);
    }
  });

  it('a key source whose lookup throws synchronously: the real engine rejects, answerCheck answers 13', async () => {
    const decide = deciderWith(
      fakeSource(() => {
        throw new TypeError("Cannot read properties of undefined (reading 'key')");
      }),
    );
    await expect(decide(bearer(mint(keyA)))).rejects.toThrow(TypeError);
    const response = await answerCheck(checkRequest(mint(keyA)), decide);
    expect(response.status.code).toBe(RpcCode.INTERNAL);
    expect(response.ok_response).toBeUndefined();
  });

  it('a key source whose lookup promise rejects: error answer 13', async () => {
    const decide = deciderWith(fakeSource(() => Promise.reject(new Error('socket hang up'))));
    const response = await answerCheck(checkRequest(mint(keyA)), decide);
    expect(response.status.code).toBe(RpcCode.INTERNAL);
    expect(response.ok_response).toBeUndefined();
  });

  it('a key source that is unavailable: error answer 14 (UNAVAILABLE), 503, not an allow and not a 401', async () => {
    const decide = deciderWith(fakeSource(() => ({ ok: false, reason: 'ERR_JWKS_UNAVAILABLE' })));
    const response = await answerCheck(checkRequest(mint(keyA)), decide);
    expect(response.status.code).toBe(RpcCode.UNAVAILABLE);
    expect(response.error_response?.status.code).toBe('ServiceUnavailable');
    expect(response.denied_response).toBeUndefined();
  });

  it('a key of the wrong type for the algorithm (crypto would throw) is a failed verification, not an allow or a crash', async () => {
    const wrongKeys: KeyObject[] = [
      ecKey('ec-x').publicKey,
      edKey('ed-x').publicKey,
      ecKey('ec-384', 'P-384').publicKey,
    ];
    for (const key of wrongKeys) {
      const found: KeyLookup = {
        ok: true,
        key: { kid: 'a-1', kty: 'RSA', key, algorithms: new Set(['RS256'] as const) },
      };
      const d = denied(await deciderWith(fakeSource(() => found))(bearer(mint(keyA))));
      expect(d.reason).toBe('ERR_SIGNATURE_INVALID');
    }
  });

  it('hostile or empty CheckRequests are answered with a non-OK code, never a throw', async () => {
    const gate = await buildGate({ issuers: [fileIssuer('a', ISS_A, [keyA.jwk])] });
    const garbage = [
      null,
      undefined,
      {},
      { attributes: 5 },
      { attributes: { request: { http: { headers: { authorization: 7 } } } } },
      {
        attributes: {
          request: {
            http: { header_map: { headers: [{ key: 'authorization', raw_value: Buffer.from([0xff, 0xfe]) }] } },
          },
        },
      },
    ];
    for (const request of garbage) {
      const response = await answerCheck(request as unknown as CheckRequestMessage, gate.decide);
      expect(response.status.code).not.toBe(RpcCode.OK);
      expect(response.ok_response).toBeUndefined();
    }
    gate.close();
  });

  it('an observer that throws does not change or prevent the answer', async () => {
    const decide = deciderWith(fakeSource(() => ({ ok: false, reason: 'ERR_KEY_NOT_FOUND' })));
    const response = await answerCheck(checkRequest(mint(keyA)), decide, () => {
      throw new Error('metrics broke');
    });
    expect(response.status.code).toBe(RpcCode.UNAUTHENTICATED);
  });

  it('over real gRPC, a throwing decider is a CheckResponse with code 13, not a transport error', async () => {
    const server = await startGrpcServer({
      address: '127.0.0.1:0',
      decider: () =>
        (() => {
          throw new Error('bug');
        }) as unknown as Decide,
    });
    const client = createCheckClient(`127.0.0.1:${server.port}`);
    try {
      const summary = await client.check({ path: '/api/items', token: mint(keyA) }, 5000);
      expect(summary.grpcCode).toBe(RpcCode.INTERNAL);
      expect(summary.kind).toBe('error');
    } finally {
      client.close();
      await server.shutdown(100);
    }
  });

  it('a key fetch that never answers ends in an error answer within the check deadline (a timeout is never an allow)', async () => {
    const idp = await startCountingServer(() => {
      /* never respond */
    });
    const gate = await buildGate({
      issuers: [
        {
          name: 'a',
          issuer: ISS_A,
          jwks_uri: `${idp.origin}/jwks`,
          allow_insecure_http: true,
          audiences: [AUD],
          keys: { fetch_timeout_ms: 5000 },
        },
      ],
      server: { check_deadline_ms: 100 },
      settle: false,
    });
    try {
      const started = Date.now();
      const d = denied(await gate.decide(bearer(mint(keyA))));
      expect(Date.now() - started).toBeLessThan(3000);
      expect(d.outcome).toBe('error');
      expect(d.reason).toBe('ERR_JWKS_UNAVAILABLE');
    } finally {
      gate.close();
      await idp.close();
    }
  });
});

describe('P2 issuer allow-list', () => {
  let gate: Gate;
  beforeAll(async () => {
    gate = await buildGate({ issuers: [fileIssuer('a', ISS_A, [keyA.jwk]), fileIssuer('b', ISS_B, [keyB.jwk])] });
  });
  afterAll(() => gate.close());

  it('control: the exact configured iss verifies (A without slash, B with its trailing slash)', async () => {
    expect((await gate.decide(bearer(mint(keyA)))).outcome).toBe('allow');
    expect((await gate.decide(bearer(mint(keyB, { iss: ISS_B })))).outcome).toBe('allow');
  });

  const variants: Array<[string, string, 'a' | 'b']> = [
    ['A with a trailing slash', `${ISS_A}/`, 'a'],
    ['B without its trailing slash', ISS_B.slice(0, -1), 'b'],
    ['A with upper-case host', 'https://IDP-A.example.com', 'a'],
    ['A with upper-case scheme', 'HTTPS://idp-a.example.com', 'a'],
    ['A with explicit :443', 'https://idp-a.example.com:443', 'a'],
    ['A with trailing space', `${ISS_A} `, 'a'],
    ['A with a fragment', `${ISS_A}#`, 'a'],
    ['A as http', 'http://idp-a.example.com', 'a'],
    ['A with a path suffix', `${ISS_A}/tenant`, 'a'],
    ['A prefix only', 'https://idp-a.example.co', 'a'],
  ];
  it.each(variants)('rejects %s (signed with the real key of that issuer)', async (_name, iss, which) => {
    const key = which === 'a' ? keyA : keyB;
    const d = denied(await gate.decide(bearer(mint(key, { iss }))));
    expect(d.reason).toBe('ERR_ISSUER_NOT_ALLOWED');
    expect(d.status).toBe(401);
  });

  it.each([[['https://idp-a.example.com']], [{ url: ISS_A }], [null], [42], [undefined]])(
    'rejects a non-string or missing iss (%j)',
    async (iss) => {
      const d = denied(await gate.decide(bearer(mint(keyA, { iss }))));
      expect(d.reason).toBe('ERR_CLAIMS_INVALID');
    },
  );

  it('an unknown issuer causes no network call at all, even when its metadata and keys are reachable', async () => {
    const idp = await startCountingServer();
    const evil = await startCountingServer((req, res) => {
      if (req.url === '/.well-known/openid-configuration')
        sendJson(res, 200, { issuer: evil.origin, jwks_uri: `${evil.origin}/jwks` });
      else sendJson(res, 200, { keys: [attacker.jwk] });
    });
    idp.handle((req, res) => {
      if (req.url === '/.well-known/openid-configuration')
        sendJson(res, 200, { issuer: idp.origin, jwks_uri: `${idp.origin}/jwks` });
      else sendJson(res, 200, { keys: [keyA.jwk] });
    });
    const remote = await buildGate({
      issuers: [{ name: 'a', issuer: idp.origin, allow_insecure_http: true, audiences: [AUD] }],
    });
    try {
      const before = idp.count();
      expect(before).toBe(2); // prefetch: discovery + JWKS
      for (const iss of [
        evil.origin,
        `${evil.origin}/`,
        `${idp.origin}/`,
        `${idp.origin}/other`,
        idp.origin.toUpperCase(),
      ]) {
        const d = denied(await remote.decide(bearer(mint(attacker, { iss }))));
        expect(d.reason).toBe('ERR_ISSUER_NOT_ALLOWED');
      }
      await Promise.all([...remote.sources.values()].map((s) => s.whenSettled()));
      expect(evil.count()).toBe(0);
      expect(idp.count()).toBe(before);
      // Control: the configured issuer works through the same source.
      expect((await remote.decide(bearer(mint(keyA, { iss: idp.origin })))).outcome).toBe('allow');
    } finally {
      remote.close();
      await idp.close();
      await evil.close();
    }
  });
});

describe('P3 keys bound to issuer', () => {
  let gate: Gate;
  const sharedA = rsaKey('shared', { name: 'shared-a' });
  const sharedB = rsaKey('shared', { name: 'shared-b' });
  beforeAll(async () => {
    gate = await buildGate({
      issuers: [fileIssuer('a', ISS_A, [keyA.jwk, sharedA.jwk]), fileIssuer('b', ISS_B, [keyB.jwk, sharedB.jwk])],
    });
  });
  afterAll(() => gate.close());

  it("a token claiming issuer A, with B's kid, signed by B's valid key, is rejected", async () => {
    const d = denied(await gate.decide(bearer(mint(keyB, { iss: ISS_A }))));
    expect(d.reason).toBe('ERR_KEY_NOT_FOUND');
    // Control: the very same key and kid are fine for their own issuer.
    expect((await gate.decide(bearer(mint(keyB, { iss: ISS_B })))).outcome).toBe('allow');
  });

  it("the same kid published by two issuers resolves only in the named issuer's set", async () => {
    const d = denied(await gate.decide(bearer(mint(sharedB, { iss: ISS_A }))));
    expect(d.reason).toBe('ERR_SIGNATURE_INVALID');
    expect((await gate.decide(bearer(mint(sharedB, { iss: ISS_B })))).outcome).toBe('allow');
    expect((await gate.decide(bearer(mint(sharedA, { iss: ISS_A })))).outcome).toBe('allow');
  });

  it('a kid-less token is not verified by trying every known key', async () => {
    for (const key of [keyA, keyB, sharedA, sharedB]) {
      const d = denied(await gate.decide(bearer(mint(key, { iss: ISS_A }, { header: { kid: undefined } }))));
      expect(d.outcome).toBe('deny');
    }
  });

  it("with remote key sets, a token naming A never makes B's JWKS be fetched", async () => {
    const idp = await startCountingServer((req, res) =>
      sendJson(res, 200, { keys: [req.url === '/a/jwks' ? keyA.jwk : keyB.jwk] }),
    );
    const remote = await buildGate({
      issuers: [
        { name: 'a', issuer: ISS_A, jwks_uri: `${idp.origin}/a/jwks`, allow_insecure_http: true, audiences: [AUD] },
        { name: 'b', issuer: ISS_B, jwks_uri: `${idp.origin}/b/jwks`, allow_insecure_http: true, audiences: [AUD] },
      ],
    });
    try {
      const bBefore = idp.count('/b/jwks');
      expect(denied(await remote.decide(bearer(mint(keyB, { iss: ISS_A })))).reason).toBe('ERR_KEY_NOT_FOUND');
      await Promise.all([...remote.sources.values()].map((s) => s.whenSettled()));
      expect(idp.count('/b/jwks')).toBe(bBefore);
    } finally {
      remote.close();
      await idp.close();
    }
  });
});

describe('P4 key material never from the token', () => {
  let gate: Gate;
  let evil: CountingServer;
  beforeAll(async () => {
    evil = await startCountingServer((_req, res) => sendJson(res, 200, { keys: [attacker.jwk] }));
    gate = await buildGate({ issuers: [fileIssuer('a', ISS_A, [keyA.jwk])] });
  });
  afterAll(async () => {
    gate.close();
    await evil.close();
  });

  const spkiDer = () => attacker.publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
  const headers = (): Array<[string, Record<string, unknown>]> => [
    ['jwk (attacker public key, attacker kid)', { jwk: attacker.jwk, kid: attacker.kid }],
    ['jwk (attacker public key, no kid)', { jwk: attacker.jwk, kid: undefined }],
    ["jwk (attacker public key, A's kid)", { jwk: { ...attacker.jwk, kid: keyA.kid }, kid: keyA.kid }],
    ['jku', { jku: `${evil.origin}/jwks`, kid: attacker.kid }],
    ["jku with A's kid", { jku: `${evil.origin}/jwks`, kid: keyA.kid }],
    ['x5u', { x5u: `${evil.origin}/cert.pem`, kid: attacker.kid }],
    ['x5c', { x5c: [spkiDer()], kid: attacker.kid }],
    ['x5c without kid', { x5c: [spkiDer()], kid: undefined }],
  ];

  it('rejects tokens signed by an attacker key offered in jwk/jku/x5u/x5c, and never fetches the URLs', async () => {
    for (const [name, header] of headers()) {
      const d = denied(await gate.decide(bearer(mint(attacker, {}, { header }))));
      expect([name, d.reason]).toEqual([name, expect.stringMatching(/^ERR_(KEY_NOT_FOUND|SIGNATURE_INVALID)$/)]);
    }
    expect(evil.count()).toBe(0);
  });

  it("the same headers on a token signed by the issuer's real key are ignored (it verifies against configured keys), with no fetch", async () => {
    const d = await gate.decide(
      bearer(mint(keyA, {}, { header: { jku: `${evil.origin}/jwks`, x5u: `${evil.origin}/x`, jwk: attacker.jwk } })),
    );
    expect(d.outcome).toBe('allow');
    expect(evil.count()).toBe(0);
  });

  it('with a remote issuer, jku never redirects the fetch (only the configured jwks_uri is contacted)', async () => {
    const idp = await startCountingServer((_req, res) => sendJson(res, 200, { keys: [keyA.jwk] }));
    const remote = await buildGate({
      issuers: [
        { name: 'a', issuer: ISS_A, jwks_uri: `${idp.origin}/jwks`, allow_insecure_http: true, audiences: [AUD] },
      ],
    });
    try {
      const d = denied(await remote.decide(bearer(mint(attacker, {}, { header: { jku: `${evil.origin}/jwks` } }))));
      expect(d.reason).toBe('ERR_KEY_NOT_FOUND');
      await Promise.all([...remote.sources.values()].map((s) => s.whenSettled()));
      expect(evil.count()).toBe(0);
      expect(idp.hits.every((h) => h === '/jwks')).toBe(true);
    } finally {
      remote.close();
      await idp.close();
    }
  });

  const discoveryCases: Array<[string, (origin: string) => unknown]> = [
    ['another issuer', () => ISS_B],
    ['the issuer with a trailing slash', (o) => `${o}/`],
    ['the issuer in upper case', (o) => o.toUpperCase()],
    ['no issuer', () => undefined],
  ];
  it.each(discoveryCases)(
    'a discovery document naming %s is not trusted: its jwks_uri is never fetched',
    async (_name, issuerOf) => {
      const idp = await startCountingServer();
      idp.handle((req, res) => {
        if (req.url === '/.well-known/openid-configuration')
          sendJson(res, 200, { issuer: issuerOf(idp.origin), jwks_uri: `${idp.origin}/jwks` });
        else sendJson(res, 200, { keys: [keyA.jwk] });
      });
      const remote = await buildGate({
        issuers: [{ name: 'a', issuer: idp.origin, allow_insecure_http: true, audiences: [AUD] }],
        server: { check_deadline_ms: 500 },
      });
      try {
        const d = denied(await remote.decide(bearer(mint(keyA, { iss: idp.origin }))));
        expect(d.reason).toBe('ERR_JWKS_UNAVAILABLE');
        await Promise.all([...remote.sources.values()].map((s) => s.whenSettled()));
        expect(idp.count('/jwks')).toBe(0);
      } finally {
        remote.close();
        await idp.close();
      }
    },
  );

  it('control: a discovery document naming exactly the configured issuer is used', async () => {
    const idp = await startCountingServer();
    idp.handle((req, res) => {
      if (req.url === '/.well-known/openid-configuration')
        sendJson(res, 200, { issuer: idp.origin, jwks_uri: `${idp.origin}/jwks` });
      else sendJson(res, 200, { keys: [keyA.jwk] });
    });
    const remote = await buildGate({
      issuers: [{ name: 'a', issuer: idp.origin, allow_insecure_http: true, audiences: [AUD] }],
    });
    try {
      expect((await remote.decide(bearer(mint(keyA, { iss: idp.origin })))).outcome).toBe('allow');
    } finally {
      remote.close();
      await idp.close();
    }
  });
});

describe('P5 algorithm allow-list', () => {
  it.each([['HS256'], ['HS384'], ['HS512'], ['none'], ['None'], ['ES256K'], ['RSA-OAEP']])(
    'the config refuses algorithms: [%s]',
    (alg) => {
      expect(() =>
        validateConfig({
          issuers: [{ name: 'a', issuer: ISS_A, jwks_file: 'x.json', audiences: [AUD], algorithms: [alg] }],
        }),
      ).toThrow(ConfigError);
    },
  );

  describe('against an issuer that allows every asymmetric family', () => {
    let gate: Gate;
    const ec = ecKey('a-ec');
    beforeAll(async () => {
      gate = await buildGate({
        issuers: [
          fileIssuer(
            'a',
            ISS_A,
            [keyA.jwk, ec.jwk, { kty: 'oct', k: b64u('shared-secret'), kid: 'hmac', alg: 'HS256' }],
            {
              algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'],
            },
          ),
        ],
      });
    });
    afterAll(() => gate.close());

    const hs = (secret: Buffer | string, kid: string | undefined = keyA.kid, alg = 'HS256') => {
      const header: Record<string, unknown> = { alg, typ: 'at+jwt' };
      if (kid !== undefined) header.kid = kid;
      const input = `${b64json(header)}.${b64json(claims())}`;
      return `${input}.${b64u(
        createHmac(`sha${alg.slice(2)}`, secret)
          .update(input)
          .digest(),
      )}`;
    };

    it('alg none is rejected, with or without a signature segment, in any case', async () => {
      for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
        const unsigned = `${b64json({ alg, typ: 'at+jwt', kid: keyA.kid })}.${b64json(claims())}`;
        for (const token of [`${unsigned}.`, `${unsigned}.${b64u('x')}`]) {
          const d = denied(await gate.decide(bearer(token)));
          expect(d.reason).toMatch(/^ERR_(ALGORITHM_NOT_ALLOWED|TOKEN_MALFORMED)$/);
        }
      }
    });

    it('HS256 signed with the RSA public key bytes as HMAC secret (key confusion) is rejected', async () => {
      const pem = keyA.publicKey.export({ format: 'pem', type: 'spki' });
      const pkcs1 = keyA.publicKey.export({ format: 'pem', type: 'pkcs1' });
      const der = keyA.publicKey.export({ format: 'der', type: 'spki' });
      const secrets: Array<Buffer | string> = [
        pem,
        pkcs1,
        der,
        JSON.stringify(keyA.jwk),
        Buffer.from(keyA.jwk.n as string, 'base64url'),
      ];
      for (const secret of secrets) {
        for (const alg of ['HS256', 'HS384', 'HS512']) {
          for (const kid of [keyA.kid, undefined]) {
            const d = denied(await gate.decide(bearer(hs(secret, kid, alg))));
            expect(d.reason).toBe('ERR_ALGORITHM_NOT_ALLOWED');
          }
        }
      }
    });

    it('HS256 with the secret of an oct key published in the JWKS is rejected', async () => {
      const d = denied(await gate.decide(bearer(hs('shared-secret', 'hmac'))));
      expect(d.reason).toBe('ERR_ALGORITHM_NOT_ALLOWED');
    });

    it('an RSA key cannot verify an ECDSA alg nor an EC key an RSA alg (key type binds the alg)', async () => {
      const esWithRsaKid = signParts('ES256', ec.privateKey, { alg: 'ES256', typ: 'at+jwt', kid: keyA.kid }, claims());
      expect(denied(await gate.decide(bearer(esWithRsaKid))).reason).toBe('ERR_KEY_NOT_FOUND');
      const rsWithEcKid = signParts('RS256', keyA.privateKey, { alg: 'RS256', typ: 'at+jwt', kid: ec.kid }, claims());
      expect(denied(await gate.decide(bearer(rsWithEcKid))).reason).toBe('ERR_KEY_NOT_FOUND');
    });
  });

  describe('an issuer that allows RS256 only', () => {
    let gate: Gate;
    beforeAll(async () => {
      gate = await buildGate({ issuers: [fileIssuer('a', ISS_A, [keyA.jwk], { algorithms: ['RS256'] })] });
    });
    afterAll(() => gate.close());

    it.each([['RS384'], ['RS512'], ['PS256'], ['PS512']] as const)(
      'rejects %s even though the key signed it correctly',
      async (alg) => {
        const d = denied(await gate.decide(bearer(mint(keyA, {}, { alg }))));
        expect(d.reason).toBe('ERR_ALGORITHM_NOT_ALLOWED');
      },
    );

    it('control: RS256 verifies', async () => {
      expect((await gate.decide(bearer(mint(keyA)))).outcome).toBe('allow');
    });
  });

  describe("a JWK's alg, use and key_ops narrow the allow-list, never widen it", () => {
    let gate: Gate;
    const rsOnly = rsaKey('rs-only', { name: 'narrow-1', extra: { alg: 'RS256', use: 'sig' } });
    const psOnly = rsaKey('ps-only', { name: 'narrow-2', extra: { alg: 'PS256' } });
    const widen = rsaKey('widen', { name: 'narrow-3', extra: { alg: 'RS512' } });
    const hsAlg = rsaKey('hs-alg', { name: 'narrow-4', extra: { alg: 'HS256' } });
    const p384 = ecKey('p384', 'P-384');
    const verifyOps = rsaKey('ops-verify', { name: 'narrow-5', extra: { key_ops: ['verify'] } });
    const signOps = rsaKey('ops-sign', { name: 'narrow-6', extra: { key_ops: ['sign'] } });
    beforeAll(async () => {
      gate = await buildGate({
        issuers: [
          fileIssuer('a', ISS_A, [rsOnly.jwk, psOnly.jwk, widen.jwk, hsAlg.jwk, p384.jwk, verifyOps.jwk, signOps.jwk], {
            algorithms: ['RS256', 'PS256', 'ES256', 'ES384'],
          }),
        ],
      });
    });
    afterAll(() => gate.close());

    it('a JWK with alg RS256 does not verify PS256 (and vice versa)', async () => {
      expect((await gate.decide(bearer(mint(rsOnly, {}, { alg: 'RS256' })))).outcome).toBe('allow');
      expect(denied(await gate.decide(bearer(mint(rsOnly, {}, { alg: 'PS256' })))).reason).toBe('ERR_KEY_NOT_FOUND');
      expect((await gate.decide(bearer(mint(psOnly, {}, { alg: 'PS256' })))).outcome).toBe('allow');
      expect(denied(await gate.decide(bearer(mint(psOnly, {}, { alg: 'RS256' })))).reason).toBe('ERR_KEY_NOT_FOUND');
    });

    it('a JWK naming an alg outside the issuer list does not add it (RS512), and the key is not usable for others', async () => {
      expect(denied(await gate.decide(bearer(mint(widen, {}, { alg: 'RS512' })))).reason).toBe(
        'ERR_ALGORITHM_NOT_ALLOWED',
      );
      expect(denied(await gate.decide(bearer(mint(widen, {}, { alg: 'RS256' })))).reason).toBe('ERR_KEY_NOT_FOUND');
    });

    it('a JWK claiming alg HS256 on an RSA key is not usable at all', async () => {
      expect(denied(await gate.decide(bearer(mint(hsAlg, {}, { alg: 'RS256' })))).reason).toBe('ERR_KEY_NOT_FOUND');
    });

    it('a P-384 key verifies ES384 only, never ES256 (curve binds the alg)', async () => {
      expect(await gate.decide(bearer(mint(p384)))).toMatchObject({ outcome: 'allow' });
      const es256 = signParts('ES256', p384.privateKey, { alg: 'ES256', typ: 'at+jwt', kid: p384.kid }, claims());
      expect(denied(await gate.decide(bearer(es256))).reason).toBe('ERR_KEY_NOT_FOUND');
    });

    it('key_ops without verify makes the key unusable; key_ops [verify] is fine', async () => {
      expect((await gate.decide(bearer(mint(verifyOps)))).outcome).toBe('allow');
      expect(denied(await gate.decide(bearer(mint(signOps)))).reason).toBe('ERR_KEY_NOT_FOUND');
    });
  });
});

describe('P6 key hygiene at load', () => {
  const goodRsa = rsaKey('good-rsa', { name: 'hyg-good' });
  const goodEc = ecKey('good-ec');
  const goodEd = edKey('good-ed');
  const small = rsaKey('rsa-1024', { bits: 1024 });
  const e3 = rsaKey('rsa-e3', { exponent: 3 });
  const priv = rsaKey('private', { name: 'hyg-priv' });
  const enc = rsaKey('enc', { name: 'hyg-enc', extra: { use: 'enc' } });
  const offCurve = ecKey('off-curve');
  let gate: Gate;

  /** (bad JWK, private key that would sign for it, or undefined when no token can be minted) */
  const badKeys = (): Array<
    [string, Record<string, unknown> | unknown, { key: KeyObject; alg: 'RS256' | 'ES256' } | undefined]
  > => {
    const ecJwk = offCurve.jwk as Record<string, string>;
    const y = Buffer.from(ecJwk.y!, 'base64url');
    y[y.length - 1]! ^= 0x01;
    const e1 = { kty: 'RSA', kid: 'rsa-e1', n: goodRsa.jwk.n, e: 'AQ' };
    const shortX = {
      ...goodEc.jwk,
      kid: 'ec-short-x',
      x: b64u(Buffer.from(goodEc.jwk.x as string, 'base64url').subarray(1)),
    };
    return [
      ['symmetric (oct)', { kty: 'oct', kid: 'sym', k: b64u('secret'), alg: 'HS256' }, undefined],
      [
        'private RSA JWK (has d, p, q)',
        { ...(priv.privateKey.export({ format: 'jwk' }) as object), kid: 'private' },
        { key: priv.privateKey, alg: 'RS256' },
      ],
      ['use: enc', enc.jwk, { key: enc.privateKey, alg: 'RS256' }],
      ['RSA 1024 bits', small.jwk, { key: small.privateKey, alg: 'RS256' }],
      ['RSA e = 3', e3.jwk, { key: e3.privateKey, alg: 'RS256' }],
      ['RSA e = 1', e1, undefined],
      ['EC point off its curve', { ...ecJwk, y: b64u(y) }, { key: offCurve.privateKey, alg: 'ES256' }],
      ['EC coordinate of the wrong length', shortX, undefined],
      ['EC secp256k1', { ...goodEc.jwk, kid: 'k1', crv: 'secp256k1' }, undefined],
      ['OKP X25519 (key agreement)', { kty: 'OKP', crv: 'X25519', kid: 'x25519', x: goodEd.jwk.x }, undefined],
      ['unknown kty', { kty: 'RSA-PSS', kid: 'pss', n: goodRsa.jwk.n, e: 'AQAB' }, undefined],
      ['n is a number', { kty: 'RSA', kid: 'n-number', n: 12345, e: 'AQAB' }, undefined],
      ['EC without coordinates', { kty: 'EC', kid: 'no-xy', crv: 'P-256' }, undefined],
      ['null entry', null, undefined],
      ['string entry', 'AQAB', undefined],
      ['array entry', [goodRsa.jwk], undefined],
      ['kid not a string', { ...goodRsa.jwk, kid: 7 }, undefined],
    ];
  };

  beforeAll(async () => {
    gate = await buildGate({
      issuers: [fileIssuer('a', ISS_A, [...badKeys().map(([, jwk]) => jwk), goodRsa.jwk, goodEc.jwk, goodEd.jwk])],
    });
  });
  afterAll(() => gate.close());

  it('good keys in the same set still verify', async () => {
    for (const key of [goodRsa, goodEc, goodEd]) expect((await gate.decide(bearer(mint(key)))).outcome).toBe('allow');
  });

  it('every bad key is skipped, none poisons the set, and the count says so', () => {
    const state = gate.sources.get('a')!.state();
    expect(state.keyCount).toBe(3);
    expect(state.skippedKeys).toBe(badKeys().length);
    expect(state.usable).toBe(true);
  });

  it('a token signed by the private half of each bad key is rejected', async () => {
    for (const [name, jwk, signer] of badKeys()) {
      if (signer === undefined) continue;
      const kid = (jwk as { kid: string }).kid;
      const token = signParts(signer.alg, signer.key, { alg: signer.alg, typ: 'at+jwt', kid }, claims());
      const d = denied(await gate.decide(bearer(token)));
      expect([name, d.reason]).toEqual([name, 'ERR_KEY_NOT_FOUND']);
    }
  });

  it('an e = 1 key cannot be used for the textbook forgery (signature = padded digest)', async () => {
    const input = `${b64json({ alg: 'RS256', typ: 'at+jwt', kid: 'rsa-e1' })}.${b64json(claims({ sub: 'admin' }))}`;
    const digestInfo = Buffer.concat([
      Buffer.from('3031300d060960864801650304020105000420', 'hex'),
      createHash('sha256').update(input).digest(),
    ]);
    const em = Buffer.concat([
      Buffer.from([0x00, 0x01]),
      Buffer.alloc(256 - 3 - digestInfo.length, 0xff),
      Buffer.from([0x00]),
      digestInfo,
    ]);
    const d = denied(await gate.decide(bearer(`${input}.${b64u(em)}`)));
    expect(d.reason).toBe('ERR_KEY_NOT_FOUND');
  });

  it('a set in which every key is bad gives no usable keys: an error answer, never an allow', async () => {
    const bad = await buildGate({ issuers: [fileIssuer('a', ISS_A, [small.jwk, e3.jwk, enc.jwk])] });
    try {
      const d = denied(await bad.decide(bearer(mint(small))));
      expect(d.outcome).toBe('error');
      expect(d.reason).toBe('ERR_JWKS_UNAVAILABLE');
    } finally {
      bad.close();
    }
  });

  it("control for the signature helpers: the off-curve key's real twin verifies", async () => {
    const twin = await buildGate({ issuers: [fileIssuer('a', ISS_A, [offCurve.jwk])] });
    try {
      expect((await twin.decide(bearer(mint(offCurve)))).outcome).toBe('allow');
      // And the raw signature helper produces a JWS-format (r||s) signature of the right size.
      expect(rawSign('ES256', offCurve.privateKey, 'x')).toHaveLength(64);
    } finally {
      twin.close();
    }
  });
});
