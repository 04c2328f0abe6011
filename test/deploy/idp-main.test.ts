/**
 * The compose demo's IdP entry (src/demo/idp-main.ts): discovery under an overridden issuer name and
 * the demo-only `POST /token`, over real HTTP on loopback.
 */
import { generateKeyPair, generateProof } from 'dpop';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, exportJWK, type JWK } from 'jose';
import { parseIdpArgs, startDemoIdp, tokenClaims, type DemoIdp } from '../../src/demo/idp-main.js';
import { startLocalIdp } from '../../src/demo/local-idp.js';

const ISSUER = 'http://idp:8081';
const AUDIENCE = 'https://api.example.com';

describe('demo IdP entry (idp-main)', () => {
  let demo: DemoIdp;
  let base: string;

  beforeAll(async () => {
    demo = await startDemoIdp({ host: '127.0.0.1', port: 0, issuer: ISSUER, audience: AUDIENCE, ttlSeconds: 600 });
    base = `http://127.0.0.1:${demo.port}`;
  });
  afterAll(() => demo.close());

  const token = (
    body: string,
    headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' },
  ) => fetch(`${base}/token`, { method: 'POST', headers, body, signal: AbortSignal.timeout(5000) });

  it('publishes the overridden issuer in discovery, with the JWKS under it', async () => {
    const discovery = (await (await fetch(`${base}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    expect(discovery).toMatchObject({ issuer: ISSUER, jwks_uri: `${ISSUER}/jwks` });
    const jwks = (await (await fetch(`${base}/jwks`)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });

  it('POST /token returns a Bearer at+jwt for the form scope and sub', async () => {
    const res = await token('scope=orders:read+profile&sub=alice&roles=admin,customer');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as { access_token: string; token_type: string; expires_in: number };
    expect(body.token_type).toBe('Bearer');
    expect(body.expires_in).toBe(600);
    expect(decodeProtectedHeader(body.access_token)).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
    const claims = decodeJwt(body.access_token);
    expect(claims).toMatchObject({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'alice',
      scope: 'orders:read profile',
      roles: ['admin', 'customer'],
    });
    expect(claims.exp! - claims.iat!).toBe(600);
  });

  it('binds the token to the key of a DPoP proof (cnf.jkt, token_type DPoP), and refuses a bad proof', async () => {
    const keys = await generateKeyPair('ES256');
    const proof = await generateProof(keys, `${ISSUER}/token`, 'POST');
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const res = await token('sub=alice', { ...form, dpop: proof });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { access_token: string; token_type: string };
    expect(body.token_type).toBe('DPoP');
    const jkt = await calculateJwkThumbprint((await exportJWK(keys.publicKey)) as JWK);
    expect(decodeJwt(body.access_token).cnf).toEqual({ jkt });
    const getProof = await generateProof(keys, `${ISSUER}/token`, 'GET');
    expect((await token('sub=alice', { ...form, dpop: getProof })).status).toBe(400);
    expect((await token('sub=alice', { ...form, dpop: `${proof.slice(0, -4)}AAAA` })).status).toBe(400);
  });

  it('binds the token to a named client certificate (cnf.x5t#S256)', async () => {
    const x5t = 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2';
    const body = (await (await token(`sub=alice&x5t_s256=${x5t}`)).json()) as { access_token: string };
    expect(decodeJwt(body.access_token).cnf).toEqual({ 'x5t#S256': x5t });
    expect((await token('x5t_s256=short')).status).toBe(400);
  });

  it('defaults the subject and omits absent scope and roles', async () => {
    const body = (await (await token('')).json()) as { access_token: string };
    const claims = decodeJwt(body.access_token);
    expect(claims.sub).toBe('demo-user');
    expect(claims).not.toHaveProperty('scope');
    expect(claims).not.toHaveProperty('roles');
  });

  it('refuses other methods, other content types, oversized and malformed forms', async () => {
    const get = await fetch(`${base}/token`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect((await token('{"scope":"x"}', { 'content-type': 'application/json' })).status).toBe(400);
    expect((await token(`scope=${'a'.repeat(5000)}`)).status).toBe(400);
    const quote = await token('sub=%22alice%22');
    expect(quote.status).toBe(400);
    expect(await quote.json()).toMatchObject({ error: 'invalid_request' });
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it('tokenClaims validates each field', () => {
    expect(tokenClaims(new URLSearchParams('sub=bob&scope=a  b'), AUDIENCE)).toEqual({
      sub: 'bob',
      aud: AUDIENCE,
      scope: 'a b',
    });
    expect(tokenClaims(new URLSearchParams('roles=a,b\\c'), AUDIENCE)).toHaveProperty('error', 'invalid_request');
  });

  it('parses the command line the compose file uses', () => {
    expect(parseIdpArgs(['--port', '8081', '--issuer', 'http://idp:8081', '--host', '0.0.0.0'])).toEqual({
      host: '0.0.0.0',
      port: 8081,
      issuer: 'http://idp:8081',
      audience: AUDIENCE,
      ttlSeconds: 3600,
    });
    expect(() => parseIdpArgs(['--port', 'x'])).toThrow(/--port/);
    expect(() => parseIdpArgs(['--issuer', 'idp:8081'])).toThrow(/--issuer/);
  });
});

describe('startLocalIdp keeps its default behaviour (claimgate demo)', () => {
  it('names itself by its loopback address', async () => {
    const idp = await startLocalIdp();
    try {
      expect(idp.issuer).toBe(`http://127.0.0.1:${idp.port}`);
      const discovery = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as Record<
        string,
        unknown
      >;
      expect(discovery.jwks_uri).toBe(`${idp.issuer}/jwks`);
      expect((await fetch(`${idp.issuer}/token`, { method: 'POST' })).status).toBe(404);
    } finally {
      await idp.close();
    }
  });
});
