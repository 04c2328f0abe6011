/** RFC 9068 access tokens for tests, signed with a key from `generateSigningKey` (test/support/fake-idp.ts). */
import { SignJWT, type JWTPayload } from 'jose';
import type { SigningKey } from './fake-idp.js';

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
