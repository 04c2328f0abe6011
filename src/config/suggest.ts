/**
 * "Did you mean": the setting nearest to a misspelled key, from the keys the schema allows at that
 * place in the config (`issuers[0].audience` → `audiences`).
 */
import type { z } from 'zod';

type Def = { type: string; [k: string]: unknown };
const defOf = (schema: unknown): Def => (schema as { _zod: { def: Def } })._zod.def;

/** The object schemas a value at this schema can be (wrappers unwrapped, every union branch). */
function objectsOf(schema: unknown, depth = 0): unknown[] {
  if (depth > 16) return [];
  const def = defOf(schema);
  switch (def.type) {
    case 'object':
      return [schema];
    case 'optional':
    case 'default':
    case 'prefault':
    case 'nullable':
    case 'readonly':
      return objectsOf(def.innerType, depth + 1);
    case 'pipe':
      return objectsOf(def.in, depth + 1);
    case 'lazy':
      return objectsOf((def.getter as () => unknown)(), depth + 1);
    case 'union':
      return (def.options as unknown[]).flatMap((o) => objectsOf(o, depth + 1));
    default:
      return [];
  }
}

/** The schemas a path can lead to (a path through a union may lead to several). */
function schemasAt(schema: unknown, path: readonly PropertyKey[], depth = 0): unknown[] {
  if (path.length === 0 || depth > 64) return [schema];
  const [head, ...rest] = path;
  const def = defOf(schema);
  if (typeof head === 'number') {
    switch (def.type) {
      case 'array':
        return schemasAt(def.element, rest, depth + 1);
      case 'optional':
      case 'default':
      case 'prefault':
      case 'nullable':
      case 'readonly':
        return schemasAt(def.innerType, path, depth + 1);
      case 'pipe':
        return schemasAt(def.in, path, depth + 1);
      case 'lazy':
        return schemasAt((def.getter as () => unknown)(), path, depth + 1);
      case 'union':
        return (def.options as unknown[]).flatMap((o) => schemasAt(o, path, depth + 1));
      default:
        return [];
    }
  }
  return objectsOf(schema).flatMap((o) => {
    const child = (defOf(o).shape as Record<string, unknown>)[String(head)];
    return child === undefined ? [] : schemasAt(child, rest, depth + 1);
  });
}

/** Edit distance (insert, delete, substitute, swap two neighbours). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The allowed key nearest to `key` at `path`, when one is close enough to be a likely typo. */
export function nearestKey(root: z.ZodType, path: readonly PropertyKey[], key: string): string | undefined {
  const allowed = new Set(
    schemasAt(root, path)
      .flatMap((s) => objectsOf(s))
      .flatMap((o) => Object.keys(defOf(o).shape as Record<string, unknown>)),
  );
  const lower = key.toLowerCase().replace(/-/g, '_');
  let best: { key: string; distance: number } | undefined;
  for (const candidate of allowed) {
    const distance = editDistance(lower, candidate);
    if (best === undefined || distance < best.distance) best = { key: candidate, distance };
  }
  // At most a third of the word wrong (and at least one edit allowed): `audience`, `algoritms`, `Issuer`.
  return best !== undefined && best.distance <= Math.max(1, Math.floor(best.key.length / 3)) ? best.key : undefined;
}
