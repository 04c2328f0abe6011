/**
 * The route table, compiled once from the config into ordered matchers; first match wins.
 *
 * Per request the path is normalized once (normalize.ts) and lower-cased at most once (only if some
 * route uses `ignore_case`); each route then checks method, host and path against prebuilt sets and
 * strings. The match results themselves are preallocated. Rules (docs/routing.md, "Matching"):
 * - hosts: exact, case-insensitive; `*.example.com` matches any subdomain at any depth but not
 *   `example.com` itself. One trailing dot on the request host is ignored (`api.example.com.` is
 *   `api.example.com` in DNS; otherwise it would slip past a host-specific route).
 * - methods: set membership; HEAD is not implied by GET.
 * - path `exact`: the path with or without one trailing slash. `prefix`: segment-aware, `/admin` and
 *   `/admin/` both match `/admin`, `/admin/` and `/admin/x`, never `/administrator`. `template`: each
 *   `{name}` matches one non-empty segment, literals exactly, optional trailing slash.
 * - Config paths go through the same normalizer as request paths, so `/caf%C3%A9` and `/café` in the
 *   config are the same route, and a config path the normalizer refuses is a startup error.
 * - An invalid request path is `ERR_PATH_INVALID` whatever the routes are; then an authority that is not
 *   one host[:port] is `ERR_HOST_INVALID` (so a host-scoped route cannot be skipped by `host:1:2`).
 * - When some route uses `ignore_case`, a path with a character that another router's case folding
 *   could map onto ASCII (`İ`, `ı`, `ſ`, Kelvin `K`, `ß`, `ﬁ`, …; case-fold.ts) is `ERR_PATH_INVALID`.
 */
import type { RouteConfig } from '../config/schema.js';
import type { RequestView } from '../engine/types.js';
import { compileRequirement, type RequirementContext, type RequirementEvaluator } from '../engine/requirements.js';
import { compileCelRequestReader, type CelRequestReader } from '../policy/cel-request.js';
import { hasAmbiguousFolding } from './case-fold.js';
import { normalizePath } from './normalize.js';

/** A route as the decision engine uses it. */
export interface CompiledRoute {
  readonly name: string;
  /** No token needed. */
  readonly public: boolean;
  /** The compiled `require:` tree; undefined means any verified token. */
  readonly requirement: RequirementEvaluator | undefined;
  /** The candidate `shadow.require`: evaluated beside `requirement`, never enforced (policy/shadow.ts). */
  readonly shadow?: RequirementEvaluator;
  /** Builds the `request` variable of the route's CEL conditions; undefined when it has none. */
  readonly celRequest?: CelRequestReader;
}

export type RouteMatch =
  | { readonly ok: true; readonly route: CompiledRoute }
  | { readonly ok: true; readonly route: undefined }
  | { readonly ok: false; readonly reason: 'ERR_PATH_INVALID' | 'ERR_HOST_INVALID' };

/** Finds the route for a request. Never throws; allocates only inside path normalization. */
export type RouteMatcher = (view: RequestView) => RouteMatch;

const NO_ROUTE: RouteMatch = Object.freeze({ ok: true, route: undefined });
const PATH_INVALID: RouteMatch = Object.freeze({ ok: false, reason: 'ERR_PATH_INVALID' });
const HOST_INVALID: RouteMatch = Object.freeze({ ok: false, reason: 'ERR_HOST_INVALID' });

type PathTest = (path: string) => boolean;
type HostTest = (host: string) => boolean;

interface RouteMatcherEntry {
  readonly methods: ReadonlySet<string> | undefined;
  readonly host: HostTest | undefined;
  readonly path: PathTest | undefined;
  readonly ignoreCase: boolean;
  readonly result: RouteMatch;
}

/**
 * Compiles the ordered route list. Throws on a config path the normalizer refuses (startup error).
 */
export function compileRoutes(routes: readonly RouteConfig[], ctx: RequirementContext = {}): RouteMatcher {
  const entries = routes.map((route) => compileEntry(route, ctx));
  const anyIgnoreCase = entries.some((e) => e.ignoreCase);
  return (view) => {
    const normalized = normalizePath(view.path);
    if (!normalized.ok) return PATH_INVALID;
    if (view.hostInvalid === true) return HOST_INVALID;
    const path = normalized.path;
    if (anyIgnoreCase && hasAmbiguousFolding(path)) return PATH_INVALID;
    let lowerPath: string | undefined; // computed at most once, only if an ignore_case route gets that far
    const host = withoutTrailingDot(view.host);
    for (const entry of entries) {
      if (entry.methods !== undefined && !entry.methods.has(view.method)) continue;
      if (entry.host !== undefined && !entry.host(host)) continue;
      if (entry.path !== undefined && !entry.path(entry.ignoreCase ? (lowerPath ??= path.toLowerCase()) : path))
        continue;
      return entry.result;
    }
    return NO_ROUTE;
  };
}

function compileEntry(route: RouteConfig, ctx: RequirementContext): RouteMatcherEntry {
  const compiled: CompiledRoute = Object.freeze({
    name: route.name,
    public: route.public,
    requirement: route.require === undefined ? undefined : compileRequirement(route.require, ctx),
    shadow: route.shadow === undefined ? undefined : compileRequirement(route.shadow.require, ctx),
    celRequest: compileCelRequestReader(route),
  });
  const { hosts, methods, path, ignore_case: ignoreCase } = route.match;
  return {
    methods: methods === undefined ? undefined : new Set(methods),
    host: hosts === undefined ? undefined : compileHosts(hosts),
    path: path === undefined ? undefined : compilePath(path, ignoreCase, route.name),
    ignoreCase,
    result: Object.freeze({ ok: true, route: compiled }),
  };
}

function withoutTrailingDot(host: string): string {
  return host.length > 1 && host.charCodeAt(host.length - 1) === 0x2e ? host.slice(0, -1) : host;
}

// ---- hosts -------------------------------------------------------------------------------------

/** Exact names in a set, wildcards as `.domain` suffixes. */
export function compileHosts(hosts: readonly string[]): HostTest {
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const h of hosts) {
    const host = withoutTrailingDot(h.toLowerCase());
    if (host.startsWith('*.')) suffixes.push(host.slice(1));
    else exact.add(host);
  }
  return (host) => {
    if (exact.has(host)) return true;
    for (const suffix of suffixes) {
      if (host.length > suffix.length && host.endsWith(suffix)) return true;
    }
    return false;
  };
}

// ---- paths -------------------------------------------------------------------------------------

type PathMatchConfig = NonNullable<RouteConfig['match']['path']>;

/** Compiles one path condition; the config side is normalized (and lower-cased) here, once. */
export function compilePath(match: PathMatchConfig, ignoreCase: boolean, routeName = '?'): PathTest {
  const configured = 'exact' in match ? match.exact : 'prefix' in match ? match.prefix : match.template;
  const normalized = normalizePath(configured);
  if (!normalized.ok || configured.includes('?') || configured.includes('#')) {
    throw new Error(`route ${routeName}: path ${JSON.stringify(configured)} is not a valid normalized path`);
  }
  const folded = ignoreCase ? normalized.path.toLowerCase() : normalized.path;
  const base = withoutTrailingSlash(folded);
  if ('exact' in match) return exactTest(base);
  if ('prefix' in match) return prefixTest(base);
  return templateTest(base);
}

function withoutTrailingSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

function exactTest(base: string): PathTest {
  if (base === '/') return (p) => p === '/';
  const withSlashLength = base.length + 1;
  return (p) => p === base || (p.length === withSlashLength && p.endsWith('/') && p.startsWith(base));
}

/** Segment-aware: `/admin` covers `/admin`, `/admin/…`, not `/administrator`. */
function prefixTest(base: string): PathTest {
  if (base === '/') return () => true;
  return (p) => p.startsWith(base) && (p.length === base.length || p.charCodeAt(base.length) === 0x2f);
}

/** A template segment: a literal, or `undefined` for a `{name}` placeholder. */
type TemplateSegment = string | undefined;

function templateTest(base: string): PathTest {
  if (base === '/') return (p) => p === '/';
  const segments: readonly TemplateSegment[] = base
    .slice(1)
    .split('/')
    .map((s) => (s.startsWith('{') && s.endsWith('}') ? undefined : s));
  return (p) => {
    // Walk the normalized path segment by segment, without splitting it.
    let start = 1;
    for (const literal of segments) {
      if (start > p.length) return false;
      let end = p.indexOf('/', start);
      if (end < 0) end = p.length;
      const length = end - start;
      if (length === 0) return false;
      if (literal !== undefined && (length !== literal.length || !p.startsWith(literal, start))) return false;
      start = end + 1;
    }
    // Consumed everything, or everything but one trailing slash.
    return start >= p.length;
  };
}
