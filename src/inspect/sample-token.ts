/**
 * A partner's sample token: decoded for the report (header, audience, expiry, scopes and roles, which
 * provider it looks like) and verified by the serving verifier (token/verify.ts) with a real key source
 * over the proposed issuer block.
 */
import { configSchema, type IssuerConfig } from '../config/schema.js';
import { createKeySource } from '../keys/key-source.js';
import { compileLocation, locationId } from '../token/extract.js';
import { parseCompactJws } from '../token/parse.js';
import { compileIssuer, verifyToken } from '../token/verify.js';
import { strings, type Note } from './findings.js';
import { AT_JWT, describeTokenShape, type TokenShape } from './token-shape.js';

/** Largest sample token read (the issuer's own max_token_bytes applies when it is verified). */
const MAX_TOKEN_BYTES = 65536;

export interface SampleTokenReport {
  readonly alg?: string;
  readonly typ?: string;
  readonly kid?: string;
  readonly iss?: unknown;
  readonly aud?: unknown;
  readonly sub?: unknown;
  readonly expiresAt?: string;
  /** `OK` or the reason code claimgate would deny it with; absent when no usable key allowed a check. */
  readonly verification?: string;
  readonly shape?: TokenShape;
}

export function decodeSample(token: string, note: Note): SampleTokenReport | undefined {
  const parsed = parseCompactJws(token.trim(), MAX_TOKEN_BYTES);
  if (!parsed.ok) {
    note('error', 'token_unreadable', `sample token is not a signed JWT: ${parsed.reason} (${parsed.problem})`);
    return undefined;
  }
  const { header, claims } = parsed.jws;
  const typ = header.typ;
  if (typ === undefined || !AT_JWT.test(typ))
    note(
      'warning',
      'typ_legacy',
      `typ is ${typ === undefined ? 'absent' : `"${typ}"`}, not at+jwt (RFC 9068): needs token_type: legacy`,
    );
  else note('ok', 'typ', `typ "${typ}" (RFC 9068 access token)`);
  const exp = typeof claims.exp === 'number' ? new Date(claims.exp * 1000).toISOString() : undefined;
  return {
    alg: header.alg,
    ...(typ !== undefined ? { typ } : {}),
    ...(header.kid !== undefined ? { kid: header.kid } : {}),
    iss: claims.iss,
    aud: claims.aud,
    sub: claims.sub,
    ...(exp ? { expiresAt: exp } : {}),
    shape: describeTokenShape(claims, typ),
  };
}

export function audienceList(aud: unknown): string[] {
  if (typeof aud === 'string') return [aud];
  return strings(aud) ?? [];
}

export function audienceOf(aud: unknown): string | undefined {
  const list = audienceList(aud);
  return list.length === 1 ? list[0] : undefined;
}

/** The real verifier, with the real key source, over the proposed block. */
export async function verifySample(
  token: string,
  block: Record<string, unknown>,
  nowMs: () => number,
  fetchImpl: typeof fetch | undefined,
): Promise<string> {
  const parsed = configSchema.safeParse({ issuers: [block] });
  if (!parsed.success) return `proposed block invalid: ${parsed.error.issues[0]?.message ?? 'unknown'}`;
  const issuerConfig: IssuerConfig = parsed.data.issuers[0]!;
  const source = createKeySource(issuerConfig, fetchImpl ? { fetch: fetchImpl } : {});
  source.start();
  try {
    await source.whenSettled();
    const location = compileLocation(issuerConfig.token_locations[0]!);
    const compiled = compileIssuer(issuerConfig, source, new Set([locationId(issuerConfig.token_locations[0]!)]));
    const result = await verifyToken(token.trim(), location, {
      issuers: new Map([[issuerConfig.issuer, compiled]]),
      maxTokenBytes: MAX_TOKEN_BYTES,
      nowMs,
      keyDeadlineMs: 5000,
    });
    return result.ok ? 'OK' : result.reason;
  } finally {
    source.close();
  }
}
