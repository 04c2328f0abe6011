/**
 * Tokens for tests and the bench: RFC 9068 access tokens signed through jose, compact JWS signed by hand
 * (so malformed and hostile tokens can be built byte for byte, and keys jose refuses can sign), and
 * surgery on a signed token that keeps its original signature.
 */
import { constants, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, SignJWT, type JWTPayload } from 'jose';
import type { SigningKey } from './fake-idp.js';

// ---- through jose ----------------------------------------------------------------------------------

/** An RFC 9068 access token (`typ: at+jwt`) signed with a key from `generateSigningKey` (./fake-idp.ts). */
export function mintAccessToken(
  key: SigningKey,
  issuer: string,
  claims: JWTPayload,
  options: { kid?: string; alg?: string; ttl?: string } = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? 'RS256', typ: 'at+jwt', kid: options.kid ?? key.kid })
    .setIssuer(issuer)
    .setIssuedAt()
    .setExpirationTime(options.ttl ?? '5m')
    .sign(key.privateKey);
}

// ---- by hand ---------------------------------------------------------------------------------------

export type SignAlg =
  'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA' | 'Ed25519';

export const b64u = (data: string | Buffer | Uint8Array): string =>
  Buffer.from(data as Uint8Array).toString('base64url');
export const b64json = (value: unknown): string => b64u(Buffer.from(JSON.stringify(value), 'utf8'));

/** Raw signature of `input` for `alg` with `key` (JWS encoding: ECDSA r||s). */
export function rawSign(alg: SignAlg, key: KeyObject, input: string | Buffer): Buffer {
  const data = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  const hash = (n: string) => `sha${n}`;
  switch (alg) {
    case 'RS256':
    case 'RS384':
    case 'RS512':
      return cryptoSign(hash(alg.slice(2)), data, key);
    case 'PS256':
    case 'PS384':
    case 'PS512':
      return cryptoSign(hash(alg.slice(2)), data, {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: Number(alg.slice(2)) / 8,
      });
    case 'ES256':
    case 'ES384':
    case 'ES512':
      return cryptoSign(hash(alg.slice(2)), data, { key, dsaEncoding: 'ieee-p1363' });
    case 'EdDSA':
    case 'Ed25519':
      return cryptoSign(null, data, key);
  }
}

/**
 * A compact JWS over exactly the given segments. `header`/`payload` may be objects (JSON-encoded),
 * raw JSON text (encoded as is, so duplicate names and odd bytes survive), or pre-encoded segments
 * via `{ segment }`. The signature covers exactly `header.payload` as it appears in the token.
 */
export type Part = Record<string, unknown> | string | Buffer | { segment: string };

export function segmentOf(part: Part): string {
  if (Buffer.isBuffer(part)) return b64u(part);
  if (typeof part === 'string') return b64u(Buffer.from(part, 'utf8'));
  if ('segment' in part && typeof part.segment === 'string' && Object.keys(part).length === 1) return part.segment;
  return b64json(part);
}

export function signParts(alg: SignAlg, key: KeyObject, header: Part, payload: Part): string {
  const input = `${segmentOf(header)}.${segmentOf(payload)}`;
  return `${input}.${b64u(rawSign(alg, key, input))}`;
}

// ---- surgery on a signed token ---------------------------------------------------------------------

export const claimsOf = (token: string): JWTPayload => decodeJwt(token);
export const headerOf = (token: string) => decodeProtectedHeader(token);

/** The same token with a changed payload and the original signature (a forgery attempt). */
export function withPayload(token: string, change: (claims: JWTPayload) => JWTPayload): string {
  const [header, , signature] = token.split('.');
  return `${header}.${b64json(change(claimsOf(token)))}.${signature}`;
}

/** The same token with a changed protected header and the original signature. */
export function withHeader(
  token: string,
  change: (header: Record<string, unknown>) => Record<string, unknown>,
): string {
  const [, payload, signature] = token.split('.');
  return `${b64json(change({ ...headerOf(token) }))}.${payload}.${signature}`;
}

/** The same token with one bit flipped in the middle of its signature (still canonical base64url). */
export function withFlippedSignatureBit(token: string): string {
  const [header, payload, signature = ''] = token.split('.');
  const bytes = Buffer.from(signature, 'base64url');
  const middle = Math.floor(bytes.length / 2);
  bytes[middle] = (bytes[middle] ?? 0) ^ 0x01;
  return `${header}.${payload}.${bytes.toString('base64url')}`;
}
