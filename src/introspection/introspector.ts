/**
 * RFC 7662 token introspection for one issuer: POST the opaque token to the issuer's introspection
 * endpoint (configured, or `introspection_endpoint` from its discovery document) with claimgate's own
 * client authentication, then check the answer like a verified JWT's claims (active, iss, aud, exp,
 * nbf, token type) and read the same principal through the issuer's profile.
 *
 * Each introspector has its own cache, so a cached answer is scoped to this endpoint and client: a
 * token introspected at one issuer is never reused for another. Answers are cached until the token's
 * `exp`, never longer than `max_cache_ttl_seconds`; single-flight per token.
 */
import { createHash } from 'node:crypto';
import type { IssuerConfig } from '../config/schema.js';
import type { ReasonCode } from '../engine/reasons.js';
import { fetchJson } from '../keys/fetch.js';
import { compileClientAuth } from '../lookup/client-auth.js';
import { lookupCacheFor, withDeadline, type LookupCacheResult } from '../lookup/cache.js';
import { exchange, LookupError, reported, type HttpDeps } from '../lookup/http.js';
import type { CompiledLocation } from '../token/extract.js';
import type { Claims } from '../token/parse.js';
import type { CompiledIssuer, VerifiedToken } from '../token/verify.js';
import { introspectionClaims, JWT_RESPONSE_TYPE } from './response.js';

/** What an allow needs of a token, whether verified locally or introspected. */
export type AuthenticatedToken = Pick<
  VerifiedToken,
  'issuer' | 'claims' | 'subject' | 'payloadSegment' | 'principal' | 'location'
>;

export type IntrospectionResult =
  | { readonly ok: true; readonly token: AuthenticatedToken }
  | { readonly ok: false; readonly reason: ReasonCode; readonly issuer?: CompiledIssuer };

export interface LookupDeps extends HttpDeps {
  readonly nowMs: () => number;
  readonly log?: (level: 'warn' | 'error', msg: string, fields: Record<string, unknown>) => void;
  /** One remote call finished (kind, configured name, result code, seconds). */
  readonly onCall?: (kind: string, name: string, result: string, seconds: number) => void;
  readonly onCache?: (kind: string, name: string, result: LookupCacheResult) => void;
}

export interface Introspector {
  readonly issuer: CompiledIssuer;
  introspect(raw: string, location: CompiledLocation): Promise<IntrospectionResult>;
}

type Answer = { readonly active: false } | { readonly active: true; readonly claims: Claims };

type IntrospectionConfig = NonNullable<IssuerConfig['introspection']>;

export function createIntrospector(
  config: IssuerConfig,
  introspection: IntrospectionConfig,
  issuer: CompiledIssuer,
  checkDeadlineMs: number,
  deps: LookupDeps,
): Introspector {
  const auth = compileClientAuth(introspection, `issuers.${config.name}.introspection`);
  const issValues = new Set([config.issuer, ...(config.issuer_aliases ?? [])]);
  const limits = {
    timeoutMs: Math.min(introspection.timeout_ms, checkDeadlineMs),
    maxBytes: config.keys.max_response_bytes,
    allowInsecureHttp: config.allow_insecure_http,
  };
  const jwtCheck = introspection.jwt_response
    ? {
        issuer: config.issuer,
        recipients: new Set([introspection.client_id, ...config.audiences]),
        keys: issuer.keys,
        algorithms: issuer.algorithms,
        keyDeadlineMs: checkDeadlineMs,
      }
    : undefined;
  const cache = lookupCacheFor<Answer>(introspection, 'introspection', config.name, deps);
  const log = deps.log ?? (() => undefined);

  let endpoint: Promise<string> | undefined =
    introspection.endpoint === undefined ? undefined : Promise.resolve(introspection.endpoint);
  const endpointUrl = (): Promise<string> => {
    endpoint ??= discoverEndpoint(config, limits, deps).catch((e: unknown) => {
      endpoint = undefined; // retried by the next Check
      throw e;
    });
    return endpoint;
  };

  const onCall = (result: string, seconds: number) => deps.onCall?.('introspection', config.name, result, seconds);
  const request = async (raw: string): Promise<{ value: Answer; untilMs: number }> => {
    const url = await endpointUrl();
    const form = new URLSearchParams({ token: raw });
    if (introspection.token_type_hint !== false) form.set('token_type_hint', introspection.token_type_hint);
    const headers = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: introspection.jwt_response ? JWT_RESPONSE_TYPE : 'application/json',
      ...auth(form, url, deps.nowMs()),
    };
    const answer = await exchange({ url, method: 'POST', headers, body: form.toString() }, limits, deps);
    if (answer.status === 401 || answer.status === 403)
      throw new LookupError('client_rejected', `introspection endpoint answered ${answer.status}`, answer.status);
    if (answer.status !== 200)
      throw new LookupError('http_status', `introspection endpoint answered ${answer.status}`, answer.status);
    const claims = await introspectionClaims(answer, jwtCheck);
    const maxUntil = deps.nowMs() + introspection.max_cache_ttl_seconds * 1000;
    if (claims.active !== true) return { value: { active: false }, untilMs: maxUntil };
    const exp = typeof claims.exp === 'number' ? claims.exp * 1000 : maxUntil;
    return { value: { active: true, claims }, untilMs: Math.min(exp, maxUntil) };
  };
  const call = (raw: string) =>
    reported(onCall, () => request(raw)).catch((e: unknown) => {
      const error = e instanceof LookupError ? e : new LookupError('bad_body', (e as Error).message);
      if (error.code === 'client_rejected')
        log(
          'error',
          "introspection endpoint rejected claimgate's client credentials: check introspection.client_id, auth_method and the secret or key",
          { issuer: config.name, status: error.status },
        );
      else log('warn', 'introspection failed', { issuer: config.name, problem: error.code, detail: error.message });
      throw error;
    });

  const fail = (reason: ReasonCode): IntrospectionResult => ({ ok: false, reason, issuer });
  const skewMs = config.clock_skew_seconds * 1000;

  return {
    issuer,
    async introspect(raw, location) {
      if (raw.length > issuer.maxTokenBytes) return fail('ERR_TOKEN_TOO_LARGE');
      if (!issuer.locationIds.has(location.id)) return fail('ERR_TOKEN_LOCATION_NOT_ALLOWED');
      let answer: Answer;
      try {
        // Keyed by a digest: the cache's memory is bounded by its entry count, whatever the token sizes.
        const key = createHash('sha256').update(raw).digest('base64url');
        answer = await withDeadline(
          cache.get(key, () => call(raw)),
          checkDeadlineMs,
          deps.setTimer,
        );
      } catch {
        return fail('ERR_INTROSPECTION_UNAVAILABLE');
      }
      if (!answer.active) return fail('ERR_TOKEN_INACTIVE');
      const claims = answer.claims;
      const now = deps.nowMs();
      if (claims.iss !== undefined && !(typeof claims.iss === 'string' && issValues.has(claims.iss)))
        return fail('ERR_ISSUER_NOT_ALLOWED');
      if (claims.exp !== undefined && !(typeof claims.exp === 'number' && now < claims.exp * 1000 + skewMs))
        return fail('ERR_TOKEN_EXPIRED');
      if (claims.nbf !== undefined && !(typeof claims.nbf === 'number' && now + skewMs >= claims.nbf * 1000))
        return fail('ERR_TOKEN_NOT_YET_VALID');
      if (!audienceMatches(claims, issuer, introspection.require_audience)) return fail('ERR_AUDIENCE_MISMATCH');
      // RFC 7662 token_type: a bearer access token only (a DPoP- or otherwise bound token needs its proof).
      if (
        claims.token_type !== undefined &&
        !(typeof claims.token_type === 'string' && /^(bearer|access_token)$/i.test(claims.token_type))
      )
        return fail('ERR_TOKEN_TYPE_INVALID');
      // A sender-constrained token (RFC 8705/9449 `cnf`) is only good with its proof: not as a bearer token.
      if (claims.cnf !== undefined) return fail('ERR_TOKEN_TYPE_INVALID');
      // Client-credentials tokens may carry no `sub`: the client is the subject (as RFC 9068 §2.2 has it).
      const subject = typeof claims.sub === 'string' && claims.sub !== '' ? claims.sub : claims.client_id;
      if (typeof subject !== 'string' || subject === '') return fail('ERR_CLAIMS_INVALID');
      return {
        ok: true,
        token: {
          issuer,
          claims,
          subject,
          payloadSegment: Buffer.from(JSON.stringify(claims)).toString('base64url'),
          principal: issuer.principalOf(claims, subject, undefined),
          location,
        },
      };
    },
  };
}

function audienceMatches(claims: Claims, issuer: CompiledIssuer, required: boolean): boolean {
  const aud = claims.aud;
  if (aud === undefined) return !required;
  const values = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
  return values.some((v) => typeof v === 'string' && issuer.claimPolicy.audiences.has(v));
}

async function discoverEndpoint(
  config: IssuerConfig,
  limits: { timeoutMs: number; maxBytes: number; allowInsecureHttp: boolean },
  deps: LookupDeps,
): Promise<string> {
  const url = `${config.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  let body: Record<string, unknown>;
  try {
    body = (await fetchJson(url, limits, { fetch: deps.fetch, setTimer: deps.setTimer })).body;
  } catch (e) {
    throw new LookupError('network', `discovery failed (${(e as Error).message})`);
  }
  // As for a discovered jwks_uri (keys/egress.ts, P19): the document must be the issuer's own, and a
  // token is only ever sent to the issuer's origin unless the operator configured the endpoint.
  if (body.issuer !== config.issuer) throw new LookupError('bad_body', 'discovery names another issuer');
  const endpoint = body.introspection_endpoint;
  if (typeof endpoint !== 'string') throw new LookupError('bad_body', 'discovery has no introspection_endpoint');
  let origin: string;
  try {
    origin = new URL(endpoint).origin;
  } catch {
    throw new LookupError('bad_body', 'introspection_endpoint is not a URL');
  }
  if (origin !== new URL(config.issuer).origin)
    throw new LookupError(
      'insecure_url',
      "discovered introspection_endpoint is not on the issuer's origin: set introspection.endpoint",
    );
  return endpoint;
}
