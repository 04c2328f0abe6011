/**
 * Enrichment: an HTTP lookup keyed by a verified principal's subject, whose answer is mapped into
 * principal fields (roles, permissions, groups) before the route's requirements are evaluated, e.g.
 * a user's roles from Auth0's Management API (`GET /api/v2/users/{id}/roles`, an array of
 * `{id, name, description}`). Answers are cached per issuer-qualified subject for `cache_ttl_seconds`,
 * single-flight, with a bound on calls in flight. A failed lookup is an error answer (503), never a
 * 401: the token is fine, the lookup service is not.
 */
import type { Config } from '../config/schema.js';
import { compileClaimPath } from '../engine/claims.js';
import type { Principal } from '../engine/principal.js';
import { lookupCacheFor, withDeadline } from '../lookup/cache.js';
import { exchange, jsonBody, LookupError, reported } from '../lookup/http.js';
import type { LookupDeps } from '../introspection/introspector.js';
import { createM2mToken } from './client-credentials.js';

type EnrichmentConfig = Config['enrichment'][number];
type ListField = 'roles' | 'permissions' | 'groups';
type Extra = Partial<Record<ListField, readonly string[]>>;

export interface Enricher {
  readonly name: string;
  appliesTo(issuerName: string): boolean;
  /** The principal with the looked-up values added; throws LookupError when the lookup fails. */
  enrich(principal: Principal): Promise<Principal>;
}

export function createEnricher(config: EnrichmentConfig, checkDeadlineMs: number, deps: LookupDeps): Enricher {
  const limits = {
    timeoutMs: Math.min(config.timeout_ms, checkDeadlineMs),
    maxBytes: config.max_response_bytes,
    allowInsecureHttp: config.allow_insecure_http,
  };
  const what = `enrichment.${config.name}`;
  const m2m =
    config.client_credentials === undefined
      ? undefined
      : createM2mToken(config.client_credentials, limits, `${what}.client_credentials`, {
          ...deps,
          onCall: (result, seconds) => deps.onCall?.('m2m_token', config.name, result, seconds),
        });
  const mappings = config.map.map((m) => ({
    field: m.field,
    read: m.path === undefined ? (body: unknown) => body : compileClaimPath(m.path),
    item: m.item,
  }));
  const issuers = config.issuers === undefined ? undefined : new Set(config.issuers);
  const cache = lookupCacheFor<Extra>(config, 'enrichment', config.name, deps);
  const log = deps.log ?? (() => undefined);

  const lookup = async (principal: Principal, retried = false): Promise<Extra> => {
    // URL parsing turns a `.` or `..` segment (encoded or not) into a step up the path: never send those.
    if (principal.subject === '.' || principal.subject === '..')
      throw new LookupError('insecure_url', 'the subject cannot be a URL path segment');
    const url = config.url.replace(/\{subject\}|%7Bsubject%7D/, encodeURIComponent(principal.subject));
    const bearer = m2m === undefined ? undefined : await m2m.get();
    const answer = await exchange(
      {
        url,
        method: 'GET',
        headers: { accept: 'application/json', ...(bearer === undefined ? {} : { authorization: `Bearer ${bearer}` }) },
      },
      limits,
      deps,
    );
    // An expired or revoked M2M token: fetch a fresh one once.
    if (answer.status === 401 && bearer !== undefined && !retried) {
      m2m?.invalidate(bearer);
      return lookup(principal, true);
    }
    // The service does not know this subject: it has nothing to add.
    if (answer.status === 404) return {};
    if (answer.status !== 200) throw new LookupError('http_status', `lookup answered ${answer.status}`, answer.status);
    const body = jsonBody(answer, true);
    const extra: Extra = {};
    for (const m of mappings) extra[m.field] = valuesOf(m.read(body as Record<string, unknown>), m.item);
    return extra;
  };

  const onCall = (result: string, seconds: number) => deps.onCall?.('enrichment', config.name, result, seconds);
  const call = (principal: Principal) =>
    reported(onCall, async () => ({
      value: await lookup(principal),
      untilMs: deps.nowMs() + config.cache_ttl_seconds * 1000,
    })).catch((e: unknown) => {
      const problem = e instanceof LookupError ? e.code : 'error';
      log('warn', 'enrichment lookup failed', { enrichment: config.name, problem, detail: (e as Error).message });
      throw e;
    });

  return {
    name: config.name,
    appliesTo: (issuerName) => issuers === undefined || issuers.has(issuerName),
    async enrich(principal) {
      const extra = await withDeadline(
        cache.get(principal.qualified_subject, () => call(principal)),
        checkDeadlineMs,
        deps.setTimer,
      );
      const merged: Record<string, unknown> = { ...principal };
      for (const field of Object.keys(extra) as ListField[]) merged[field] = union(principal[field], extra[field]!);
      return merged as unknown as Principal;
    },
  };
}

/** Strings of an array (or, with `item`, the `item` member of each object in it); anything else grants nothing. */
function valuesOf(value: unknown, item: string | undefined): readonly string[] {
  if (!Array.isArray(value)) return [];
  const out: string[] = [];
  for (const v of value) {
    const s =
      item === undefined ? v : typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[item] : undefined;
    if (typeof s === 'string' && s !== '' && !out.includes(s)) out.push(s);
  }
  return out;
}

function union(a: readonly string[], b: readonly string[]): readonly string[] {
  if (b.length === 0) return a;
  return [...a, ...b.filter((v) => !a.includes(v))];
}
