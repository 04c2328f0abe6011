/**
 * Reading an introspection answer: RFC 7662 §2.2 JSON, or an RFC 9701 JWT response
 * (`application/token-introspection+jwt`) signed with the issuer's own keys, whose
 * `token_introspection` member holds the same JSON. Either way the result is the plain claim set.
 */
import type { Algorithm } from '../config/schema.js';
import type { KeySource } from '../keys/key-source.js';
import { LookupError, jsonBody, type HttpAnswer } from '../lookup/http.js';
import { parseCompactJws } from '../token/parse.js';
import { verifySignature } from '../token/signature.js';

export const JWT_RESPONSE_TYPE = 'application/token-introspection+jwt';
/** Largest JWT response accepted (a big claim set still fits). */
const MAX_JWT_RESPONSE_BYTES = 64 * 1024;

export interface JwtResponseCheck {
  readonly issuer: string;
  /**
   * Who the response is for (RFC 9701 §5 "the resource server"): claimgate's client id, or one of the
   * issuer's configured audiences (oidc-provider puts the introspected token's `aud` there).
   */
  readonly recipients: ReadonlySet<string>;
  readonly keys: KeySource;
  readonly algorithms: ReadonlySet<string>;
  readonly keyDeadlineMs: number;
}

export async function introspectionClaims(
  answer: HttpAnswer,
  jwt: JwtResponseCheck | undefined,
): Promise<Record<string, unknown>> {
  if (jwt === undefined) return jsonBody(answer) as Record<string, unknown>;
  if (answer.contentType !== JWT_RESPONSE_TYPE)
    throw new LookupError('bad_body', `expected ${JWT_RESPONSE_TYPE}, got ${answer.contentType || 'no content type'}`);
  const parsed = parseCompactJws(answer.text.trim(), MAX_JWT_RESPONSE_BYTES);
  if (!parsed.ok) throw new LookupError('bad_body', `JWT response: ${parsed.problem}`);
  const { header, claims, signingInput, signature } = parsed.jws;
  const typ = header.typ?.toLowerCase();
  if (typ !== 'token-introspection+jwt' && typ !== JWT_RESPONSE_TYPE)
    throw new LookupError('bad_body', 'JWT response: typ is not token-introspection+jwt');
  if (!jwt.algorithms.has(header.alg))
    throw new LookupError('bad_body', `JWT response: algorithm ${header.alg} not allowed`);
  let lookup = jwt.keys.lookup(header.kid, header.alg as Algorithm, jwt.keyDeadlineMs);
  if (lookup instanceof Promise) lookup = await lookup;
  if (!lookup.ok) throw new LookupError('network', `JWT response: issuer keys unavailable (${lookup.reason})`);
  if (!verifySignature(header.alg as Algorithm, lookup.key.key, signingInput, signature))
    throw new LookupError('bad_body', 'JWT response: signature does not verify');
  if (claims.iss !== jwt.issuer) throw new LookupError('bad_body', 'JWT response: iss is not the issuer');
  const aud = claims.aud;
  const auds = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
  if (!auds.some((a) => typeof a === 'string' && jwt.recipients.has(a)))
    throw new LookupError('bad_body', "JWT response: aud is neither claimgate's client id nor a configured audience");
  const inner = claims.token_introspection;
  if (typeof inner !== 'object' || inner === null || Array.isArray(inner))
    throw new LookupError('bad_body', 'JWT response: no token_introspection object');
  return inner as Record<string, unknown>;
}
