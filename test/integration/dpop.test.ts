/**
 * DPoP end to end with independent implementations on both sides of claimgate: the real OpenID
 * provider `oidc-provider` (features.dPoP) issues DPoP-bound JWT access tokens to a client whose
 * proofs are made by the `dpop` package (panva's RFC 9449 client), and claimgate verifies them over
 * real gRPC. Nothing here is shaped by claimgate's own code.
 */
import { generateKeyPair, generateProof, type KeyPair } from 'dpop';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import { DEFAULT_AUDIENCE, startOidcProvider, type OidcProviderIdp } from '../support/oidc-provider.js';
import { claimsOf, gateConfig, HOST, startGate, type RunningGate } from './harness.js';

let op: OidcProviderIdp;
let gate: RunningGate;
let strictGate: RunningGate;

beforeAll(async () => {
  op = await startOidcProvider({ dpop: true });
  const issuer = { name: 'op', issuer: op.issuer, audiences: [DEFAULT_AUDIENCE] };
  [gate, strictGate] = await Promise.all([
    startGate(gateConfig([{ ...issuer, binding: 'allowed' }])),
    startGate(gateConfig([{ ...issuer, binding: 'required' }])),
  ]);
});

afterAll(async () => {
  await Promise.all([gate?.close(), strictGate?.close()]);
  await op?.close();
});

const URL_OF = (path: string) => `https://${HOST}${path}`;

/** A bound token from the provider's real token endpoint, for this client key. */
async function boundToken(keys: KeyPair): Promise<string> {
  return op.mintClientCredentialsToken('orders:read', {
    dpopProof: (htu, htm) => generateProof(keys, htu, htm),
  });
}

async function dpopCheck(target: RunningGate, token: string, proof: string | undefined, path = '/orders/42') {
  const headers: Record<string, string> = { authorization: `DPoP ${token}` };
  if (proof !== undefined) headers.dpop = proof;
  const r = await target.check({ path, headers });
  return r.kind === 'allow' ? 'allow' : `${r.httpStatus} ${r.reason}`;
}

describe('oidc-provider DPoP-bound tokens through claimgate', () => {
  it('the provider binds the token to the client key (cnf.jkt = RFC 7638 thumbprint)', async () => {
    const keys = await generateKeyPair('ES256');
    const token = await boundToken(keys);
    const jkt = await calculateJwkThumbprint((await exportJWK(keys.publicKey)) as JWK);
    expect((claimsOf(token).cnf as { jkt?: string } | undefined)?.jkt).toBe(jkt);
  });

  // oidc-provider's default DPoP algorithms are ES256 and EdDSA; RSA proofs are covered in test/binding/dpop.test.ts.
  it.each(['ES256', 'Ed25519'] as const)(
    'a %s client proof for the request is allowed; the same proof again is a replay',
    async (alg) => {
      const keys = await generateKeyPair(alg);
      const token = await boundToken(keys);
      const proof = await generateProof(keys, URL_OF('/orders/42'), 'GET', undefined, token);
      expect(await dpopCheck(gate, token, proof)).toBe('allow');
      expect(await dpopCheck(gate, token, proof)).toBe('401 ERR_DPOP_REPLAYED');
    },
  );

  it('refuses the token as Bearer, without a proof, with a proof of another key, or for another URI', async () => {
    const keys = await generateKeyPair('ES256');
    const thief = await generateKeyPair('ES256');
    const token = await boundToken(keys);
    const asBearer = await gate.check({ path: '/orders/42', token });
    expect(`${asBearer.httpStatus} ${asBearer.reason}`).toBe('401 ERR_TOKEN_BOUND');
    expect(await dpopCheck(gate, token, undefined)).toBe('401 ERR_DPOP_PROOF_MISSING');
    const stolen = await generateProof(thief, URL_OF('/orders/42'), 'GET', undefined, token);
    expect(await dpopCheck(gate, token, stolen)).toBe('401 ERR_DPOP_KEY_MISMATCH');
    const elsewhere = await generateProof(keys, URL_OF('/orders/43'), 'GET', undefined, token);
    expect(await dpopCheck(gate, token, elsewhere)).toBe('401 ERR_DPOP_URI_MISMATCH');
    // The proof used at the token endpoint (POST, no ath) is no good at the API either.
    const tokenEndpointProof = await generateProof(keys, `${op.issuer}/token`, 'POST');
    expect(await dpopCheck(gate, token, tokenEndpointProof)).toBe('401 ERR_DPOP_METHOD_MISMATCH');
  });

  it('binding required: the bound token with its proof passes, an unbound token of the same provider does not', async () => {
    const keys = await generateKeyPair('ES256');
    const token = await boundToken(keys);
    const proof = await generateProof(keys, URL_OF('/orders/42'), 'GET', undefined, token);
    expect(await dpopCheck(strictGate, token, proof)).toBe('allow');
    const unbound = await op.mintClientCredentialsToken('orders:read');
    expect(claimsOf(unbound).cnf).toBeUndefined();
    const r = await strictGate.check({ path: '/orders/42', token: unbound });
    expect(`${r.httpStatus} ${r.reason}`).toBe('401 ERR_TOKEN_NOT_BOUND');
  });
});
