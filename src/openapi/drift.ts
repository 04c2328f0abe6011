/**
 * `routes from-openapi --check CONFIG`: where a config and an OpenAPI document disagree.
 *
 * Each operation is sent, as a sample request (its path with every parameter set to `sample`), through
 * the config's own route matcher, so a prefix route or an earlier route that covers it counts as what
 * it is. The route found must be public exactly when the document makes the operation public, and its
 * requirement must equal, up to order and one-element lists, the one the import would write. Hosts are
 * not compared (the import writes none). A config route no operation reaches is reported too.
 */
import type { Config, Requirement, RouteConfig } from '../config/schema.js';
import { compileRoutes } from '../routes/match.js';
import type { OpenApiDocument } from './document.js';
import { accessOf, routesFromOpenApi, type ImportOptions } from './routes.js';

export function driftBetween(doc: OpenApiDocument, config: Config, options: ImportOptions = {}): string[] {
  const problems: string[] = [];
  const byName = new Map(config.routes.map((r) => [r.name, r]));
  // Hosts are not part of an OpenAPI path: compare paths and methods only.
  const hostless: RouteConfig[] = config.routes.map((r) => ({ ...r, match: { ...r.match, hosts: undefined } }));
  const match = compileRoutes(hostless);
  const reached = new Set<string>();
  const generated = routesFromOpenApi(doc, options);
  generated.routes.forEach((route, i) => {
    const label = generated.origins[i] as string;
    const path = 'exact' in route.match.path ? route.match.path.exact : route.match.path.template;
    const sample = path.replace(/\{[^}]*\}/g, 'sample');
    const found = match({
      method: route.match.methods[0] as string,
      host: 'api.invalid',
      path: sample,
      headers: new Map(),
    });
    const expected = route.public ? 'public' : describe(route.require);
    if (!found.ok || found.route === undefined) {
      if (config.unmatched === 'authenticated' && expected === 'any verified token') return;
      problems.push(
        `${label}: no route in the config (the document wants ${expected}; unmatched requests are ${config.unmatched === 'deny' ? 'denied' : 'allowed for any verified token'})`,
      );
      return;
    }
    reached.add(found.route.name);
    const actualRoute = byName.get(found.route.name) as RouteConfig;
    const actual = actualRoute.public ? 'public' : describe(actualRoute.require);
    if (actual !== expected)
      problems.push(`${label}: route ${found.route.name} wants ${actual}, the document wants ${expected}`);
  });
  // Operations the import leaves out (apiKey, basic, mTLS only) must not be reachable either.
  for (const op of doc.operations) {
    const access = accessOf(op, doc.schemes, options, () => undefined);
    if (access.kind !== 'none') continue;
    for (const base of doc.basePaths) {
      const sample = `${base === '/' ? '' : base}${op.path}`.replace(/\{[^}]*\}/g, 'sample');
      const found = match({ method: op.method.toUpperCase(), host: 'api.invalid', path: sample, headers: new Map() });
      if (found.ok && found.route !== undefined) {
        reached.add(found.route.name);
        problems.push(
          `${op.method.toUpperCase()} ${op.path}: route ${found.route.name} lets bearer tokens in, the document accepts only schemes claimgate does not verify`,
        );
      }
    }
  }
  for (const route of config.routes)
    if (!reached.has(route.name)) problems.push(`route ${route.name}: serves no operation of the document`);
  return problems;
}

function describe(req: Requirement | undefined): string {
  return req === undefined ? 'any verified token' : JSON.stringify(canonical(req));
}

/** Order-insensitive form: lists sorted, one-element lists and one-child all/any unwrapped. */
export function canonical(req: Requirement): unknown {
  if ('all' in req || 'any' in req) {
    const key = 'all' in req ? 'all' : 'any';
    const children = ('all' in req ? req.all : (req as { any: Requirement[] }).any).map(canonical);
    if (children.length === 1) return children[0];
    return {
      [key]: children
        .map((c) => JSON.stringify(c))
        .sort()
        .map((c) => JSON.parse(c) as unknown),
    };
  }
  if ('not' in req) return { not: canonical(req.not) };
  const [key, value] = Object.entries(req)[0] as [string, unknown];
  if (Array.isArray(value)) return { [key]: value.length === 1 ? value[0] : [...(value as string[])].sort() };
  return { [key]: value };
}
