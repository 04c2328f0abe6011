/**
 * The partner's published material as `serve` would take it: advertised algorithms, the JWKS cache
 * header, and each JWK through keys/jwk.ts's own import (with every algorithm allowed, so the report
 * shows what each key can do and why a key would be skipped).
 */
import { ASYMMETRIC_ALGORITHMS, type Algorithm } from '../config/schema.js';
import { bitLength, importJwk, MAX_KEYS_PER_SET } from '../keys/jwk.js';
import { parseMaxAge } from '../keys/refresh-policy.js';
import type { Note } from './findings.js';

export interface KeyReport {
  readonly kid?: string;
  readonly kty?: string;
  readonly alg?: string;
  readonly use?: string;
  /** RSA modulus bits, or the curve name. */
  readonly size?: string;
  readonly usable: boolean;
  /** Why claimgate would skip it (keys/jwk.ts reason code). */
  readonly skipped?: string;
}

export function checkAdvertised(advertised: readonly string[] | undefined, note: Note): void {
  if (advertised === undefined) {
    note('info', 'algorithms_not_advertised', 'discovery advertises no id_token_signing_alg_values_supported');
    return;
  }
  const usable = advertised.filter((a) => (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(a));
  const refused = advertised.filter((a) => !usable.includes(a));
  note('info', 'algorithms_advertised', `advertised signing algorithms: ${advertised.join(', ')}`);
  if (refused.length > 0)
    note('warning', 'algorithms_refused', `claimgate never accepts ${refused.join(', ')} (symmetric or none)`);
}

export function checkCacheControl(cacheControl: string | null, note: Note): void {
  const maxAge = parseMaxAge(cacheControl);
  if (maxAge === undefined)
    note('info', 'jwks_no_max_age', 'JWKS has no Cache-Control max-age: claimgate refreshes every min_refresh_seconds');
  else note('ok', 'jwks_max_age', `JWKS Cache-Control max-age=${maxAge} s (clamped into min/max_refresh_seconds)`);
}

/** Each JWK as serve would import it (every algorithm allowed, so the report shows what the key can do). */
export function inspectKeys(body: Record<string, unknown>, out: KeyReport[], note: Note): Set<Algorithm> {
  const list = Array.isArray(body.keys) ? (body.keys as unknown[]) : undefined;
  const algs = new Set<Algorithm>();
  if (list === undefined) {
    note('error', 'not_jwks', 'JWKS document has no "keys" array');
    return algs;
  }
  const all = new Set<Algorithm>(ASYMMETRIC_ALGORITHMS);
  list.forEach((raw, index) => {
    const jwk = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
    const result = index >= MAX_KEYS_PER_SET ? undefined : importJwk(raw, all);
    const report: KeyReport = {
      ...(typeof jwk.kid === 'string' ? { kid: jwk.kid } : {}),
      ...(typeof jwk.kty === 'string' ? { kty: jwk.kty } : {}),
      ...(typeof jwk.alg === 'string' ? { alg: jwk.alg } : {}),
      ...(typeof jwk.use === 'string' ? { use: jwk.use } : {}),
      ...sizeOf(jwk),
      usable: result?.ok === true,
      ...(result?.ok === true ? {} : { skipped: result?.reason ?? 'too_many_keys' }),
    };
    out.push(report);
    if (result?.ok === true) {
      // The JWK's own `alg` is what the IdP signs with; without one the key type decides.
      if (typeof jwk.alg === 'string' && result.key.algorithms.has(jwk.alg as Algorithm))
        algs.add(jwk.alg as Algorithm);
      else if (result.key.kty === 'RSA') algs.add('RS256');
      else for (const a of result.key.algorithms) algs.add(a);
    } else {
      const name = report.kid === undefined ? `key #${index}` : `key "${report.kid}"`;
      note(
        'warning',
        'key_skipped',
        `${name} (${report.kty ?? '?'} ${report.size ?? ''}) would be skipped: ${report.skipped}`,
      );
    }
  });
  const usable = out.filter((k) => k.usable).length;
  if (usable === 0) note('error', 'no_usable_keys', `none of the ${list.length} published key(s) is usable`);
  else if (usable === 1)
    note('info', 'one_key', '1 usable key: ask how the partner rotates (a new key should be published before use)');
  else note('ok', 'keys', `${usable} usable key(s) of ${list.length} published`);
  return algs;
}

function sizeOf(jwk: Record<string, unknown>): { size?: string } {
  if (jwk.kty === 'RSA' && typeof jwk.n === 'string') {
    const bits = bitLength(Buffer.from(jwk.n, 'base64url'));
    return { size: `${bits} bits` };
  }
  return typeof jwk.crv === 'string' ? { size: jwk.crv } : {};
}
