/**
 * `claimgate issuer inspect`: fetch a partner's discovery document and JWKS live, check them the way
 * `serve` would, optionally verify a sample token with the real verifier, and propose an issuer block.
 * Every fetch, key check and token check is the serving code's own (keys/*, token/*); this module only
 * collects what they say into findings a person can act on.
 */
import { DiscoveryError, discoveryUrl, jwksUriFromDiscovery } from '../keys/discovery.js';
import { fetchJson, type FetchedJson } from '../keys/fetch.js';
import { strings, type Finding, type Severity } from './findings.js';
import { chooseAlgorithms, issuerBlock } from './issuer-block.js';
import { checkAdvertised, checkCacheControl, inspectKeys, type KeyReport } from './published-keys.js';
import { audienceList, audienceOf, decodeSample, verifySample, type SampleTokenReport } from './sample-token.js';
import { describeFetchError, isLoopbackUrl } from './urls.js';

export type { Finding, Severity } from './findings.js';
export type { KeyReport } from './published-keys.js';
export type { SampleTokenReport } from './sample-token.js';

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

/** Largest discovery or JWKS body read: serve's default `keys.max_response_bytes`. */
const MAX_BYTES = 512 * 1024;

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
