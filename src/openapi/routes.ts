/**
 * OpenAPI operations → claimgate routes (docs/policy.md, "Routes from OpenAPI").
 *
 * - One route per operation and server base path: `methods: [METHOD]`, path `exact`, or `template`
 *   when it has `{parameters}` (names outside `[A-Za-z0-9_]` become `_`; a parameter inside a segment,
 *   `/files/{name}.json`, widens to the whole segment, with a warning).
 * - Routes are ordered so a concrete path comes before a templated one where they overlap
 *   (`/orders/mine` before `/orders/{id}`), as OpenAPI matches them; claimgate's first match wins.
 * - Security: the list's entries are alternatives (`any`); within one entry every scheme holds, which
 *   for one bearer token means the union of their scopes. OAuth2 / OpenID Connect list scopes
 *   (`scope`); OpenAPI 3.1 lets other schemes list role names (`role`). An `http bearer` scheme or a
 *   scheme with no scopes asks for any verified token. `security: []`, an empty entry `{}` among the
 *   alternatives, or no security anywhere makes the route public.
 * - apiKey, http basic/digest and mutualTLS are not bearer JWTs: an alternative that needs one is
 *   left out with a warning (claimgate refusing it is the safe side); an operation left with no
 *   alternative gets no route, and the default `unmatched: deny` refuses it.
 * - `--issuer NAME` adds `issuer: NAME` to every requirement.
 */
import type { Requirement } from '../config/schema.js';
import type { OpenApiDocument, Operation, SecurityRequirement, SecurityScheme } from './document.js';

/** A route as written in a config file. */
export interface GeneratedRoute {
  name: string;
  match: { methods: string[]; path: { exact: string } | { template: string } };
  public?: true;
  require?: Requirement;
}

export interface ImportResult {
  readonly routes: GeneratedRoute[];
  /** `METHOD path` and the operation id of each route, same order (comments in the YAML). */
  readonly origins: string[];
  readonly warnings: string[];
}

export interface ImportOptions {
  readonly issuer?: string;
}

/** What an operation asks for, before it becomes a route. */
type Access = { kind: 'public' } | { kind: 'token'; require: Requirement | undefined } | { kind: 'none' };

export function routesFromOpenApi(doc: OpenApiDocument, options: ImportOptions = {}): ImportResult {
  const warnings: string[] = [];
  const entries: { route: GeneratedRoute; origin: string; sortKey: string[] }[] = [];
  const names = new Set<string>();
  for (const base of doc.basePaths) {
    for (const op of doc.operations) {
      const label = `${op.method.toUpperCase()} ${op.path}`;
      const access = accessOf(op, doc.schemes, options, (w) => warnings.push(`${label}: ${w}`));
      if (access.kind === 'none') {
        warnings.push(`${label}: no alternative claimgate can verify; no route (unmatched: deny refuses it)`);
        continue;
      }
      const { path, template } = joinPath(base, op.path, (w) => warnings.push(`${label}: ${w}`));
      const route: GeneratedRoute = {
        name: uniqueName(routeName(op, doc.basePaths.length > 1 ? base : '/'), names),
        match: { methods: [op.method.toUpperCase()], path: template ? { template: path } : { exact: path } },
      };
      if (access.kind === 'public') route.public = true;
      else if (access.require !== undefined) route.require = access.require;
      entries.push({
        route,
        origin: `${label}${op.operationId ? ` (${op.operationId})` : ''}`,
        sortKey: path.split('/'),
      });
    }
  }
  // Stable sort by path: concrete segments before placeholders; one path's methods keep document order.
  entries.sort((a, b) => compareSegments(a.sortKey, b.sortKey));
  return { routes: entries.map((e) => e.route), origins: entries.map((e) => e.origin), warnings };
}

/** The access an operation's effective security asks for, as one requirement. */
export function accessOf(
  op: Operation,
  schemes: ReadonlyMap<string, SecurityScheme>,
  options: ImportOptions,
  warn: (message: string) => void,
): Access {
  const alternatives = op.security;
  if (alternatives === undefined || alternatives.length === 0) return { kind: 'public' };
  if (alternatives.some((alt) => Object.keys(alt).length === 0)) return { kind: 'public' };
  const requirements: (Requirement | undefined)[] = [];
  for (const alt of alternatives) {
    const req = requirementOf(alt, schemes, warn);
    if (req === null) continue;
    if (req === undefined) {
      // Any verified token satisfies this alternative, so the others add nothing.
      requirements.length = 0;
      requirements.push(undefined);
      break;
    }
    if (!requirements.some((r) => JSON.stringify(r) === JSON.stringify(req))) requirements.push(req);
  }
  if (requirements.length === 0) return { kind: 'none' };
  const combined =
    requirements.length === 1 ? requirements[0] : { any: requirements.filter((r): r is Requirement => !!r) };
  return { kind: 'token', require: withIssuer(combined, options.issuer) };
}

/** One alternative: `undefined` = any verified token, `null` = claimgate cannot verify it. */
function requirementOf(
  alt: SecurityRequirement,
  schemes: ReadonlyMap<string, SecurityScheme>,
  warn: (message: string) => void,
): Requirement | undefined | null {
  const scopes: string[] = [];
  const roles: string[] = [];
  for (const [name, listed] of Object.entries(alt)) {
    const scheme = schemes.get(name) as SecurityScheme;
    if (scheme.type === 'oauth2' || scheme.type === 'openIdConnect') {
      for (const s of listed) if (!scopes.includes(s)) scopes.push(s);
    } else if (scheme.type === 'http' && scheme.scheme === 'bearer') {
      for (const r of listed) if (!roles.includes(r)) roles.push(r);
    } else {
      warn(`alternative with scheme "${name}" (${scheme.type}${scheme.scheme ? ` ${scheme.scheme}` : ''}) left out`);
      return null;
    }
  }
  const parts: Requirement[] = [];
  if (scopes.length > 0) parts.push({ scope: scopes.length === 1 ? (scopes[0] as string) : scopes });
  if (roles.length > 0) parts.push({ role: roles.length === 1 ? (roles[0] as string) : roles });
  if (parts.length === 0) return undefined;
  return parts.length === 1 ? parts[0] : { all: parts };
}

function withIssuer(req: Requirement | undefined, issuer: string | undefined): Requirement | undefined {
  if (issuer === undefined) return req;
  if (req === undefined) return { issuer };
  if ('all' in req) return { all: [{ issuer }, ...req.all] };
  return { all: [{ issuer }, req] };
}

/** Base path + document path; placeholders become whole-segment `{name}` templates. */
function joinPath(base: string, path: string, warn: (message: string) => void): { path: string; template: boolean } {
  const joined = `${base === '/' ? '' : base}${path}`;
  let template = false;
  const segments = joined.split('/').map((segment) => {
    if (!segment.includes('{')) return segment;
    template = true;
    const names = [...segment.matchAll(/\{([^}]*)\}/g)].map((m) => m[1] as string);
    const whole = /^\{[^}]*\}$/.test(segment);
    if (!whole || names.length !== 1)
      warn(`segment "${segment}" has a parameter inside it; the route matches the whole segment`);
    return `{${sanitizeParam(names.join('_'))}}`;
  });
  return { path: segments.join('/') || '/', template };
}

function sanitizeParam(name: string): string {
  const clean = name.replace(/[^A-Za-z0-9_]/g, '_');
  return /^[A-Za-z_]/.test(clean) ? clean : `_${clean}`;
}

function routeName(op: Operation, base: string): string {
  const raw =
    op.operationId ??
    `${op.method}${op.path.replace(/[{}]/g, '').replace(/\//g, '-')}`.replace(/-+$/, '').replace(/-+/g, '-');
  const prefix = base === '/' ? '' : `${base.slice(1).replace(/\//g, '-')}.`;
  let name = `${prefix}${raw}`.replace(/[^A-Za-z0-9_.:-]/g, '-');
  if (!/^[A-Za-z0-9]/.test(name)) name = `op${name}`;
  return name.slice(0, 60);
}

function uniqueName(name: string, taken: Set<string>): string {
  let candidate = name;
  for (let i = 2; taken.has(candidate); i++) candidate = `${name}-${i}`;
  taken.add(candidate);
  return candidate;
}

/** A total order: segment by segment, a literal before a placeholder, literals alphabetically. */
function compareSegments(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const [sa, sb] = [a[i] as string, b[i] as string];
    const [pa, pb] = [sa.startsWith('{'), sb.startsWith('{')];
    if (pa !== pb) return pa ? 1 : -1;
    if (!pa && sa !== sb) return sa < sb ? -1 : 1;
  }
  return a.length - b.length;
}
