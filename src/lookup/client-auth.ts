/**
 * OAuth client authentication at an IdP endpoint (RFC 6749 §2.3.1, OpenID Connect Core §9):
 * `client_secret_basic`, `client_secret_post`, or `private_key_jwt` (RFC 7523 §2.2, a short-lived
 * assertion signed with claimgate's key, audience = the endpoint, fresh `jti` each time).
 */
import { createPrivateKey, randomUUID, sign, type KeyObject } from 'node:crypto';
import { readSecret } from './secret.js';

export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';

export interface ClientAuthConfig {
  readonly client_id: string;
  readonly auth_method: ClientAuthMethod;
  readonly client_secret_file?: string;
  readonly client_secret_env?: string;
  readonly private_key_file?: string;
  readonly private_key_kid?: string;
}

/** Adds credentials to a form request; returns the extra headers. */
export type ClientAuth = (form: URLSearchParams, endpoint: string, nowMs: number) => Record<string, string>;

/** RFC 6749 §2.3.1: client id and secret are form-urlencoded before Basic encoding. */
const formEncode = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');

export function compileClientAuth(config: ClientAuthConfig, what: string): ClientAuth {
  const clientId = config.client_id;
  if (config.auth_method === 'private_key_jwt') {
    const key = readPrivateKey(config.private_key_file, what);
    const { alg, dsaEncoding } = signingAlgorithm(key);
    return (form, endpoint, nowMs) => {
      const now = Math.floor(nowMs / 1000);
      const header = {
        alg,
        typ: 'JWT',
        ...(config.private_key_kid === undefined ? {} : { kid: config.private_key_kid }),
      };
      const claims = { iss: clientId, sub: clientId, aud: endpoint, iat: now, exp: now + 60, jti: randomUUID() };
      form.set('client_id', clientId);
      form.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      form.set('client_assertion', signCompact(header, claims, key, dsaEncoding));
      return {};
    };
  }
  const secret = readSecret({ file: config.client_secret_file, env: config.client_secret_env }, what);
  if (config.auth_method === 'client_secret_post') {
    return (form) => {
      form.set('client_id', clientId);
      form.set('client_secret', secret);
      return {};
    };
  }
  const basic = `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(secret)}`).toString('base64')}`;
  return () => ({ authorization: basic });
}

function readPrivateKey(file: string | undefined, what: string): KeyObject {
  const pem = readSecret({ file }, `${what} private key`);
  try {
    return createPrivateKey(pem);
  } catch {
    throw new Error(`${what} private key: ${file} is not a PEM private key`);
  }
}

export interface SigningAlgorithm {
  readonly alg: 'RS256' | 'ES256' | 'ES384' | 'EdDSA';
  readonly dsaEncoding?: 'ieee-p1363';
}

/** The JWS algorithm a key signs with: RS256 for RSA, ES256/ES384 by curve, EdDSA for Ed25519. */
export function signingAlgorithm(key: KeyObject): SigningAlgorithm {
  const type = key.asymmetricKeyType;
  if (type === 'rsa') return { alg: 'RS256' };
  if (type === 'ed25519') return { alg: 'EdDSA' };
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return { alg: 'ES256', dsaEncoding: 'ieee-p1363' };
    if (curve === 'secp384r1') return { alg: 'ES384', dsaEncoding: 'ieee-p1363' };
  }
  throw new Error(`unsupported signing key type ${type ?? 'unknown'} (use RSA, EC P-256/P-384 or Ed25519)`);
}

const HASH: Record<SigningAlgorithm['alg'], string | null> = {
  RS256: 'sha256',
  ES256: 'sha256',
  ES384: 'sha384',
  EdDSA: null,
};

export function signCompact(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  key: KeyObject,
  dsaEncoding?: 'ieee-p1363',
): string {
  const input = `${b64(header)}.${b64(claims)}`;
  const alg = header.alg as SigningAlgorithm['alg'];
  const signature = sign(HASH[alg], Buffer.from(input), dsaEncoding === undefined ? key : { key, dsaEncoding });
  return `${input}.${signature.toString('base64url')}`;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
