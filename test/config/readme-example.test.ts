/**
 * The README's config example, exactly as written, with an Okta-shaped and a Keycloak-shaped access
 * token. Discovery and JWKS are answered in memory for the README's issuer URLs (no network), so the
 * example's own discovery-based key sources run unchanged.
 */
import { readFileSync } from 'node:fs';
import { parseConfigText } from '../../src/validation/load.js';
import type { Config } from '../../src/config/schema.js';
import type { Decide } from '../../src/engine/decide.js';
import type { Engine } from '../../src/engine/engine.js';
import { startSettledEngine } from '../support/gate.js';
import type { Decision } from '../../src/core/types.js';
import { NOW_MS, NOW_S, rsaKey, signParts, view } from '../security/harness.js';
import { SHAPES } from '../support/provider-tokens.js';

function readmeConfig(): Config {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## A config file'));
  const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
  if (yaml === undefined) throw new Error('README has no yaml block under "## A config file"');
  return parseConfigText(yaml, 'README.md');
}

const oktaKey = rsaKey('readme-okta');
const keycloakKey = rsaKey('readme-keycloak');
const auth0Key = rsaKey('readme-auth0');

let config: Config;
let decide: Decide;
let engine: Engine;

beforeAll(async () => {
  config = readmeConfig();
  const keysByIssuer = new Map([
    ['https://partner.okta.com/oauth2/default', { ...oktaKey.jwk, kid: 'okta-1' }],
    ['https://sso.partner.example/realms/acme', { ...keycloakKey.jwk, kid: 'kc-1' }],
    ['https://example.eu.auth0.com/', { ...auth0Key.jwk, kid: 'auth0-1' }],
  ]);
  // The IdPs as discovery sees them: {issuer}/.well-known/openid-configuration → jwks_uri → keys.
  const idps: typeof fetch = async (input) => {
    const url = String(input instanceof Request ? input.url : input);
    for (const [iss, jwk] of keysByIssuer) {
      const base = iss.replace(/\/$/, '');
      if (url === `${base}/.well-known/openid-configuration`)
        return Response.json({ issuer: iss, jwks_uri: `${base}/keys` });
      if (url === `${base}/keys`) return Response.json({ keys: [jwk] });
    }
    return new Response('not found', { status: 404 });
  };
  engine = await startSettledEngine(config, { keys: { fetch: idps }, decider: { nowMs: () => NOW_MS } });
  decide = engine.decide;
});
afterAll(() => engine.close());

const oktaToken = (o: Record<string, unknown> = {}) => {
  const { header, payload } = SHAPES.okta.token(NOW_S, { aud: 'api://orders', ...o });
  return signParts('RS256', oktaKey.privateKey, header, payload);
};
const keycloakToken = (o: Record<string, unknown> = {}) => {
  const { header, payload } = SHAPES.keycloak.token(NOW_S, o);
  return signParts('RS256', keycloakKey.privateKey, header, payload);
};
const get = (token: string, path: string) => decide(view({ authorization: `Bearer ${token}` }, path));
const headersOf = (d: Decision) => {
  if (d.outcome !== 'allow') throw new Error(`expected allow, got ${d.reason}`);
  return Object.fromEntries(d.headersToSet.map((h) => [h.name, h.value]));
};

describe("the README's partner example, as written", () => {
  it('every issuer of the example gets its keys through discovery', () => {
    expect([...engine.sources.values()].map((s) => s.ready())).toEqual([true, true, true]);
  });

  it('an Okta-shaped token reads orders and reaches admin through its groups', async () => {
    const read = headersOf(await get(oktaToken(), '/orders/42'));
    expect(read).toMatchObject({
      'x-user-id': 'partner-okta|alice@partner.example',
      'x-user-issuer': 'partner-okta',
      'x-user-scopes': 'openid,orders:read',
      'x-user-roles': 'Everyone,admin',
    });
    expect((await get(oktaToken(), '/admin/settings')).outcome).toBe('allow');
  });

  it('a Keycloak-shaped token reads orders and reaches admin through its client role', async () => {
    const read = headersOf(await get(keycloakToken(), '/orders/42'));
    expect(read).toMatchObject({
      'x-user-id': 'partner-keycloak|36fa0f91-f94d-4a0c-afed-6b7d952e47da',
      'x-user-issuer': 'partner-keycloak',
      'x-user-roles': 'offline_access,uma_authorization,admin',
    });
    expect(read['x-user-scopes']!.split(',')).toContain('orders:read');
    expect((await get(keycloakToken(), '/admin/settings')).outcome).toBe('allow');
  });

  it('the same rules deny each partner what it was not granted', async () => {
    const noScope = await get(oktaToken({ scp: ['openid'] }), '/orders/42');
    expect(noScope).toMatchObject({ outcome: 'deny', reason: 'ERR_INSUFFICIENT_SCOPE', status: 403 });
    const noRole = await get(keycloakToken({ resource_access: {} }), '/admin');
    expect(noRole).toMatchObject({ outcome: 'deny', reason: 'ERR_ROLE_MISSING', status: 403 });
    // An Okta token minted for another API is not accepted here.
    expect(await get(oktaToken({ aud: 'api://default' }), '/orders/42')).toMatchObject({
      reason: 'ERR_AUDIENCE_MISMATCH',
    });
  });
});
