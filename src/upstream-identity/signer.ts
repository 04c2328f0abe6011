/**
 * The identity the upstream can verify: a short-lived JWT claimgate signs with its own key (`iss` =
 * claimgate's configured name, `aud` = the upstream, the configured principal fields as claims),
 * sent in one header. The upstream trusts one issuer, whoever the partner was.
 *
 * Keys come from PEM files; the first key of `keys` signs and every listed key is published in the
 * JWKS (served on the admin listener). Rotation with overlap is three config reloads: add the new key
 * second (published, not yet signing); once upstreams have refetched the JWKS, move it first (it
 * signs, the old one stays published); after `lifetime_seconds` the old key can go.
 *
 * A signed identity is cached per principal (and claim values) for half its lifetime.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Config } from '../config/schema.js';
import { principalField, type Principal } from '../engine/principal.js';
import { readSecret } from '../lookup/secret.js';
import { signCompact, signingAlgorithm, type SigningAlgorithm } from '../lookup/client-auth.js';

export type IdentityJwtConfig = NonNullable<Config['upstream']['identity_jwt']>;

export interface IdentitySigner {
  readonly header: string;
  /** The JWT for this principal (signed now, or cached while more than half its lifetime remains). */
  sign(principal: Principal, nowMs: number): string;
  /** The public keys, as a JWKS document. */
  readonly jwks: { readonly keys: readonly Record<string, unknown>[] };
}

interface LoadedKey {
  readonly kid: string;
  readonly key: KeyObject;
  readonly algorithm: SigningAlgorithm;
}

const CACHE_ENTRIES = 10_000;

/** Reads every key file; throws an Error naming the file on any problem (never the key). */
export function createIdentitySigner(config: IdentityJwtConfig): IdentitySigner {
  const keys: LoadedKey[] = config.keys.map((k, i) => {
    const what = `upstream.identity_jwt.keys[${i}]`;
    const pem = readSecret({ file: k.private_key_file }, what);
    let key: KeyObject;
    try {
      key = createPrivateKey(pem);
    } catch {
      throw new Error(`${what}: ${k.private_key_file} is not a PEM private key`);
    }
    return { kid: k.kid, key, algorithm: signingAlgorithm(key) };
  });
  const active = keys[0]!;
  const jwks = Object.freeze({
    keys: Object.freeze(
      keys.map((k) =>
        Object.freeze({
          ...createPublicKey(k.key).export({ format: 'jwk' }),
          kid: k.kid,
          alg: k.algorithm.alg,
          use: 'sig',
        }),
      ),
    ),
  });
  const lifetimeMs = config.lifetime_seconds * 1000;
  const cache = new LRUCache<string, { jwt: string; untilMs: number }>({ max: CACHE_ENTRIES });

  return {
    header: config.header,
    jwks,
    sign(principal, nowMs) {
      const claims: Record<string, unknown> = {};
      for (const c of config.claims) {
        const value = principalField(principal, c.principal);
        if (value !== undefined) claims[c.name] = value;
      }
      const cacheKey = JSON.stringify(claims);
      const hit = cache.get(cacheKey);
      if (hit !== undefined && nowMs < hit.untilMs) return hit.jwt;
      const iat = Math.floor(nowMs / 1000);
      const jwt = signCompact(
        { alg: active.algorithm.alg, typ: 'JWT', kid: active.kid },
        { ...claims, iss: config.issuer, aud: config.audience, iat, exp: iat + config.lifetime_seconds },
        active.key,
        active.algorithm.dsaEncoding,
      );
      cache.set(cacheKey, { jwt, untilMs: nowMs + lifetimeMs / 2 });
      return jwt;
    },
  };
}
