/**
 * The sequencer's own decisions: order of checks and what each branch answers. Token details are
 * covered by test/security; here the issuer uses a local JWKS file.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../../src/validation/load.js';
import type { Decide } from '../../src/engine/decide.js';
import type { Engine } from '../../src/engine/engine.js';
import { startSettledEngine } from '../support/gate.js';
import type { RequestView } from '../../src/core/types.js';
import { generateSigningKey } from '../support/fake-idp.js';
import { mintAccessToken } from '../support/tokens.js';

const ISSUER = 'https://idp.example.com';
const AUDIENCE = 'api://orders';
const key = generateSigningKey('RS256', 'k1');
const jwksFile = join(mkdtempSync(join(tmpdir(), 'claimgate-decide-')), 'jwks.json');
writeFileSync(jwksFile, JSON.stringify({ keys: [key.jwk] }));

const engines: Engine[] = [];
async function decider(overrides: Record<string, unknown>): Promise<Decide> {
  const config = validateConfig({
    issuers: [{ name: 'idp', issuer: ISSUER, audiences: [AUDIENCE], jwks_file: jwksFile }],
    upstream: { headers: [{ name: 'x-user-id', claim: 'sub' }], strip_token: true },
    ...overrides,
  });
  const engine = await startSettledEngine(config);
  engines.push(engine);
  return engine.decide;
}
afterAll(() => engines.forEach((e) => e.close()));

const token = () => mintAccessToken(key, ISSUER, { sub: 'alice', aud: AUDIENCE, scope: 'read' });

function view(path: string, headers: Record<string, string> = {}): RequestView {
  return {
    method: 'GET',
    host: 'api.example.com',
    path,
    headers: new Map(Object.entries(headers).map(([k, v]) => [k, [v]])),
  };
}

describe('decide', () => {
  it('on a public route strips identity headers and, with strip_token, the token header, without verifying it', async () => {
    const decide = await decider({ routes: [{ name: 'pub', match: { path: { exact: '/docs' } }, public: true }] });
    const d = await decide(view('/docs', { authorization: 'Bearer not-even-a-jwt', 'x-user-id': 'mallory' }));
    expect(d).toMatchObject({ outcome: 'allow', reason: 'OK_PUBLIC_ROUTE', route: 'pub', headersToSet: [] });
    expect(d.outcome === 'allow' && [...d.headersToRemove].sort()).toEqual(['authorization', 'x-user-id']);
  });

  it('denies an unmatched request with 403 and no challenge by default, before looking at the token', async () => {
    const decide = await decider({ routes: [{ name: 'r', match: { path: { prefix: '/orders' } } }] });
    const d = await decide(view('/admin', { authorization: 'Bearer x' }));
    expect(d).toMatchObject({ outcome: 'deny', reason: 'ERR_ROUTE_NOT_FOUND', status: 403 });
    expect(d.outcome !== 'allow' && d.challenge).toBeUndefined();
  });

  it('with unmatched: authenticated, allows any valid token on unmatched paths and challenges requests without one', async () => {
    const decide = await decider({ unmatched: 'authenticated' });
    expect(await decide(view('/anything', { authorization: `Bearer ${await token()}` }))).toMatchObject({
      outcome: 'allow',
      route: '(unmatched)',
      subject: 'alice',
    });
    expect(await decide(view('/anything'))).toMatchObject({
      outcome: 'deny',
      reason: 'ERR_TOKEN_MISSING',
      challenge: 'Bearer realm="claimgate"',
    });
  });

  it('refuses a path that cannot be normalized with 400 before any token work', async () => {
    const decide = await decider({ unmatched: 'authenticated' });
    expect(await decide(view('/a%2F..%2Fadmin', { authorization: 'Bearer garbage' }))).toMatchObject({
      outcome: 'deny',
      reason: 'ERR_PATH_INVALID',
      status: 400,
    });
  });

  it('sets identity headers and strips the carrier on an authenticated allow', async () => {
    const decide = await decider({
      routes: [{ name: 'r', match: { path: { prefix: '/' } }, require: { scope: 'read' } }],
    });
    const d = await decide(view('/orders', { authorization: `Bearer ${await token()}`, 'x-user-id': 'mallory' }));
    expect(d).toMatchObject({
      outcome: 'allow',
      reason: 'OK_AUTHENTICATED',
      issuer: 'idp',
      headersToSet: [{ name: 'x-user-id', value: 'alice' }],
      headersToRemove: ['authorization'],
    });
  });

  it("reuses a cached token's allow per route, frozen, and makes another route's its own", async () => {
    const decide = await decider({
      routes: [
        { name: 'orders', match: { path: { prefix: '/orders' } }, require: { scope: 'read' } },
        { name: 'other', match: { path: { prefix: '/other' } } },
      ],
    });
    const bearer = { authorization: `Bearer ${await token()}` };
    const verified = await decide(view('/orders/0', bearer)); // verified now; the next ones are cache hits
    const first = await decide(view('/orders/1', bearer));
    const again = await decide(view('/orders/2', bearer));
    expect(again).toBe(first);
    expect(first).toEqual(verified);
    expect(Object.isFrozen(first)).toBe(true);
    expect(first.outcome === 'allow' && Object.isFrozen(first.headersToSet[0])).toBe(true);
    const other = await decide(view('/other', bearer));
    expect(other).not.toBe(first);
    expect(other).toMatchObject({
      outcome: 'allow',
      route: 'other',
      headersToSet: first.outcome === 'allow' ? first.headersToSet : [],
    });
    // Another user's token gets its own headers, never the cached ones.
    const bob = await mintAccessToken(key, ISSUER, { sub: 'bob', aud: AUDIENCE, scope: 'read' });
    expect(await decide(view('/orders/3', { authorization: `Bearer ${bob}` }))).toMatchObject({
      headersToSet: [{ name: 'x-user-id', value: 'bob' }],
    });
  });

  it("reuses a refused token's denial per reason, route and issuer, frozen", async () => {
    const decide = await decider({
      routes: [
        { name: 'a', match: { path: { prefix: '/a' } } },
        { name: 'b', match: { path: { prefix: '/b' } } },
      ],
    });
    const wrongAudience = await mintAccessToken(key, ISSUER, { sub: 'alice', aud: 'api://someone-else' });
    const bearer = { authorization: `Bearer ${wrongAudience}` };
    const first = await decide(view('/a/1', bearer));
    expect(first).toMatchObject({ outcome: 'deny', reason: 'ERR_AUDIENCE_MISMATCH', route: 'a', issuer: 'idp' });
    expect(await decide(view('/a/2', bearer))).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    const other = await decide(view('/b', bearer));
    expect(other).toMatchObject({ reason: 'ERR_AUDIENCE_MISMATCH', route: 'b' });
    expect(other).not.toBe(first);
  });

  it("never strips the cookie header that carried a token (it carries the client's other cookies too)", async () => {
    const decide = await decider({
      issuers: [
        {
          name: 'idp',
          issuer: ISSUER,
          audiences: [AUDIENCE],
          jwks_file: jwksFile,
          token_locations: [{ cookie: 'at' }],
        },
      ],
      unmatched: 'authenticated',
    });
    const d = await decide(view('/orders', { cookie: `session=s1; at=${await token()}` }));
    expect(d).toMatchObject({ outcome: 'allow', headersToSet: [{ name: 'x-user-id', value: 'alice' }] });
    expect(d.outcome === 'allow' && d.headersToRemove).toEqual([]);
  });

  it('names the missing scope in a 403 challenge', async () => {
    const decide = await decider({
      routes: [{ name: 'r', require: { all: [{ scope: 'read' }, { scope: 'write' }] } }],
    });
    const d = await decide(view('/orders', { authorization: `Bearer ${await token()}` }));
    expect(d).toMatchObject({ outcome: 'deny', reason: 'ERR_INSUFFICIENT_SCOPE', status: 403 });
    expect(d.outcome !== 'allow' && d.challenge).toBe(
      'Bearer realm="claimgate", error="insufficient_scope", error_description="token lacks what the route requires", scope="write"',
    );
  });
});
