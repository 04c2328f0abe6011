/**
 * DPoP (RFC 9449) at claimgate, over real gRPC: startClaimgate on loopback and an ext_authz client.
 * One rule of §4.3 (or §7.1 for the token) is broken per case, each with a fresh client key pair, so a
 * pass can only come from the rule under test. The clock is injected, so stale and future proofs need
 * no waiting.
 */
import { createHmac } from 'node:crypto';
import { startClaimgate, type Claimgate } from '../../src/app/claimgate.js';
import { createCheckClient, type CheckClient, type CheckSummary } from '../../src/cli/check-client.js';
import { validateConfig } from '../../src/validation/load.js';
import type { CheckRequestMessage } from '../../src/envoy/messages.js';
import { cleanupTmp, fileIssuer, ISS_A, mint, NOW_MS, rsaKey } from '../security/harness.js';
import { ath, dpopClient, proof, unsignedProof, type DpopClient } from './dpop-proof.js';

const idpKey = rsaKey('dpop-idp');
const HTU = 'https://api.example.com/orders/1';
const ALGS = 'ES256 PS256 EdDSA';

let nowMs = NOW_MS;
const nowS = () => Math.floor(nowMs / 1000);

let app: Claimgate;
let nonceApp: Claimgate;
let client: CheckClient;
let nonceClient: CheckClient;

function configFor(nonce: boolean) {
  return validateConfig({
    server: { grpc_address: '127.0.0.1:0', admin_address: '127.0.0.1:0', watch_config: false },
    issuers: [fileIssuer('a', ISS_A, [idpKey.jwk], { binding: 'allowed' })],
    routes: [
      { name: 'bound-only', match: { path: { prefix: '/bound' } }, binding: 'required' },
      { name: 'bearer-only', match: { path: { prefix: '/legacy' } }, binding: 'none' },
      { name: 'orders', match: { path: { prefix: '/orders' } } },
    ],
    upstream: { headers: [{ name: 'x-user-id', claim: 'sub' }] },
    binding: {
      dpop: { algorithms: ALGS.split(' '), nonce: { required: nonce, lifetime_seconds: 60 } },
    },
  });
}

beforeAll(async () => {
  app = await startClaimgate(configFor(false), { nowMs: () => nowMs });
  nonceApp = await startClaimgate(configFor(true), { nowMs: () => nowMs });
  await Promise.all([app.whenSettled(), nonceApp.whenSettled()]);
  client = createCheckClient(`127.0.0.1:${app.grpcPort}`);
  nonceClient = createCheckClient(`127.0.0.1:${nonceApp.grpcPort}`);
});

afterAll(async () => {
  client?.close();
  nonceClient?.close();
  await Promise.all([app?.close(100), nonceApp?.close(100)]);
  cleanupTmp();
});

beforeEach(() => {
  nowMs = NOW_MS;
});

/** A token of the test IdP bound to the client's key (cnf.jkt), or unbound. */
const boundToken = (c: DpopClient, extra: Record<string, unknown> = {}) =>
  mint(idpKey, { cnf: { jkt: c.jkt }, ...extra });

interface Send {
  readonly method?: string;
  readonly path?: string;
  readonly host?: string;
  readonly scheme?: string;
  /** Header lines in order; repeated names stay separate lines (Envoy's header_map). */
  readonly lines: ReadonlyArray<readonly [string, string]>;
}

function request(s: Send): CheckRequestMessage {
  const method = s.method ?? 'GET';
  const path = s.path ?? '/orders/1';
  const host = s.host ?? 'api.example.com';
  const lines: (readonly [string, string])[] = [[':method', method], [':path', path], [':authority', host], ...s.lines];
  return {
    attributes: {
      request: {
        http: {
          method,
          host,
          path,
          scheme: s.scheme ?? 'https',
          protocol: 'HTTP/1.1',
          header_map: { headers: lines.map(([key, value]) => ({ key, raw_value: Buffer.from(value) })) },
        },
      },
    },
  };
}

const dpopCall = (token: string, proofs: string[], s: Partial<Send> = {}, via = client) =>
  via.check(request({ ...s, lines: [['authorization', `DPoP ${token}`], ...proofs.map((p) => ['dpop', p] as const)] }));

const outcome = (r: CheckSummary) => (r.kind === 'allow' ? 'allow' : `${r.httpStatus} ${r.reason}`);

/** A valid request: the client's proof for GET HTU with the bound token. */
async function valid(c: DpopClient, overrides: Parameters<typeof proof>[1] extends infer O ? Partial<O> : never = {}) {
  const token = boundToken(c);
  return { token, proof: proof(c, { iatS: nowS(), token, ...overrides }) };
}

describe('DPoP proofs (RFC 9449 §4.3) over gRPC', () => {
  it('a valid proof with its bound token is allowed, with identity headers', async () => {
    const c = await dpopClient();
    const { token, proof: p } = await valid(c);
    const r = await dpopCall(token, [p]);
    expect(outcome(r)).toBe('allow');
    expect(r.headers['x-user-id']).toBe('user-1');
  });

  it.each(['PS256', 'EdDSA'] as const)('a %s proof is allowed', async (alg) => {
    const c = await dpopClient(alg);
    const { token, proof: p } = await valid(c);
    expect(outcome(await dpopCall(token, [p]))).toBe('allow');
  });

  it('htm must be the request method, exactly', async () => {
    const c = await dpopClient();
    const token = boundToken(c);
    for (const htm of ['POST', 'get']) {
      const r = await dpopCall(token, [proof(c, { iatS: nowS(), token, htm })]);
      expect([htm, outcome(r)]).toEqual([htm, '401 ERR_DPOP_METHOD_MISMATCH']);
      expect(r.headers['www-authenticate']).toBe(
        `DPoP realm="claimgate", error="invalid_dpop_proof", error_description="DPoP proof htm is not the request method", algs="${ALGS}"`,
      );
    }
  });

  it.each([
    ['another path', 'https://api.example.com/orders/2'],
    ['another host', 'https://evil.example.com/orders/1'],
    ['another scheme', 'http://api.example.com/orders/1'],
    ['another port', 'https://api.example.com:8443/orders/1'],
    ['a relative URI', '/orders/1'],
  ])('htu naming %s is refused', async (_what, htu) => {
    const c = await dpopClient();
    const token = boundToken(c);
    expect(outcome(await dpopCall(token, [proof(c, { iatS: nowS(), token, htu })]))).toBe('401 ERR_DPOP_URI_MISMATCH');
  });

  it('htu ignores query and fragment, and compares after RFC 3986 normalisation', async () => {
    const c = await dpopClient();
    const token = boundToken(c);
    const cases: [string, string][] = [
      ['/orders/1?page=2', HTU],
      ['/orders/1', `${HTU}?x=1#frag`],
      ['/orders/1', 'HTTPS://API.example.com:443/orders/1'],
    ];
    for (const [path, htu] of cases) {
      const r = await dpopCall(token, [proof(c, { iatS: nowS(), token, htu })], { path });
      expect([path, htu, outcome(r)]).toEqual([path, htu, 'allow']);
    }
  });

  it('a request whose scheme the proxy did not say is refused (htu cannot be checked)', async () => {
    const c = await dpopClient();
    const { token, proof: p } = await valid(c);
    expect(outcome(await dpopCall(token, [p], { scheme: '' }))).toBe('401 ERR_DPOP_URI_MISMATCH');
  });

  it('iat older than the window is stale; iat ahead of the clock beyond the skew is refused', async () => {
    const c = await dpopClient();
    const token = boundToken(c);
    expect(outcome(await dpopCall(token, [proof(c, { iatS: nowS() - 66, token })]))).toBe('401 ERR_DPOP_PROOF_STALE');
    expect(outcome(await dpopCall(token, [proof(c, { iatS: nowS() + 6, token })]))).toBe(
      '401 ERR_DPOP_PROOF_FROM_FUTURE',
    );
    // Inside the window (max age 60 + skew 5 back, skew 5 ahead): accepted.
    expect(outcome(await dpopCall(token, [proof(c, { iatS: nowS() - 64, token })]))).toBe('allow');
    expect(outcome(await dpopCall(token, [proof(c, { iatS: nowS() + 4, token })]))).toBe('allow');
  });

  it('a replayed jti is refused, also later in the window; the same jti from another key is not a replay', async () => {
    const c = await dpopClient();
    const { token, proof: p } = await valid(c, { jti: 'fixed-jti-1' });
    expect(outcome(await dpopCall(token, [p]))).toBe('allow');
    expect(outcome(await dpopCall(token, [p]))).toBe('401 ERR_DPOP_REPLAYED');
    nowMs += 30_000;
    expect(outcome(await dpopCall(token, [p]))).toBe('401 ERR_DPOP_REPLAYED');
    const other = await dpopClient();
    const second = await valid(other, { jti: 'fixed-jti-1' });
    expect(outcome(await dpopCall(second.token, [second.proof]))).toBe('allow');
  });

  it('ath must be the hash of the presented token, and is required', async () => {
    const c = await dpopClient();
    const token = boundToken(c);
    const otherToken = boundToken(c, { sub: 'user-2' });
    expect(outcome(await dpopCall(token, [proof(c, { iatS: nowS(), token: otherToken })]))).toBe(
      '401 ERR_DPOP_ATH_MISMATCH',
    );
    expect(outcome(await dpopCall(token, [proof(c, { iatS: nowS() })]))).toBe('401 ERR_DPOP_ATH_MISMATCH');
    expect(ath(token)).not.toBe(ath(otherToken));
  });

  it('a proof signed by another key than its jwk fails the signature', async () => {
    const c = await dpopClient();
    const thief = await dpopClient();
    const token = boundToken(c);
    const p = proof(c, { iatS: nowS(), token, signWith: thief.privateKey });
    expect(outcome(await dpopCall(token, [p]))).toBe('401 ERR_DPOP_SIGNATURE_INVALID');
  });

  it("a valid proof of another key does not unlock the token (cnf.jkt is the proof key's thumbprint)", async () => {
    const c = await dpopClient();
    const thief = await dpopClient();
    const token = boundToken(c);
    expect(outcome(await dpopCall(token, [proof(thief, { iatS: nowS(), token })]))).toBe('401 ERR_DPOP_KEY_MISMATCH');
  });

  it('a jwk with private members, a symmetric jwk, or a jwk that is not the alg’s key type is refused', async () => {
    const c = await dpopClient();
    const token = boundToken(c);
    const privateJwk = c.privateKey.export({ format: 'jwk' });
    const rsa = await dpopClient('PS256');
    const cases: Record<string, unknown>[] = [
      privateJwk,
      { kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0' },
      rsa.publicJwk,
      { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' },
    ];
    for (const jwk of cases) {
      const r = await dpopCall(token, [proof(c, { iatS: nowS(), token, header: { jwk } })]);
      expect([jwk.kty, outcome(r)]).toEqual([jwk.kty, '401 ERR_DPOP_KEY_INVALID']);
    }
  });

  it('alg none and HMAC proofs are refused before any key is used', async () => {
    const c = await dpopClient();
    const token = boundToken(c);
    const payload = { jti: 'x', htm: 'GET', htu: HTU, iat: nowS(), ath: ath(token) };
    const none = unsignedProof({ typ: 'dpop+jwt', alg: 'none', jwk: c.publicJwk }, payload, Buffer.alloc(0));
    const hmacInput = unsignedProof(
      { typ: 'dpop+jwt', alg: 'HS256', jwk: c.publicJwk },
      payload,
      Buffer.alloc(0),
    ).slice(0, -1);
    const hs256 = `${hmacInput}.${createHmac('sha256', 'k').update(hmacInput).digest('base64url')}`;
    expect(outcome(await dpopCall(token, [none]))).toBe('401 ERR_DPOP_ALGORITHM_NOT_ALLOWED');
    expect(outcome(await dpopCall(token, [hs256]))).toBe('401 ERR_DPOP_ALGORITHM_NOT_ALLOWED');
    // An asymmetric algorithm not in binding.dpop.algorithms is refused the same way.
    expect(outcome(await dpopCall(token, [proof(c, { iatS: nowS(), token, header: { alg: 'ES384' } })]))).toBe(
      '401 ERR_DPOP_ALGORITHM_NOT_ALLOWED',
    );
  });

  it('typ must be dpop+jwt; jti, htm, htu and iat must be present with their types', async () => {
    const c = await dpopClient();
    const token = boundToken(c);
    const broken: Parameters<typeof proof>[1][] = [
      { iatS: nowS(), token, header: { typ: 'JWT' } },
      { iatS: nowS(), token, header: { typ: undefined } },
      { iatS: nowS(), token, header: { jwk: undefined } },
      { iatS: nowS(), token, payload: { jti: undefined } },
      { iatS: nowS(), token, payload: { htm: undefined } },
      { iatS: nowS(), token, payload: { htu: undefined } },
      { iatS: nowS(), token, payload: { iat: String(nowS()) } },
      { iatS: nowS(), token, header: { crit: ['exp'] } },
    ];
    for (const [i, opts] of broken.entries()) {
      expect([i, outcome(await dpopCall(token, [proof(c, opts)]))]).toEqual([i, '401 ERR_DPOP_PROOF_MALFORMED']);
    }
    expect(outcome(await dpopCall(token, ['not-a-jws']))).toBe('401 ERR_DPOP_PROOF_MALFORMED');
  });

  it('two proofs are refused: two header lines, or two joined by Envoy into one value', async () => {
    const c = await dpopClient();
    const token = boundToken(c);
    const p1 = proof(c, { iatS: nowS(), token });
    const p2 = proof(c, { iatS: nowS(), token });
    expect(outcome(await dpopCall(token, [p1, p2]))).toBe('400 ERR_DPOP_PROOF_MULTIPLE');
    expect(outcome(await dpopCall(token, [`${p1},${p2}`]))).toBe('400 ERR_DPOP_PROOF_MULTIPLE');
  });

  it('a DPoP token without a proof is refused', async () => {
    const c = await dpopClient();
    const r = await dpopCall(boundToken(c), []);
    expect(outcome(r)).toBe('401 ERR_DPOP_PROOF_MISSING');
    expect(r.headers['www-authenticate']).toContain('error="invalid_dpop_proof"');
  });

  it('a token without cnf presented with the DPoP scheme is refused, even with a valid proof', async () => {
    const c = await dpopClient();
    const token = mint(idpKey);
    const r = await dpopCall(token, [proof(c, { iatS: nowS(), token })]);
    expect(outcome(r)).toBe('401 ERR_DPOP_TOKEN_NOT_BOUND');
    expect(r.headers['www-authenticate']).toMatch(/^DPoP realm="claimgate", error="invalid_token"/);
  });

  it('a DPoP-bound token presented as Bearer is refused, with or without a proof header', async () => {
    const c = await dpopClient();
    const token = boundToken(c);
    const asBearer = (lines: [string, string][]) =>
      client.check(request({ lines: [['authorization', `Bearer ${token}`], ...lines] }));
    expect(outcome(await asBearer([]))).toBe('401 ERR_TOKEN_BOUND');
    expect(outcome(await asBearer([['dpop', proof(c, { iatS: nowS(), token })]]))).toBe('401 ERR_TOKEN_BOUND');
  });

  it('the proof header is not a credential, but a DPoP token next to a bearer token is two', async () => {
    const c = await dpopClient();
    const { token, proof: p } = await valid(c);
    const r = await client.check(
      request({
        lines: [
          ['authorization', `DPoP ${token}`],
          ['authorization', `Bearer ${mint(idpKey)}`],
          ['dpop', p],
        ],
      }),
    );
    expect(outcome(r)).toBe('400 ERR_MULTIPLE_TOKENS');
  });

  it('binding per route: required refuses an unbound token, none refuses the DPoP scheme', async () => {
    const plain = await client.check(
      request({ path: '/bound/x', lines: [['authorization', `Bearer ${mint(idpKey)}`]] }),
    );
    expect(outcome(plain)).toBe('401 ERR_TOKEN_NOT_BOUND');
    const c = await dpopClient();
    const token = boundToken(c);
    const htu = 'https://api.example.com/bound/x';
    expect(outcome(await dpopCall(token, [proof(c, { iatS: nowS(), token, htu })], { path: '/bound/x' }))).toBe(
      'allow',
    );
    const legacy = 'https://api.example.com/legacy/x';
    expect(
      outcome(await dpopCall(token, [proof(c, { iatS: nowS(), token, htu: legacy })], { path: '/legacy/x' })),
    ).toBe('401 ERR_TOKEN_LOCATION_NOT_ALLOWED');
    // An unbound bearer token is still fine where binding is allowed.
    expect(outcome(await client.check(request({ lines: [['authorization', `Bearer ${mint(idpKey)}`]] })))).toBe(
      'allow',
    );
  });
});

describe('metrics by binding type', () => {
  it('counts checks that reached the binding step by binding and decision', async () => {
    const read = async () => {
      const metric = await app.metrics.registry.getSingleMetric('claimgate_binding_checks_total')!.get();
      const count = (binding: string, decision: string) =>
        metric.values.find((v) => v.labels.binding === binding && v.labels.decision === decision)?.value ?? 0;
      return {
        dpopAllow: count('dpop', 'allow'),
        dpopDeny: count('dpop', 'deny'),
        bearerAllow: count('bearer', 'allow'),
      };
    };
    const before = await read();
    const c = await dpopClient();
    const { token, proof: p } = await valid(c);
    await dpopCall(token, [p]);
    await dpopCall(token, [p]); // replayed
    await client.check(request({ lines: [['authorization', `Bearer ${mint(idpKey)}`]] }));
    const after = await read();
    expect(after).toEqual({
      dpopAllow: before.dpopAllow + 1,
      dpopDeny: before.dpopDeny + 1,
      bearerAllow: before.bearerAllow + 1,
    });
  });
});

describe('DPoP server nonces (RFC 9449 §8-9) over gRPC', () => {
  it('a proof without a nonce gets use_dpop_nonce and a DPoP-Nonce; the retry with it is allowed', async () => {
    const c = await dpopClient();
    const token = boundToken(c);
    const first = await dpopCall(token, [proof(c, { iatS: nowS(), token })], {}, nonceClient);
    expect(outcome(first)).toBe('401 ERR_DPOP_NONCE_MISSING');
    expect(first.headers['www-authenticate']).toContain('error="use_dpop_nonce"');
    const nonce = first.headers['dpop-nonce'];
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(outcome(await dpopCall(token, [proof(c, { iatS: nowS(), token, nonce })], {}, nonceClient))).toBe('allow');
  });

  it('a wrong or expired nonce gets use_dpop_nonce with a fresh nonce', async () => {
    const c = await dpopClient();
    const token = boundToken(c);
    const wrong = await dpopCall(token, [proof(c, { iatS: nowS(), token, nonce: 'A'.repeat(32) })], {}, nonceClient);
    expect(outcome(wrong)).toBe('401 ERR_DPOP_NONCE_INVALID');
    const nonce = wrong.headers['dpop-nonce']!;
    nowMs += 125_000; // two 60 s windows later
    const old = await dpopCall(token, [proof(c, { iatS: nowS(), token, nonce })], {}, nonceClient);
    expect(outcome(old)).toBe('401 ERR_DPOP_NONCE_INVALID');
    expect(old.headers['dpop-nonce']).not.toBe(nonce);
  });
});
