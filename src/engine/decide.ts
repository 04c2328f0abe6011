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
import { extractToken, type Extraction } from '../token/extract.js';
import { createCachedVerifier, type TokenCacheResult, type TokenCacheStats } from '../token/token-cache.js';
import { verifyToken, type VerifyResult } from '../token/verify.js';
import { createEnrichers, enrichPrincipal } from '../enrichment/enrich.js';
import type { AuthenticatedToken, IntrospectionResult, LookupDeps } from '../introspection/introspector.js';
import { createOpaqueRouter } from '../introspection/opaque.js';
import { denyDecision } from '../core/answer.js';
import type { ReasonCode } from '../core/reasons.js';
import type { RequirementKind, RequirementResult } from './requirements.js';
import { compareShadow, withShadowMode, type ShadowObserver } from './shadow.js';
import { hasForgedSpelling, hasMethodOverride } from './upstream-reading.js';
import type { AllowDecision, Decision, DenyDecision, RequestView } from '../core/types.js';

/**
 * One step of a decision, as `claimgate explain` prints it. Reported only when a trace is passed to
 * the decider; the request path passes none and pays one undefined check per step.
 */
export type TraceStep =
  | { readonly step: 'metadata' }
  | { readonly step: 'route'; readonly ok: boolean; readonly route?: string; readonly reason?: ReasonCode }
  | {
      readonly step: 'request';
      readonly check: 'header-spellings' | 'method-override' | 'complete';
      readonly ok: boolean;
    }
  | { readonly step: 'public' }
  | { readonly step: 'token'; readonly ok: boolean; readonly carrier?: string; readonly reason?: ReasonCode }
  | {
      readonly step: 'verify';
      /** A JWT verified against its issuer's keys, or an opaque token sent to introspection. */
      readonly via: 'jwt' | 'introspection';
      readonly ok: boolean;
      readonly issuer?: string;
      readonly subject?: string;
      readonly reason?: ReasonCode;
    }
  | { readonly step: 'enrichment'; readonly ok: boolean }
  | { readonly step: 'binding'; readonly ok: boolean; readonly kind: BindingKind; readonly reason?: ReasonCode }
  | { readonly step: 'requirement'; readonly at: string; readonly kind: string; readonly ok: boolean };
export type DecisionTrace = (step: TraceStep) => void;

/**
 * Decides one request. The answer comes at once when nothing had to be waited for (a token-cache hit, any
 * denial before verification), else as a promise: a cached allow costs no promise (docs/benchmarks.md).
 * A decider may also throw or reject; adapters answer that with the error decision (answer-observed.ts).
 */
export type Decide = (view: RequestView, trace?: DecisionTrace) => Decision | Promise<Decision>;

/** A Check that reached its token: what the steps after verification need of it. */
interface TokenCheck {
  readonly view: RequestView;
  readonly trace: DecisionTrace | undefined;
  readonly route: CompiledRoute | undefined;
  readonly routeName: string;
  readonly extraction: Extract<Extraction, { kind: 'token' }>;
}

/** What verifying a token gave: a JWT's verification or an opaque token's introspection. */
type VerifyOutcome = VerifyResult | IntrospectionResult;

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

  // A verified token comes back from the token cache as the same object on every hit, and without a signed
  // upstream identity (a fresh JWT per answer) its allow depends only on that token, the route and the
  // binding: made once and reused, it costs no allocation per Check (docs/benchmarks.md, issue 16).
  const reusableAllows = signer === undefined && enrichers.length === 0;
  const allows = new WeakMap<AuthenticatedToken, AllowDecision>();
  const allow = (route: string, token: AuthenticatedToken | undefined, binding?: BindingKind): Decision => {
    if (token !== undefined && reusableAllows) {
      const made = allows.get(token);
      if (made !== undefined && made.route === route && made.binding === binding) return made;
      const decision = freezeAllow(allowFor(route, token, binding));
      allows.set(token, decision);
      return decision;
    }
    return allowFor(route, token, binding);
  };
  const allowFor = (route: string, token: AuthenticatedToken | undefined, binding?: BindingKind): AllowDecision => {
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

  // A refused token's denial depends only on the reason, the route and the issuer (all from the catalogue
  // and the config, so these maps are bounded by them): made once, frozen and reused, a repeated bad
  // token (a negative-cache hit) costs no allocation here and its answer bytes are written once (server.ts).
  const refusals = new Map<ReasonCode, Map<string, Map<string, DenyDecision>>>();
  const refusedToken = (reason: ReasonCode, route: string, issuer: string): DenyDecision => {
    let byRoute = refusals.get(reason);
    if (byRoute === undefined) refusals.set(reason, (byRoute = new Map<string, Map<string, DenyDecision>>()));
    let byIssuer = byRoute.get(route);
    if (byIssuer === undefined) byRoute.set(route, (byIssuer = new Map<string, DenyDecision>()));
    let decision = byIssuer.get(issuer);
    if (decision === undefined) {
      decision = Object.freeze(deny(reason, { route, issuer: issuer === '' ? undefined : issuer }));
      byIssuer.set(issuer, decision);
    }
    return decision;
  };

  const onShadow = deps.onShadowDisagreement ?? (() => undefined);
  const reasonOfKind = (kind: RequirementKind): ReasonCode => REASON_OF_FAILED[kind];

  const decide = (view: RequestView, trace?: DecisionTrace): Decision | Promise<Decision> => {
    if (metadataAnswer !== undefined && isMetadataRequest(view)) {
      trace?.({ step: 'metadata' });
      return metadataAnswer;
    }
    const match = config.matchRoute(view);
    if (!match.ok) {
      trace?.({ step: 'route', ok: false, reason: match.reason });
      return deny(match.reason);
    }
    trace?.({ step: 'route', ok: true, ...(match.route === undefined ? {} : { route: match.route.name }) });
    // What the upstream would read differently from claimgate is refused on every route, public too (P16).
    const forged = hasForgedSpelling(view.headers, config.headerReadings);
    trace?.({ step: 'request', check: 'header-spellings', ok: !forged });
    if (forged) return deny('ERR_HEADER_NAME_AMBIGUOUS');
    const override = hasMethodOverride(view.headers, view.path, config.headerReadings);
    trace?.({ step: 'request', check: 'method-override', ok: !override });
    if (override) return deny('ERR_METHOD_OVERRIDE');
    const route: CompiledRoute | undefined = match.route;
    if (route === undefined && config.unmatched === 'deny') return deny('ERR_ROUTE_NOT_FOUND');
    const routeName = route?.name ?? '(unmatched)';
    if (route?.public) {
      trace?.({ step: 'public' });
      return allow(routeName, undefined);
    }
    // Lines the adapter could not read reach the upstream too: never decide on the rest of them.
    trace?.({ step: 'request', check: 'complete', ok: view.incomplete !== true });
    if (view.incomplete === true) return deny('ERR_REQUEST_MALFORMED', { route: routeName });

    const extraction = extractToken(view, config.locations);
    if (extraction.kind !== 'token') {
      const reason = extraction.kind === 'none' ? 'ERR_TOKEN_MISSING' : extraction.reason;
      trace?.({ step: 'token', ok: false, reason });
      return deny(reason, { route: routeName });
    }
    trace?.({ step: 'token', ok: true, carrier: extraction.location.header });

    const introspector = opaque?.(extraction.token);
    const via = introspector === undefined ? 'jwt' : 'introspection';
    const verifying =
      introspector === undefined
        ? verify(extraction.token, extraction.location)
        : introspector.introspect(extraction.token, extraction.location);
    const check: TokenCheck = { view, trace, route, routeName, extraction };
    const next = (verified: Awaited<typeof verifying>) => decideVerified(check, via, verified);
    return verifying instanceof Promise ? verifying.then(next) : next(verifying);
  };

  /** The rest of a Check once its token is verified (or refused): enrichment, binding, requirements. */
  const decideVerified = (
    check: TokenCheck,
    via: 'jwt' | 'introspection',
    verified: VerifyOutcome,
  ): Decision | Promise<Decision> => {
    const { trace, routeName } = check;
    if (!verified.ok) {
      trace?.({ step: 'verify', via, ok: false, reason: verified.reason, issuer: verified.issuer?.name });
      return refusedToken(verified.reason, routeName, verified.issuer?.name ?? '');
    }
    const token: AuthenticatedToken = verified.token;
    trace?.({ step: 'verify', via, ok: true, issuer: token.issuer.name, subject: token.subject });
    if (enrichers.length === 0) return decideAuthenticated(check, token);
    return enrichPrincipal(enrichers, token.principal).then((enriched) => {
      trace?.({ step: 'enrichment', ok: enriched !== undefined });
      if (enriched === undefined)
        return deny('ERR_ENRICHMENT_UNAVAILABLE', {
          route: routeName,
          issuer: token.issuer.name,
          subject: token.subject,
        });
      return decideAuthenticated(check, { ...token, principal: enriched });
    });
  };

  /** Binding, requirements and the allow, for an authenticated token. */
  const decideAuthenticated = (check: TokenCheck, token: AuthenticatedToken): Decision => {
    const { view, trace, route, routeName, extraction } = check;
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
    trace?.({ step: 'binding', ok: bound.ok, kind: bound.kind, ...(bound.ok ? {} : { reason: bound.reason }) });
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
      // Only the enforced requirement is traced; a shadow requirement never decides.
      const result =
        route.requirement?.(
          input,
          trace === undefined ? undefined : (at, kind, ok) => trace({ step: 'requirement', at, kind, ok }),
        ) ?? ANY_TOKEN;
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

/** A decision shared by many Checks: nothing downstream may change it for the others. */
function freezeAllow(decision: AllowDecision): AllowDecision {
  for (const header of decision.headersToSet) Object.freeze(header);
  Object.freeze(decision.headersToSet);
  Object.freeze(decision.headersToRemove);
  return Object.freeze(decision);
}
