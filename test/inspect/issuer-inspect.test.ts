/**
 * `issuer inspect` against the real oidc-provider on loopback: the same discovery, JWKS and token the
 * serving path would meet, with the mistakes partners actually make.
 */
import { generateKeyPairSync } from 'node:crypto';
import { configSchema } from '../../src/config/schema.js';
import { inspectIssuer, type InspectReport } from '../../src/inspect/inspect-issuer.js';
import { startOidcProvider, type OidcProviderIdp } from '../support/oidc-provider.js';

const codes = (r: InspectReport, severity?: string) =>
  r.findings.filter((f) => severity === undefined || f.severity === severity).map((f) => f.code);

describe('claimgate issuer inspect', () => {
  const idps: OidcProviderIdp[] = [];
  afterAll(() => Promise.all(idps.map((i) => i.close())));
  const start = async (...args: Parameters<typeof startOidcProvider>) => {
    const idp = await startOidcProvider(...args);
    idps.push(idp);
    return idp;
  };

  it('checks a good IdP, verifies a real token and proposes a block that check-config accepts', async () => {
    const idp = await start();
    const token = await idp.mintClientCredentialsToken('orders:read');
    const report = await inspectIssuer({ url: idp.issuer, audience: idp.audience, token });
    expect(codes(report, 'error')).toEqual([]);
    expect(codes(report)).toEqual(expect.arrayContaining(['http_loopback', 'issuer_match', 'typ', 'token_verified']));
    expect(report.keys).toEqual([expect.objectContaining({ kty: 'RSA', size: '2048 bits', use: 'sig', usable: true })]);
    expect(report.token).toMatchObject({ typ: 'at+jwt', aud: idp.audience, verification: 'OK' });
    expect(report.token?.shape?.scopes).toEqual({ claim: 'scope', values: ['orders:read'] });
    expect(report.issuerBlock).toMatchObject({
      issuer: idp.issuer,
      audiences: [idp.audience],
      algorithms: ['RS256'],
      allow_insecure_http: true,
    });
    expect(configSchema.safeParse({ issuers: [report.issuerBlock] }).success).toBe(true);
  });

  it('shows both values when discovery names a different issuer (a trailing slash)', async () => {
    const idp = await start({ publishedIssuer: (base) => `${base}/` });
    const report = await inspectIssuer({ url: idp.issuer, audience: idp.audience });
    const mismatch = report.findings.find((f) => f.code === 'issuer_mismatch');
    expect(mismatch?.severity).toBe('error');
    expect(mismatch?.message).toContain(`asked for "${idp.issuer}"`);
    expect(mismatch?.message).toContain(`"${idp.issuer}/"`);
    // The proposed block carries the document's value, byte for byte.
    expect(report.issuerBlock?.issuer).toBe(`${idp.issuer}/`);
  });

  it('refuses a plain-HTTP issuer that is not loopback, before any request', async () => {
    let requests = 0;
    const report = await inspectIssuer({
      url: 'http://idp.example.com',
      fetch: (async () => {
        requests++;
        throw new Error('no network in this test');
      }) as typeof fetch,
    });
    expect(codes(report, 'error')).toEqual(['not_https']);
    expect(requests).toBe(0);
    expect(report.issuerBlock).toBeUndefined();
  });

  it('reports a weak RSA 1024 key as skipped, with its size', async () => {
    // jose refuses to generate one; node:crypto still can.
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const weakJwk = { ...weak.privateKey.export({ format: 'jwk' }), kid: 'weak-1024', alg: 'RS256', use: 'sig' };
    const idp = await start({ extraPrivateJwks: [weakJwk] });
    const report = await inspectIssuer({ url: idp.issuer, audience: idp.audience });
    expect(report.keys.find((k) => k.kid === 'weak-1024')).toMatchObject({
      size: '1024 bits',
      usable: false,
      skipped: 'rsa_too_small',
    });
    expect(report.findings.find((f) => f.code === 'key_skipped')?.message).toContain('weak-1024');
    expect(codes(report, 'error')).toEqual([]);
  });

  it('fails an expired sample token with the reason claimgate would give', async () => {
    const idp = await start();
    const now = Math.floor(Date.now() / 1000);
    const token = await idp.sign({ iss: idp.issuer, aud: idp.audience, sub: 'svc', iat: now - 900, exp: now - 600 });
    const report = await inspectIssuer({ url: idp.issuer, audience: idp.audience, token });
    expect(report.token?.verification).toBe('ERR_TOKEN_EXPIRED');
    expect(codes(report, 'error')).toEqual(['token_rejected']);
  });

  it('flags a token for another audience and a legacy typ, and recognises Keycloak-shaped roles', async () => {
    const idp = await start();
    const now = Math.floor(Date.now() / 1000);
    const token = await idp.sign(
      { iss: idp.issuer, aud: 'other-api', sub: 'svc', iat: now, exp: now + 300, realm_access: { roles: ['admin'] } },
      { typ: 'JWT' },
    );
    const report = await inspectIssuer({ url: idp.issuer, audience: idp.audience, token });
    expect(codes(report)).toEqual(expect.arrayContaining(['typ_legacy', 'audience_mismatch', 'token_rejected']));
    expect(report.token?.verification).toBe('ERR_AUDIENCE_MISMATCH');
    expect(report.token?.shape).toMatchObject({ provider: 'keycloak', roles: { claim: 'realm_access.roles' } });
    expect(report.issuerBlock).toMatchObject({ token_type: 'legacy', roles_claim: 'realm_access.roles' });
  });

  it('says the IdP is unreachable in one finding with a hint', async () => {
    const idp = await start();
    await idp.stop();
    const report = await inspectIssuer({ url: idp.issuer, timeoutMs: 2000 });
    const finding = report.findings.find((f) => f.code === 'discovery_unreachable');
    expect(finding?.message).toMatch(/IdP unreachable/);
    await idp.restart();
  });
});
