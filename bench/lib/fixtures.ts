/**
 * Benchmark material, generated fresh per run: signing keys (RSA-2048, P-256) and their JWKS, realistic
 * access tokens (RS256 ~800 bytes), and the gRPC-framed CheckRequest bodies h2load sends.
 *
 * The CheckRequest is Envoy's HTTP/1.1 GET captured in test/fixtures/envoy-wire (15 headers) with the
 * token replaced; it is encoded with claimgate's own protos (src/envoy/proto.ts).
 */
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkMessageTypes } from '../../src/envoy/proto.js';
import { generateSigningKey } from '../../test/support/fake-idp.js';
import { signParts } from '../../test/support/tokens.js';

export const ISSUER = 'https://auth.example.com/';
export const AUDIENCE = 'orders-api';
export const REQUIRED_SCOPE = 'orders:read';
export const ROUTE_PREFIX = '/v1/orders';
/** The three identity headers every allow carries (claimgate's upstream.headers and the tutorial server). */
export const IDENTITY_HEADERS = [
  { name: 'x-user-id', claim: 'sub' },
  { name: 'x-tenant', claim: 'tenant' },
  { name: 'x-user-scopes', claim: 'scope' },
] as const;

export const RSA_KID = 'bench-rsa-2025-06';
export const EC_KID = 'bench-ec-2025-06';

export interface KeyMaterial {
  readonly rsaPrivate: KeyObject;
  readonly ecPrivate: KeyObject;
  /** JWKS with both public keys (claimgate `jwks_file`, jwks-rsa endpoint). */
  readonly jwks: { keys: Record<string, unknown>[] };
}

export function generateKeys(): KeyMaterial {
  const rsa = generateSigningKey('RS256', RSA_KID);
  const ec = generateSigningKey('ES256', EC_KID);
  return { rsaPrivate: rsa.privateKey, ecPrivate: ec.privateKey, jwks: { keys: [rsa.jwk, ec.jwk] } };
}

/** A realistic access-token payload (RFC 9068 shape plus the usual extra claims). */
export function realisticClaims(nowS: number, n = 0): Record<string, unknown> {
  const id = `8c2f1d4e-5b0c-4f55-a0a8-${(0xb1b3c2f9e4d1 + n).toString(16).padStart(12, '0')}`;
  return {
    iss: ISSUER,
    sub: `user-${id}`,
    aud: AUDIENCE,
    iat: nowS,
    nbf: nowS,
    exp: nowS + 3600,
    auth_time: nowS - 120,
    jti: `7d1f6a0e-${id.slice(9)}`,
    client_id: 'web-frontend-7f3a9c',
    scope: 'openid profile email orders:read orders:write',
    tenant: 'acme',
    email: 'zoe.martin@example.com',
    roles: ['viewer', 'buyer'],
    sid: `s-${id}`,
  };
}

export function signToken(alg: 'RS256' | 'ES256', keys: KeyMaterial, claims: Record<string, unknown>): string {
  const header = { alg, typ: 'at+jwt', kid: alg === 'RS256' ? RSA_KID : EC_KID };
  return signParts(alg, alg === 'RS256' ? keys.rsaPrivate : keys.ecPrivate, header, claims);
}

const FIXTURE = fileURLToPath(
  new URL('../../../test/fixtures/envoy-wire/http11-get-bearer.CheckRequest.json', import.meta.url),
);

/** The captured Envoy CheckRequest as a plain object (keepCase field names). */
function fixtureRequest(): Record<string, unknown> {
  return JSON.parse(readFileSync(FIXTURE, 'utf8')) as Record<string, unknown>;
}

/** The fixture's 15 request headers with `authorization: Bearer <token>`. */
export function requestHeaders(token: string): Record<string, string> {
  const req = fixtureRequest() as { attributes: { request: { http: { headers: Record<string, string> } } } };
  return { ...req.attributes.request.http.headers, authorization: `Bearer ${token}` };
}

/** A serialized CheckRequest message carrying `token`. */
export function checkRequestBytes(token: string): Buffer {
  const { CheckRequest } = checkMessageTypes();
  const req = fixtureRequest() as { attributes: { request: { http: { headers: Record<string, string> } } } };
  req.attributes.request.http.headers = requestHeaders(token);
  const message = CheckRequest.fromObject(req);
  const problem = CheckRequest.verify(CheckRequest.toObject(message));
  if (problem !== null) throw new Error(`fixture CheckRequest invalid: ${problem}`);
  return Buffer.from(CheckRequest.encode(message).finish());
}

/** gRPC length-prefixed message: 1 byte flag (0, uncompressed) + 4-byte big-endian length + message. */
export function grpcFrame(message: Buffer): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}
