/**
 * The signed upstream identity: claimgate signs a short-lived JWT with its own key and serves the
 * public keys at /.well-known/jwks.json on the admin listener. An independent verifier (`jose`)
 * checks every JWT against the JWKS as served at that moment, continuously across a key rotation
 * with overlap done by config reloads.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import type { Claimgate } from '../../src/app/claimgate.js';
import { createCheckClient, type CheckClient } from '../../src/cli/check-client.js';
import { validateConfig } from '../../src/validation/load.js';
import { AUTH0_LIKE_AUDIENCE, ROLES_CLAIM, startAuth0LikeIdp, type Auth0LikeIdp } from '../support/auth0-like-idp.js';
import { HOST, REALM, ROUTES } from './harness.js';
import { startSettledGate } from '../support/gate.js';

const dir = mkdtempSync(join(tmpdir(), 'claimgate-identity-'));
const keyFile = (name: string, type: 'ec' | 'ed25519' | 'rsa') => {
  const { privateKey } =
    type === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : type === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ed25519');
  const file = join(dir, `${name}.pem`);
  writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }));
  return { private_key_file: file, kid: name };
};
const KEY_A = keyFile('key-a', 'ec');
const KEY_B = keyFile('key-b', 'ed25519');
const KEY_C = keyFile('key-c', 'rsa');
const ISSUER = 'https://claimgate.internal';
const AUDIENCE = 'orders-api';
const HEADER = 'x-claimgate-identity';

let idp: Auth0LikeIdp;
let gate: Claimgate;
let grpc: CheckClient;

const configWith = (keys: readonly { private_key_file: string; kid: string }[]) =>
  validateConfig({
    server: { grpc_address: '127.0.0.1:0', admin_address: '127.0.0.1:0', shutdown_grace_ms: 500 },
    logging: { level: 'silent' },
    realm: REALM,
    issuers: [
      {
        name: 'auth0',
        issuer: idp.issuer,
        audiences: [AUTH0_LIKE_AUDIENCE],
        profile: 'auth0',
        allow_insecure_http: true,
        claims: { roles: [ROLES_CLAIM] },
      },
    ],
    routes: ROUTES,
    upstream: {
      headers: [{ name: 'x-auth-sub', claim: 'sub' }],
      identity_jwt: {
        issuer: ISSUER,
        audience: AUDIENCE,
        lifetime_seconds: 60,
        claims: [
          { name: 'sub', principal: 'qualified_subject' },
          { name: 'roles', principal: 'roles' },
          { name: 'scope', principal: 'scopes' },
        ],
        keys,
      },
    },
  });

beforeAll(async () => {
  idp = await startAuth0LikeIdp();
  gate = await startSettledGate(configWith([KEY_A]));
  grpc = createCheckClient(`127.0.0.1:${gate.grpcPort}`);
});
afterAll(async () => {
  grpc?.close();
  await gate?.close(200);
  await idp?.close();
});

const servedJwks = async (): Promise<JSONWebKeySet> => {
  const response = await fetch(`http://127.0.0.1:${gate.adminPort}/.well-known/jwks.json`);
  expect(response.headers.get('content-type')).toBe('application/jwk-set+json');
  return (await response.json()) as JSONWebKeySet;
};

/** Verifies against the JWKS as served right now (the strictest upstream: no cached keys). */
const verifyNow = async (jwt: string) =>
  jwtVerify(jwt, createLocalJWKSet(await servedJwks()), { issuer: ISSUER, audience: AUDIENCE });

const identityOf = async (token: string, path = '/admin/x'): Promise<string> => {
  const answer = await grpc.check({ host: HOST, path, token });
  expect(answer.kind).toBe('allow');
  const jwt = answer.headers[HEADER];
  if (jwt === undefined) throw new Error('no identity header');
  return jwt;
};

describe('the signed upstream identity', () => {
  test('verifies with jose against the served JWKS and carries exactly the configured claims', async () => {
    const token = await idp.mint({ sub: 'auth0|alice', roles: ['admin'], scope: 'orders:read orders:write' });
    const jwt = await identityOf(token);
    const { payload, protectedHeader } = await verifyNow(jwt);
    expect(protectedHeader).toMatchObject({ alg: 'ES256', kid: 'key-a' });
    expect(Object.keys(payload).sort()).toEqual(['aud', 'exp', 'iat', 'iss', 'roles', 'scope', 'sub']);
    expect(payload).toMatchObject({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'auth0|auth0|alice',
      roles: ['admin'],
      scope: ['orders:read', 'orders:write'],
    });
    expect(payload.exp! - payload.iat!).toBe(60);
  });

  test('a client-sent copy of the header never reaches the upstream', async () => {
    const publicAnswer = await grpc.check({ host: HOST, path: '/healthz', headers: { [HEADER]: 'forged' } });
    expect(publicAnswer.headersToRemove).toContain(HEADER);
    const token = await idp.mint({ sub: 'auth0|alice', roles: ['admin'] });
    const answer = await grpc.check({ host: HOST, path: '/admin/x', token, headers: { [HEADER]: 'forged' } });
    expect(answer.headers[HEADER]).not.toBe('forged');
  });

  test('survives a key rotation with overlap: every identity verifies, also after the next reload', async () => {
    const stages = [[KEY_A], [KEY_A, KEY_B], [KEY_B, KEY_A], [KEY_B], [KEY_B, KEY_C], [KEY_C, KEY_B], [KEY_C]];
    const kidsSeen = new Set<string>();
    let previous: string | undefined;
    let verified = 0;
    let user = 0;
    for (const keys of stages) {
      expect(gate.reload(configWith(keys)).ok).toBe(true);
      for (let i = 0; i < 15; i++) {
        // A new subject each time, so every identity is freshly signed under the current stage.
        const token = await idp.mint({ sub: `auth0|user-${user++}`, roles: ['admin'] });
        const jwt = await identityOf(token);
        kidsSeen.add(String(decodeProtectedHeader(jwt).kid));
        // The one just issued, and the one issued before it (perhaps under the previous stage).
        for (const candidate of previous === undefined ? [jwt] : [previous, jwt]) {
          await verifyNow(candidate);
          verified++;
        }
        previous = jwt;
      }
    }
    expect([...kidsSeen].sort()).toEqual(['key-a', 'key-b', 'key-c']);
    expect(verified).toBe(stages.length * 15 * 2 - 1);
    expect((await servedJwks()).keys.map((k) => k.kid)).toEqual(['key-c']);
  });
});
