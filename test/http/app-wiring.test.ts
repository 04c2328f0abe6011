/** `http:` in the config starts the front door inside claimgate, on the same decider, metrics and shutdown. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Claimgate } from '../../src/app/claimgate.js';
import { validateConfig } from '../../src/validation/load.js';
import { generateSigningKey } from '../support/fake-idp.js';
import { mintAccessToken } from '../support/tokens.js';
import { startSettledGate } from '../support/gate.js';

const ISSUER = 'https://idp.example.com';
const AUDIENCE = 'api://orders';

describe('HTTP front door wired into claimgate', () => {
  const key = generateSigningKey('RS256', 'k1');
  let app: Claimgate;

  beforeAll(async () => {
    const jwksFile = join(mkdtempSync(join(tmpdir(), 'claimgate-http-app-')), 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [key.jwk] }));
    app = await startSettledGate(
      validateConfig({
        server: { grpc_address: '127.0.0.1:0', admin_address: '127.0.0.1:0' },
        logging: { level: 'silent' },
        http: { address: '127.0.0.1:0' },
        issuers: [{ name: 'idp', issuer: ISSUER, audiences: [AUDIENCE], jwks_file: jwksFile }],
        routes: [{ name: 'orders', match: { path: { prefix: '/orders' } }, require: { scope: 'orders:read' } }],
        upstream: { headers: [{ name: 'x-user-id', claim: 'sub' }] },
      }),
    );
  });
  afterAll(() => app.close(1000));

  const ask = (headers: Record<string, string>) =>
    fetch(`http://127.0.0.1:${app.httpPort}/auth`, {
      headers: {
        'x-forwarded-method': 'GET',
        'x-forwarded-uri': '/orders/1',
        'x-forwarded-host': 'api.example.com',
        'x-forwarded-proto': 'https',
        ...headers,
      },
    });

  it('answers forward-auth requests from the engine of the running config', async () => {
    const token = await mintAccessToken(key, ISSUER, { sub: 'alice', aud: AUDIENCE, scope: 'orders:read' });
    const allowed = await ask({ authorization: `Bearer ${token}` });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('x-user-id')).toBe('alice');
    const denied = await ask({});
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toBe('Bearer realm="claimgate"');
  });

  it('forwards a non-ASCII identity value as its UTF-8 bytes (as on the gRPC path) instead of failing', async () => {
    const token = await mintAccessToken(key, ISSUER, { sub: 'José 李', aud: AUDIENCE, scope: 'orders:read' });
    const answer = await ask({ authorization: `Bearer ${token}` });
    expect(answer.status).toBe(200);
    expect(Buffer.from(answer.headers.get('x-user-id')!, 'latin1').toString('utf8')).toBe('José 李');
  });

  it('counts front-door decisions in the same metrics as gRPC ones', async () => {
    const text = await app.metrics.registry.getSingleMetricAsString('claimgate_checks_total');
    expect(text).toContain(
      'claimgate_checks_total{decision="allow",reason="OK_AUTHENTICATED",issuer="idp",route="orders"} 2',
    );
    expect(text).toContain(
      'claimgate_checks_total{decision="deny",reason="ERR_TOKEN_MISSING",issuer="",route="orders"} 1',
    );
  });
});
