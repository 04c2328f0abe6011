/**
 * The published JSON Schema of the config (`claimgate schema`), with each key's description from
 * docs/configuration.md so editors show the documentation on hover.
 */
import { z } from 'zod';
import { CONFIG_DESCRIPTIONS } from './descriptions.js';
import { configSchema } from './schema.js';

export interface SchemaNode {
  type?: string;
  description?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
  default?: unknown;
}

/** Calls `visit` with every property node and its key path (`issuers[].keys.cooldown_seconds`). */
export function walkSchema(
  node: SchemaNode | undefined,
  path: string,
  visit: (p: string, n: SchemaNode) => void,
): void {
  if (!node) return;
  node.anyOf?.forEach((n) => walkSchema(n, path, visit));
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    const p = path ? `${path}.${name}` : name;
    visit(p, child);
    walkSchema(child, p, visit);
  }
  if (node.items) walkSchema(node.items, `${path}[]`, visit);
}

export function configJsonSchema(): SchemaNode {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as SchemaNode;
  walkSchema(schema, '', (path, node) => {
    const description = CONFIG_DESCRIPTIONS[path];
    if (description !== undefined) node.description = description;
  });
  return schema;
}
