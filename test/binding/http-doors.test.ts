/**
 * DPoP through the HTTP doors, over real HTTP on loopback: Envoy's HTTP service mode (the original
 * request with Envoy's x-forwarded-proto) and forward auth (the request described in X-Forwarded-*),
 * including the use_dpop_nonce answer with its DPoP-Nonce header.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { Claimgate } from '../../src/app/claimgate.js';
import { validateConfig } from '../../src/validation/load.js';
import { cleanupTmp, fileIssuer, ISS_A, mint, NOW_MS, rsaKey } from '../security/harness.js';
import { dpopClient, proof } from './dpop-proof.js';
import { startSettledGate } from '../support/gate.js';

const idpKey = rsaKey('dpop-http-idp');
const NOW_S = NOW_MS / 1000;
let app: Claimgate;

beforeAll(async () => {
  app = await startSettledGate(
    validateConfig({
      server: { grpc_address: '127.0.0.1:0', admin_address: '127.0.0.1:0', watch_config: false },
      http: { address: '127.0.0.1:0' },
      issuers: [fileIssuer('a', ISS_A, [idpKey.jwk], { binding: 'allowed' })],
      unmatched: 'authenticated',
    }),
    { nowMs: () => NOW_MS },
  );
});
afterAll(async () => {
  await app?.close(100);
  cleanupTmp();
});

function call(
  path: string,
  headers: Record<string, string>,
  port = app.httpPort,
): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('DPoP through the HTTP doors', () => {
  it('forward auth: htu is built from X-Forwarded-Proto, -Host and -Uri (query dropped)', async () => {
    const c = await dpopClient();
    const token = mint(idpKey, { cnf: { jkt: c.jkt } });
    const forwarded = {
      'x-forwarded-method': 'GET',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'api.example.com',
      'x-forwarded-uri': '/orders/1?x=1',
      authorization: `DPoP ${token}`,
    };
    const ok = await call('/auth', { ...forwarded, dpop: proof(c, { iatS: NOW_S, token }) });
    expect([ok.status, ok.headers['x-claimgate-reason']]).toEqual([200, 'OK_AUTHENTICATED']);
    const wrongHost = await call('/auth', {
      ...forwarded,
      'x-forwarded-host': 'other.example.com',
      dpop: proof(c, { iatS: NOW_S, token }),
    });
    expect([wrongHost.status, wrongHost.headers['x-claimgate-reason']]).toEqual([401, 'ERR_DPOP_URI_MISMATCH']);
    expect(wrongHost.headers['www-authenticate']).toMatch(/^DPoP realm="claimgate", error="invalid_dpop_proof"/);
  });

  it('Envoy HTTP service mode: htu from Host, x-forwarded-proto and the original path', async () => {
    const c = await dpopClient();
    const token = mint(idpKey, { cnf: { jkt: c.jkt } });
    const headers = { host: 'api.example.com', 'x-forwarded-proto': 'https', authorization: `DPoP ${token}` };
    const ok = await call('/envoy/orders/1', { ...headers, dpop: proof(c, { iatS: NOW_S, token }) });
    expect([ok.status, ok.headers['x-claimgate-reason']]).toEqual([200, 'OK_AUTHENTICATED']);
    const asBearer = await call('/envoy/orders/1', { ...headers, authorization: `Bearer ${token}` });
    expect([asBearer.status, asBearer.headers['x-claimgate-reason']]).toEqual([401, 'ERR_TOKEN_BOUND']);
  });
});

describe('DPoP nonces through the HTTP doors', () => {
  let nonceApp: Claimgate;
  beforeAll(async () => {
    nonceApp = await startSettledGate(
      validateConfig({
        server: { grpc_address: '127.0.0.1:0', admin_address: '127.0.0.1:0', watch_config: false },
        http: { address: '127.0.0.1:0' },
        issuers: [fileIssuer('a', ISS_A, [idpKey.jwk], { binding: 'required' })],
        unmatched: 'authenticated',
        binding: { dpop: { nonce: { required: true } } },
      }),
      { nowMs: () => NOW_MS },
    );
  });
  afterAll(() => nonceApp?.close(100));

  it('answers use_dpop_nonce with a DPoP-Nonce header the client can use', async () => {
    const c = await dpopClient();
    const token = mint(idpKey, { cnf: { jkt: c.jkt } });
    const headers = { host: 'api.example.com', 'x-forwarded-proto': 'https', authorization: `DPoP ${token}` };
    const send = (dpop: string) => call('/envoy/orders/1', { ...headers, dpop }, nonceApp.httpPort);
    const first = await send(proof(c, { iatS: NOW_S, token }));
    expect(first.status).toBe(401);
    expect(first.headers['www-authenticate']).toContain('error="use_dpop_nonce"');
    const nonce = first.headers['dpop-nonce'] as string;
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const second = await send(proof(c, { iatS: NOW_S, token, nonce }));
    expect([second.status, second.headers['x-claimgate-reason']]).toEqual([200, 'OK_AUTHENTICATED']);
  });
});
