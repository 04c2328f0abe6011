/**
 * `claimgate issuer inspect`: fetch a partner's discovery document and JWKS live, check them the way
 * `serve` would, optionally verify a sample token with the real verifier, and propose an issuer block.
 * Every fetch, key check and token check is the serving code's own (keys/*, token/*); this module only
 * collects what they say into findings a person can act on.
 */
import { ASYMMETRIC_ALGORITHMS, configSchema, type Algorithm, type IssuerConfig } from '../config/schema.js';
import { describeFetchError, isLoopbackUrl } from './urls.js';
import { DiscoveryError, discoveryUrl, jwksUriFromDiscovery } from '../keys/discovery.js';
import { fetchJson, type FetchedJson } from '../keys/fetch.js';
import { bitLength, importJwk, MAX_KEYS_PER_SET } from '../keys/jwk.js';
import { createKeySource } from '../keys/key-source.js';
import { parseMaxAge } from '../keys/refresh-policy.js';
import { compileLocation, locationId } from '../token/extract.js';
import { parseCompactJws } from '../token/parse.js';
import { compileIssuer, verifyToken } from '../token/verify.js';
import { describeTokenShape, type TokenShape } from './token-shape.js';

export type Severity = 'ok' | 'info' | 'warning' | 'error';

export interface Finding {
  readonly severity: Severity;
  /** Stable short code, for tools and tests. */
  readonly code: string;
  readonly message: string;
}

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

export interface InspectReport {
  readonly url: string;
  /** The `issuer` value to configure: the discovery document's, byte for byte. */
  readonly issuer?: string;
  readonly jwksUri?: string;
  readonly advertisedAlgorithms?: readonly string[];
  readonly cacheControl?: string | null;
  readonly keys: readonly KeyReport[];
  readonly token?: SampleTokenReport;
  readonly findings: readonly Finding[];
  /** A ready-to-paste issuer entry (config `issuers[]` item). */
  readonly issuerBlock?: Record<string, unknown>;
  /** What the block still needs from a person. */
  readonly missing: readonly string[];
}

export interface InspectOptions {
  readonly url: string;
  readonly audience?: string;
  readonly token?: string;
  readonly fetch?: typeof fetch;
  readonly nowMs?: () => number;
  readonly timeoutMs?: number;
}

const MAX_BYTES = 512 * 1024;
const MAX_TOKEN_BYTES = 65536;

export async function inspectIssuer(options: InspectOptions): Promise<InspectReport> {
  const findings: Finding[] = [];
  const note = (severity: Severity, code: string, message: string) => findings.push({ severity, code, message });
  const missing: string[] = [];
  const keys: KeyReport[] = [];
  const url = options.url;
  const nowMs = options.nowMs ?? Date.now;
  const base = { url, keys, findings, missing };

  let parsedUrl: URL;
  try {
    parsedUrl = new URL(url);
  } catch {
    note('error', 'url_invalid', `"${url}" is not an absolute URL (an issuer looks like https://idp.example.com/)`);
    return base;
  }
  const loopback = isLoopbackUrl(parsedUrl);
  if (parsedUrl.protocol === 'https:') note('ok', 'https', 'issuer uses HTTPS');
  else if (parsedUrl.protocol === 'http:' && loopback)
    note('warning', 'http_loopback', 'plain HTTP: accepted for a loopback IdP only, with allow_insecure_http: true');
  else {
    note('error', 'not_https', `${parsedUrl.protocol} issuer refused: claimgate fetches keys over HTTPS only`);
    return base;
  }
  const limits = { timeoutMs: options.timeoutMs ?? 5000, maxBytes: MAX_BYTES, allowInsecureHttp: loopback };
  const deps = options.fetch ? { fetch: options.fetch } : {};

  let discovery: FetchedJson;
  try {
    discovery = await fetchJson(discoveryUrl(url), limits, deps);
  } catch (error) {
    note('error', 'discovery_unreachable', `discovery ${discoveryUrl(url)}: ${describeFetchError(error)}`);
    return base;
  }
  const found = discovery.body.issuer;
  let issuer = url;
  if (found !== url) {
    const sameOrigin = typeof found === 'string' && URL.canParse(found) && new URL(found).origin === parsedUrl.origin;
    note(
      'error',
      'issuer_mismatch',
      `discovery names a different issuer: asked for "${url}", the document says ${JSON.stringify(found ?? null).slice(0, 200)}` +
        (sameOrigin ? ' (claimgate compares byte for byte: configure the document\u2019s value)' : ''),
    );
    if (!sameOrigin) return { ...base };
    issuer = found as string;
  } else note('ok', 'issuer_match', `discovery issuer matches exactly: "${issuer}"`);

  let jwksUri: string;
  try {
    jwksUri = jwksUriFromDiscovery(discovery.body, issuer);
  } catch (error) {
    note('error', 'bad_discovery', (error as DiscoveryError).message);
    return { ...base, issuer };
  }
  const advertised = strings(discovery.body.id_token_signing_alg_values_supported);
  checkAdvertised(advertised, note);

  let jwks: FetchedJson;
  try {
    jwks = await fetchJson(
      jwksUri,
      { ...limits, allowInsecureHttp: loopback && isLoopbackUrl(new URL(jwksUri)) },
      deps,
    );
  } catch (error) {
    note('error', 'jwks_unreachable', `JWKS ${jwksUri}: ${describeFetchError(error)}`);
    return { ...base, issuer, jwksUri, advertisedAlgorithms: advertised };
  }
  checkCacheControl(jwks.cacheControl, note);
  const keyAlgs = inspectKeys(jwks.body, keys, note);

  const token = options.token === undefined ? undefined : decodeSample(options.token, note);
  const algorithms = chooseAlgorithms(token?.alg, keyAlgs, advertised);
  const audience = options.audience ?? audienceOf(token?.aud);
  const block = issuerBlock(issuer, parsedUrl, loopback, audience, algorithms, token);
  if (options.audience === undefined && audience !== undefined)
    note(
      'info',
      'audience_from_token',
      `audience "${audience}" taken from the sample token: confirm it is the agreed one`,
    );
  if (audience === undefined)
    missing.push('audiences: the audience value this partner puts in `aud` for your API (pass --audience)');
  if (options.token === undefined)
    missing.push('a sample token (--token-file F or --token-stdin) to confirm typ, audience, scopes and roles');
  if (token?.shape?.roles === undefined)
    missing.push('roles_claim: where roles live, if routes require roles (the sample token shows none)');
  missing.push('routes: which scopes/roles each endpoint requires (see docs/partners.md)');

  let verification: string | undefined;
  if (options.token !== undefined && token !== undefined && keyAlgs.size > 0) {
    verification = await verifySample(options.token, block, nowMs, deps.fetch);
    if (verification === 'OK') note('ok', 'token_verified', 'sample token verifies with this block');
    else note('error', 'token_rejected', `sample token would be denied: ${verification}`);
    if (options.audience !== undefined && !audienceList(token.aud).includes(options.audience))
      note(
        'error',
        'audience_mismatch',
        `token aud ${JSON.stringify(token.aud)} does not include "${options.audience}"`,
      );
  }
  return {
    url,
    issuer,
    jwksUri,
    advertisedAlgorithms: advertised,
    cacheControl: jwks.cacheControl,
    keys,
    ...(token ? { token: verification ? { ...token, verification } : token } : {}),
    findings,
    issuerBlock: block,
    missing,
  };
}

type Note = (severity: Severity, code: string, message: string) => void;

function strings(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;
}

function checkAdvertised(advertised: readonly string[] | undefined, note: Note): void {
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

function checkCacheControl(cacheControl: string | null, note: Note): void {
  const maxAge = parseMaxAge(cacheControl);
  if (maxAge === undefined)
    note('info', 'jwks_no_max_age', 'JWKS has no Cache-Control max-age: claimgate refreshes every min_refresh_seconds');
  else note('ok', 'jwks_max_age', `JWKS Cache-Control max-age=${maxAge} s (clamped into min/max_refresh_seconds)`);
}

/** Each JWK as serve would import it (every algorithm allowed, so the report shows what the key can do). */
function inspectKeys(body: Record<string, unknown>, out: KeyReport[], note: Note): Set<Algorithm> {
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

function decodeSample(token: string, note: Note): SampleTokenReport | undefined {
  const parsed = parseCompactJws(token.trim(), MAX_TOKEN_BYTES);
  if (!parsed.ok) {
    note('error', 'token_unreadable', `sample token is not a signed JWT: ${parsed.reason} (${parsed.problem})`);
    return undefined;
  }
  const { header, claims } = parsed.jws;
  const typ = header.typ;
  if (typ === undefined || !/^(application\/)?at\+jwt$/i.test(typ))
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

function audienceList(aud: unknown): string[] {
  if (typeof aud === 'string') return [aud];
  return strings(aud) ?? [];
}

function audienceOf(aud: unknown): string | undefined {
  const list = audienceList(aud);
  return list.length === 1 ? list[0] : undefined;
}

function chooseAlgorithms(
  tokenAlg: string | undefined,
  keyAlgs: ReadonlySet<Algorithm>,
  advertised: readonly string[] | undefined,
): Algorithm[] {
  if (tokenAlg !== undefined && keyAlgs.has(tokenAlg as Algorithm)) return [tokenAlg as Algorithm];
  const fromKeys = [...keyAlgs];
  const narrowed = advertised ? fromKeys.filter((a) => advertised.includes(a)) : fromKeys;
  return narrowed.length > 0 ? narrowed : fromKeys.length > 0 ? fromKeys : ['RS256'];
}

function shortName(url: URL): string {
  if (/^[\d.]+$|:/.test(url.hostname)) return 'partner';
  const name =
    url.hostname
      .split('.')[0]
      ?.toLowerCase()
      .replace(/[^a-z0-9_.-]/g, '-') ?? 'partner';
  return /^[a-z0-9]/.test(name) ? name.slice(0, 63) : 'partner';
}

function issuerBlock(
  issuer: string,
  url: URL,
  loopback: boolean,
  audience: string | undefined,
  algorithms: Algorithm[],
  token: SampleTokenReport | undefined,
): Record<string, unknown> {
  const legacy = token !== undefined && !(token.typ !== undefined && /^(application\/)?at\+jwt$/i.test(token.typ));
  const roles = token?.shape?.roles?.claim;
  return {
    name: shortName(url),
    issuer,
    audiences: [audience ?? 'REPLACE-WITH-AUDIENCE'],
    algorithms,
    ...(legacy ? { token_type: 'legacy' } : {}),
    ...(roles !== undefined && roles !== 'roles' ? { roles_claim: roles } : {}),
    ...(url.protocol === 'http:' && loopback ? { allow_insecure_http: true } : {}),
  };
}

/** The real verifier, with the real key source, over the proposed block. */
async function verifySample(
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
