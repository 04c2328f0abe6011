/**
 * The three ways an issuer's keys arrive: a discovery document's `jwks_uri`, a configured
 * `jwks_uri`, or a local file. Each step either yields checked keys or fails with a KeyLoadError
 * whose code says why; the key source decides what a failure means.
 */
import { readFile } from 'node:fs/promises';
import type { IssuerConfig } from '../config/schema.js';
import { DiscoveryError, discoveryUrl, jwksUriFromDiscovery, type DiscoveryErrorCode } from './discovery.js';
import { checkDiscoveredJwksUri } from './egress.js';
import { fetchJson, FetchError, parseJsonObject, type FetchErrorCode, type FetchJsonDeps } from './fetch.js';
import { importJwks, NotAJwksError, type ImportedJwks } from './jwk.js';
import { parseMaxAge } from './refresh-policy.js';

export type LoadStep = 'discovery' | 'jwks';

/** Why a step failed. `no_usable_keys`: a well-formed JWKS in which every key was skipped. */
export type LoadErrorCode =
  FetchErrorCode | DiscoveryErrorCode | 'not_jwks' | 'no_usable_keys' | 'file_unreadable' | 'unexpected';

export class KeyLoadError extends Error {
  constructor(
    readonly code: LoadErrorCode,
    readonly step: LoadStep,
    message: string,
  ) {
    super(message);
    this.name = 'KeyLoadError';
  }
}

export interface LoadedKeys {
  readonly imported: ImportedJwks;
  /** The response's `Cache-Control` max-age, when it had one. */
  readonly maxAgeSeconds?: number;
}

function limitsOf(issuer: IssuerConfig) {
  return {
    timeoutMs: issuer.keys.fetch_timeout_ms,
    maxBytes: issuer.keys.max_response_bytes,
    allowInsecureHttp: issuer.allow_insecure_http,
  };
}

/** Fetch the discovery document and return its `jwks_uri`. @throws KeyLoadError */
export async function loadJwksUri(issuer: IssuerConfig, deps: FetchJsonDeps): Promise<string> {
  try {
    const { body } = await fetchJson(discoveryUrl(issuer.issuer), limitsOf(issuer), deps);
    const jwksUri = jwksUriFromDiscovery(body, issuer.issuer);
    await checkDiscoveredJwksUri(jwksUri, issuer);
    return jwksUri;
  } catch (error) {
    throw asLoadError(error, 'discovery');
  }
}

/** Fetch and import a JWKS. @throws KeyLoadError */
export async function loadRemoteKeys(jwksUri: string, issuer: IssuerConfig, deps: FetchJsonDeps): Promise<LoadedKeys> {
  try {
    const { body, cacheControl } = await fetchJson(jwksUri, limitsOf(issuer), deps);
    const imported = importUsable(body, issuer);
    const maxAgeSeconds = parseMaxAge(cacheControl);
    return maxAgeSeconds === undefined ? { imported } : { imported, maxAgeSeconds };
  } catch (error) {
    throw asLoadError(error, 'jwks');
  }
}

/** Read and import a local JWKS file (path relative to the process's working directory). @throws KeyLoadError */
export async function loadFileKeys(path: string, issuer: IssuerConfig): Promise<LoadedKeys> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new KeyLoadError(
      'file_unreadable',
      'jwks',
      `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  try {
    if (bytes.length > issuer.keys.max_response_bytes)
      throw new FetchError('too_large', `file exceeds ${issuer.keys.max_response_bytes} bytes`);
    return { imported: importUsable(parseJsonObject(bytes), issuer) };
  } catch (error) {
    throw asLoadError(error, 'jwks');
  }
}

/**
 * A set in which no key is usable fails as a whole: an IdP that briefly publishes an empty or broken
 * set is an outage (keep the last good keys), not a reason to reject every token as invalid.
 */
function importUsable(body: Record<string, unknown>, issuer: IssuerConfig): ImportedJwks {
  const imported = importJwks(body, issuer.algorithms);
  if (imported.keys.length === 0) {
    const reasons = [...new Set(imported.skipped.map((s) => s.reason))].join(', ') || 'empty set';
    throw new KeyLoadError('no_usable_keys', 'jwks', `JWKS has no usable key (${reasons})`);
  }
  return imported;
}

function asLoadError(error: unknown, step: LoadStep): KeyLoadError {
  if (error instanceof KeyLoadError) return error;
  if (error instanceof FetchError || error instanceof DiscoveryError)
    return new KeyLoadError(error.code, step, error.message);
  if (error instanceof NotAJwksError) return new KeyLoadError('not_jwks', step, error.message);
  return new KeyLoadError('unexpected', step, error instanceof Error ? error.message : String(error));
}
