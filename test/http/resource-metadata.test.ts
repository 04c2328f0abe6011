/**
 * RFC 9728 protected-resource metadata through every door: the gRPC Check answers it itself (a
 * denied_response with status 200 and the JSON document, which Envoy sends as is), the HTTP listener
 * answers a direct request, and every Bearer challenge points at it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Claimgate } from '../../src/app/claimgate.js';
import { createCheckClient, type CheckClient } from '../../src/cli/check-client.js';
import { validateConfig } from '../../src/validation/load.js';
import { metadataLocation } from '../../src/engine/resource-metadata.js';
import { generateSigningKey } from '../support/fake-idp.js';
import { mintAccessToken } from '../support/tokens.js';
import { startSettledGate } from '../support/gate.js';

const RESOURCE = 'https://api.example.com';
const METADATA_URL = `${RESOURCE}/.well-known/oauth-protected-resource`;
const ISSUERS = ['https://partner-a.example.com', 'https://tenant.eu.auth0.com/'];

/** RFC 9728 §2 field rules for the members claimgate publishes. */
function expectValidRfc9728(doc: Record<string, unknown>): void {
  expect(typeof doc.resource).toBe('string');
  const resource = new URL(doc.resource as string);
  expect(resource.protocol).toBe('https:');
  expect(resource.hash).toBe('');
  expect((doc.resource as string).includes('#')).toBe(false);
  for (const name of ['authorization_servers', 'scopes_supported', 'bearer_methods_supported']) {
    if (doc[name] === undefined) continue;
    expect(Array.isArray(doc[name])).toBe(true);
    for (const v of doc[name] as unknown[]) expect(typeof v).toBe('string');
  }
  // Issuer identifiers (RFC 8414 §2): https URLs with no query or fragment.
  for (const as of doc.authorization_servers as string[]) {
    const u = new URL(as);
    expect([u.protocol, u.search, u.hash]).toEqual(['https:', '', '']);
  }
  for (const m of doc.bearer_methods_supported as string[]) expect(['header', 'body', 'query']).toContain(m);
  for (const key of Object.keys(doc))
    expect([
      'resource',
      'authorization_servers',
      'scopes_supported',
      'bearer_methods_supported',
      'resource_name',
      'resource_documentation',
    ]).toContain(key);
}

describe('RFC 9728 protected-resource metadata', () => {
  const key = generateSigningKey('RS256', 'k1');
  let app: Claimgate;
  let grpc: CheckClient;

  beforeAll(async () => {
    const jwksFile = join(mkdtempSync(join(tmpdir(), 'claimgate-prm-')), 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [key.jwk] }));
    app = await startSettledGate(
      validateConfig({
        server: { grpc_address: '127.0.0.1:0', admin_address: '127.0.0.1:0' },
        logging: { level: 'silent' },
        http: { address: '127.0.0.1:0' },
        resource_metadata: { resource: RESOURCE, resource_name: 'Orders API' },
        issuers: ISSUERS.map((issuer, i) => ({
          name: `p${i}`,
          issuer,
          audiences: [RESOURCE],
          jwks_file: jwksFile,
        })),
        routes: [
          { name: 'read', match: { methods: ['GET'], path: { prefix: '/orders' } }, require: { scope: 'orders:read' } },
          {
            name: 'write',
            match: { methods: ['POST'], path: { prefix: '/orders' } },
            require: { all: [{ scope: ['orders:write'] }, { not: { scope: 'banned' } }] },
          },
        ],
        upstream: { headers: [{ name: 'x-user-id', claim: 'sub' }] },
      }),
    );
    grpc = createCheckClient(`127.0.0.1:${app.grpcPort}`);
  });
  afterAll(async () => {
    grpc.close();
    await app.close(1000);
  });

  it('the gRPC Check answers the document itself: status 200, JSON, exactly the configured issuers', async () => {
    const s = await grpc.check({ path: '/.well-known/oauth-protected-resource' });
    expect(s.grpcCode).not.toBe(0); // a denied_response: Envoy answers the client, nothing reaches the upstream
    expect(s.httpStatus).toBe(200);
    expect(s.headers['content-type']).toBe('application/json');
    expect(s.headers['www-authenticate']).toBeUndefined();
    const doc = JSON.parse(s.body!) as Record<string, unknown>;
    expectValidRfc9728(doc);
    expect(doc).toEqual({
      resource: RESOURCE,
      authorization_servers: ISSUERS,
      scopes_supported: ['orders:read', 'orders:write'],
      bearer_methods_supported: ['header'],
      resource_name: 'Orders API',
    });
  });

  it('every Bearer challenge carries resource_metadata, over gRPC and the HTTP door', async () => {
    const missing = await grpc.check({ path: '/orders/1' });
    expect(missing.headers['www-authenticate']).toBe(`Bearer realm="claimgate", resource_metadata="${METADATA_URL}"`);
    const token = await mintAccessToken(key, ISSUERS[0]!, { sub: 'a', aud: RESOURCE, scope: 'profile' });
    const scope = await grpc.check({ path: '/orders/1', token });
    expect(scope.headers['www-authenticate']).toMatch(/error="insufficient_scope".*, resource_metadata="[^"]+"$/);
    const http = await fetch(`http://127.0.0.1:${app.httpPort}/envoy/orders/1`, {
      headers: { host: 'api.example.com' },
    });
    expect(http.status).toBe(401);
    expect(http.headers.get('www-authenticate')).toContain(`resource_metadata="${METADATA_URL}"`);
  });

  it('the HTTP listener answers a direct request for the document (the route a proxy sends there)', async () => {
    const res = await fetch(`http://127.0.0.1:${app.httpPort}/.well-known/oauth-protected-resource`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const doc = (await res.json()) as Record<string, unknown>;
    expectValidRfc9728(doc);
    expect(doc.authorization_servers).toEqual(ISSUERS);
  });

  it('through an HTTP door the metadata request passes like a public route, owned headers stripped', async () => {
    const res = await fetch(`http://127.0.0.1:${app.httpPort}/envoy/.well-known/oauth-protected-resource`, {
      headers: { 'x-user-id': 'spoofed' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-envoy-auth-headers-to-remove')).toContain('x-user-id');
  });

  it('places the document per RFC 9728 §3.1 for a resource with a path', () => {
    expect(metadataLocation('https://api.example.com/v1/')).toEqual({
      path: '/.well-known/oauth-protected-resource/v1',
      url: 'https://api.example.com/.well-known/oauth-protected-resource/v1',
    });
  });

  it('refuses a resource that is not https or has a fragment', () => {
    for (const resource of ['http://api.example.com', 'https://api.example.com/#x']) {
      expect(() =>
        validateConfig({
          resource_metadata: { resource },
          issuers: [{ name: 'a', issuer: ISSUERS[0], audiences: ['x'] }],
        }),
      ).toThrow(/resource_metadata\.resource: must be an https URL without a fragment/);
    }
  });
});
