/**
 * The `request` variable of CEL conditions, built per request only on routes that have a `cel` node
 * (in `require` or `shadow.require`), so other routes pay nothing.
 */
import type { Requirement, RouteConfig } from '../config/schema.js';
import type { RequestView } from '../engine/types.js';
import { normalizePath } from '../routes/normalize.js';
import type { CelRequest } from './cel.js';

export type CelRequestReader = (view: RequestView) => CelRequest;

/** Undefined when no requirement of the route is a CEL condition. */
export function compileCelRequestReader(route: RouteConfig): CelRequestReader | undefined {
  const headers = new Set<string>();
  let found = false;
  const walk = (req: Requirement | undefined): void => {
    if (req === undefined) return;
    if ('all' in req) req.all.forEach(walk);
    else if ('any' in req) req.any.forEach(walk);
    else if ('not' in req) walk(req.not);
    else if ('cel' in req) {
      found = true;
      if (typeof req.cel !== 'string') for (const h of req.cel.headers ?? []) headers.add(h);
    }
  };
  walk(route.require);
  walk(route.shadow?.require);
  if (!found) return undefined;
  const template = route.match.path !== undefined && 'template' in route.match.path ? route.match.path.template : '';
  const names = template
    .split('/')
    .slice(1)
    .map((s) => (s.startsWith('{') && s.endsWith('}') ? s.slice(1, -1) : undefined));
  const selected = [...headers];
  return (view) => {
    const normalized = normalizePath(view.path);
    const path = normalized.ok ? normalized.path : '';
    const params: Record<string, string> = {};
    if (names.length > 0) {
      const segments = path.split('/').slice(1);
      names.forEach((name, i) => {
        const segment = segments[i];
        if (name !== undefined && segment !== undefined) params[name] = segment;
      });
    }
    const picked: Record<string, string> = {};
    for (const name of selected) {
      const values = view.headers.get(name);
      if (values !== undefined && values.length > 0) picked[name] = values.join(', ');
    }
    return { method: view.method, path, host: view.host, params, headers: picked };
  };
}
