/**
 * The sequencer: one Check, top to bottom. Route (path, then host) → header spellings and method
 * override the upstream would read differently → public? → extract the token (one credential only) → verify it against
 * its issuer → its sender constraint (DPoP proof, client certificate) → evaluate the route's requirements →
 * identity headers. Every branch ends in a Decision;
 * adapters turn it into their protocol's answer.
 */
import type { CompiledConfig } from './compile.js';
import type { BindingKind } from '../core/types.js';
import type { CompiledRoute } from './routes.js';
import { extractToken } from '../token/extract.js';
import { createCachedVerifier, type TokenCacheResult, type TokenCacheStats } from '../token/token-cache.js';
import { verifyToken } from '../token/verify.js';
import { createEnrichers, enrichPrincipal } from '../enrichment/enrich.js';
import type { AuthenticatedToken, LookupDeps } from '../introspection/introspector.js';
import { createOpaqueRouter } from '../introspection/opaque.js';
import { denyDecision } from '../core/answer.js';
import type { ReasonCode } from '../core/reasons.js';
import type { RequirementKind, RequirementResult } from './requirements.js';
import { compareShadow, withShadowMode, type ShadowObserver } from './shadow.js';
import { hasForgedSpelling, hasMethodOverride } from './upstream-reading.js';
import type { Decision, DenyDecision, RequestView } from '../core/types.js';

export type Decide = (view: RequestView) => Promise<Decision>;

/** Each kind of failed requirement has its own 403 code (all with RFC 6750 `insufficient_scope`). */
const REASON_OF_FAILED: Readonly<Record<RequirementKind, ReasonCode>> = {
  scope: 'ERR_INSUFFICIENT_SCOPE',
  role: 'ERR_ROLE_MISSING',
  permission: 'ERR_PERMISSION_MISSING',
  group: 'ERR_GROUP_MISSING',
  tenant: 'ERR_TENANT_NOT_ALLOWED',
  issuer: 'ERR_ISSUER_NOT_PERMITTED',
  claim: 'ERR_CLAIM_CONDITION_FAILED',
  cel: 'ERR_CEL_CONDITION_FAILED',
  not: 'ERR_CLAIM_CONDITION_FAILED',
};

/** A config's decider, with a view of its own token cache (each compiled config has one). */
export type Decider = Decide & { readonly tokenCacheStats: () => TokenCacheStats };

export interface DecideDeps {
  readonly nowMs?: () => number;
  /** Reports each verified-token cache lookup (metrics). */
  readonly onTokenCache?: (result: TokenCacheResult) => void;
  /** Reports each disagreement between a route's `require` and its `shadow.require`. */
  readonly onShadowDisagreement?: ShadowObserver;
  /** Introspection and enrichment calls: fetch, logging and metrics hooks (docs/opaque-tokens.md). */
  readonly lookups?: Omit<LookupDeps, 'nowMs'>;
}

export function createDecider(config: CompiledConfig, deps: DecideDeps = {}): Decider {
  const nowMs = deps.nowMs ?? Date.now;
  const verifierOptions = {
    issuers: config.issuers,
    maxTokenBytes: config.maxTokenBytes,
    nowMs,
    keyDeadlineMs: config.keyDeadlineMs,
  };
  // One cache per compiled config: a reload starts empty, so no entry outlives the config it was verified under.
  const verify = createCachedVerifier(
    (raw, location) => verifyToken(raw, location, verifierOptions),
    {
      maxEntries: config.tokenCache.max_entries,
      maxBytes: config.tokenCache.max_bytes,
      negativeTtlMs: config.tokenCache.negative_ttl_seconds * 1000,
      maxNegativeEntries: config.tokenCache.max_negative_entries,
    },
    nowMs,
    deps.onTokenCache,
  );

  const lookupDeps: LookupDeps = { ...deps.lookups, nowMs };
  const opaque = createOpaqueRouter(config, lookupDeps);
  const enrichers = createEnrichers(config, lookupDeps);
  const signer = config.upstreamIdentity;

  const metadata = config.resourceMetadata;
  const deny = (reason: ReasonCode, extra: Partial<DenyDecision> = {}, scopes: readonly string[] = []): DenyDecision =>
    denyDecision(reason, config.realm, scopes, extra, metadata?.url);
  const metadataAnswer: DenyDecision | undefined =
    metadata === undefined
      ? undefined
      : Object.freeze({
          ...denyDecision('OK_RESOURCE_METADATA'),
          document: { contentType: 'application/json', body: metadata.body },
          headersToRemove: config.publicRouteRemovals,
        });
  const isMetadataRequest = (view: RequestView): boolean => {
    if (metadata === undefined || (view.method !== 'GET' && view.method !== 'HEAD')) return false;
    const q = view.path.indexOf('?');
    return (q === -1 ? view.path : view.path.slice(0, q)) === metadata.path;
  };

  const allow = (route: string, token: AuthenticatedToken | undefined, binding?: BindingKind): Decision => {
    if (token === undefined) {
      return {
        outcome: 'allow',
        reason: 'OK_PUBLIC_ROUTE',
        route,
        headersToSet: [],
        headersToRemove: config.publicRouteRemovals,
      };
    }
    const headers = config.identity.build(token.claims, token.location.header, token.payloadSegment, token.principal);
    if (signer !== undefined) {
      const jwt = signer.sign(token.principal, nowMs());
      // Like every identity header: a value too long to forward is removed, never truncated (P13).
      if (jwt.length <= config.source.upstream.max_header_bytes) headers.set.push({ name: signer.header, value: jwt });
      else headers.remove.push(signer.header);
    }
    return {
      outcome: 'allow',
      reason: 'OK_AUTHENTICATED',
      route,
      issuer: token.issuer.name,
      subject: token.subject,
      headersToSet: headers.set,
      headersToRemove: headers.remove,
      ...(binding === undefined ? {} : { binding }),
    };
  };

  const onShadow = deps.onShadowDisagreement ?? (() => undefined);
  const reasonOfKind = (kind: RequirementKind): ReasonCode => REASON_OF_FAILED[kind];

  const decide = async (view: RequestView): Promise<Decision> => {
    if (metadataAnswer !== undefined && isMetadataRequest(view)) return metadataAnswer;
    const match = config.matchRoute(view);
    if (!match.ok) return deny(match.reason);
    // What the upstream would read differently from claimgate is refused on every route, public too (P16).
    if (hasForgedSpelling(view.headers, config.headerReadings)) return deny('ERR_HEADER_NAME_AMBIGUOUS');
    if (hasMethodOverride(view.headers, view.path)) return deny('ERR_METHOD_OVERRIDE');
    const route: CompiledRoute | undefined = match.route;
    if (route === undefined && config.unmatched === 'deny') return deny('ERR_ROUTE_NOT_FOUND');
    const routeName = route?.name ?? '(unmatched)';
    if (route?.public) return allow(routeName, undefined);
    // Lines the adapter could not read reach the upstream too: never decide on the rest of them.
    if (view.incomplete === true) return deny('ERR_REQUEST_MALFORMED', { route: routeName });

    const extraction = extractToken(view, config.locations);
    if (extraction.kind === 'none') return deny('ERR_TOKEN_MISSING', { route: routeName });
    if (extraction.kind === 'error') return deny(extraction.reason, { route: routeName });

    const introspector = opaque?.(extraction.token);
    const verified =
      introspector === undefined
        ? await verify(extraction.token, extraction.location)
        : await introspector.introspect(extraction.token, extraction.location);
    if (!verified.ok) return deny(verified.reason, { route: routeName, issuer: verified.issuer?.name });
    let token: AuthenticatedToken = verified.token;
    if (enrichers.length > 0) {
      const enriched = await enrichPrincipal(enrichers, token.principal);
      if (enriched === undefined)
        return deny('ERR_ENRICHMENT_UNAVAILABLE', {
          route: routeName,
          issuer: token.issuer.name,
          subject: token.subject,
        });
      token = { ...token, principal: enriched };
    }

    // Sender constraint (docs/binding.md): a bound token must come with proof of its key or certificate.
    const bound = config.binding.check({
      view,
      rawToken: extraction.token,
      location: extraction.location,
      claims: token.claims,
      issuerName: token.issuer.name,
      routeName: route?.name,
      nowMs: nowMs(),
    });
    if (!bound.ok) {
      return deny(bound.reason, {
        route: routeName,
        issuer: token.issuer.name,
        subject: token.subject,
        binding: bound.kind,
        ...(bound.challenge === undefined ? {} : { challenge: bound.challenge }),
        ...(bound.headers === undefined ? {} : { responseHeaders: bound.headers }),
      });
    }

    if (route?.requirement !== undefined || route?.shadow !== undefined) {
      const input = {
        claims: token.claims,
        issuer: token.issuer.name,
        principal: token.principal,
        request: route.celRequest?.(view),
      };
      const result = route.requirement?.(input) ?? ANY_TOKEN;
      if (route.shadow !== undefined)
        compareShadow(routeName, token.issuer.name, result, route.shadow(input), reasonOfKind, onShadow);
      if (!result.ok) {
        return deny(
          REASON_OF_FAILED[result.failed.kind],
          { route: routeName, issuer: token.issuer.name, subject: token.subject, requirement: result.failed.at },
          result.missingScopes,
        );
      }
    }
    return allow(routeName, token, bound.kind);
  };
  const answer = config.shadowMode ? withShadowMode(decide, config) : decide;
  return Object.assign(answer, { tokenCacheStats: verify.stats });
}

const ANY_TOKEN: RequirementResult = Object.freeze({ ok: true });
