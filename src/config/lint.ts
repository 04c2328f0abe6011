/**
 * Config lint: settings the schema accepts but that silently do something other than what their author
 * most likely meant. Printed by `claimgate check-config` and logged at every load and reload. The
 * unambiguous traps are schema errors instead (schema.ts: a list under `not`, inexact numbers).
 */
import type { Config, RouteConfig } from './schema.js';

/** One `path: message` line per finding, like config errors. */
export function lintConfig(config: Config): string[] {
  const warnings: string[] = [];
  config.routes.forEach((route, i) => {
    const shadow = config.routes.slice(0, i).findIndex((earlier) => covers(earlier, route));
    if (shadow >= 0)
      warnings.push(
        `routes[${i}] (${route.name}): unreachable: routes[${shadow}] (${config.routes[shadow]!.name}) matches every request it could match, and the first matching route decides`,
      );
  });
  return warnings;
}

/** Whether every request `later` matches is matched by `earlier` too (conservative: exact set checks). */
function covers(earlier: RouteConfig, later: RouteConfig): boolean {
  const a = earlier.match;
  const b = later.match;
  if (a.hosts !== undefined && (b.hosts === undefined || !b.hosts.every((h) => a.hosts!.includes(h)))) return false;
  if (a.methods !== undefined && (b.methods === undefined || !b.methods.every((m) => a.methods!.includes(m))))
    return false;
  if (a.path === undefined || ('prefix' in a.path && a.path.prefix === '/')) return true;
  if (b.path === undefined) return false;
  if (a.ignore_case && !b.ignore_case) return pathCovers(a.path, b.path, true);
  if (!a.ignore_case && b.ignore_case) return false;
  return pathCovers(a.path, b.path, a.ignore_case);
}

type PathMatch = NonNullable<RouteConfig['match']['path']>;

function pathCovers(a: PathMatch, b: PathMatch, fold: boolean): boolean {
  const norm = (p: string) => (fold ? p.toLowerCase() : p);
  if ('exact' in a) return 'exact' in b && norm(a.exact) === norm(b.exact);
  if ('prefix' in a) {
    const prefix = norm(a.prefix).replace(/\/+$/, '');
    const other = 'exact' in b ? b.exact : 'prefix' in b ? b.prefix : b.template.split('{')[0]!;
    const o = norm(other);
    // Segment-aware, like the matcher: /admin covers /admin and /admin/…, never /administrator.
    return o === prefix || o.startsWith(`${prefix}/`);
  }
  return 'template' in b && norm(a.template) === norm(b.template);
}
