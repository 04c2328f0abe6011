/**
 * Client side of DPoP for tests, written from RFC 9449 §4.2: a fresh key pair per client, proofs with
 * every member controllable (so each rule of §4.3 can be broken on its own), and tokens bound to the key.
 */
import { createHash, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { b64json, b64u, rawSign, signParts, type SignAlg } from '../security/harness.js';

export interface DpopClient {
  readonly alg: SignAlg;
  readonly privateKey: KeyObject;
  readonly publicJwk: Record<string, unknown>;
  /** RFC 7638 thumbprint, computed by jose (an independent implementation of ours). */
  readonly jkt: string;
}

export async function dpopClient(alg: SignAlg = 'ES256'): Promise<DpopClient> {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicJwk = pair.publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
  const jkt = await calculateJwkThumbprint(publicJwk as JWK, 'sha256');
  return { alg, privateKey: pair.privateKey, publicJwk, jkt };
}

export const ath = (token: string): string => createHash('sha256').update(token).digest('base64url');

export interface ProofOptions {
  readonly htm?: string;
  readonly htu?: string;
  readonly iatS: number;
  readonly token?: string;
  readonly jti?: string;
  readonly nonce?: string;
  /** Replaces header members (undefined removes one). */
  readonly header?: Record<string, unknown>;
  /** Replaces payload members (undefined removes one). */
  readonly payload?: Record<string, unknown>;
  /** Signs with this key instead of the client's (the header still names the client's jwk). */
  readonly signWith?: KeyObject;
}

export function proof(client: DpopClient, opts: ProofOptions): string {
  const header: Record<string, unknown> = { typ: 'dpop+jwt', alg: client.alg, jwk: client.publicJwk, ...opts.header };
  const payload: Record<string, unknown> = {
    jti: opts.jti ?? randomUUID(),
    htm: opts.htm ?? 'GET',
    htu: opts.htu ?? 'https://api.example.com/orders/1',
    iat: opts.iatS,
    ...(opts.token === undefined ? {} : { ath: ath(opts.token) }),
    ...(opts.nonce === undefined ? {} : { nonce: opts.nonce }),
    ...opts.payload,
  };
  for (const part of [header, payload]) for (const [k, v] of Object.entries(part)) if (v === undefined) delete part[k];
  return signParts(client.alg, opts.signWith ?? client.privateKey, header, payload);
}

/** A JWS with an arbitrary `alg` text and a given signature (for `none` and HMAC proofs). */
export function unsignedProof(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  signature: Buffer,
): string {
  return `${b64json(header)}.${b64json(payload)}.${b64u(signature)}`;
}

export { rawSign };
