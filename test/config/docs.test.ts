import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { configSchema } from '../../src/config/schema.js';

interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
  default?: unknown;
}

/** Every key path of the published JSON Schema (`issuers[].keys.cooldown_seconds`) with its default. */
function schemaKeys(): Map<string, unknown> {
  const keys = new Map<string, unknown>();
  const walk = (node: SchemaNode | undefined, path: string): void => {
    if (!node) return;
    node.anyOf?.forEach((n) => walk(n, path));
    for (const [name, child] of Object.entries(node.properties ?? {})) {
      const p = path ? `${path}.${name}` : name;
      if (!keys.has(p) || keys.get(p) === undefined) keys.set(p, child.default);
      walk(child, p);
    }
    if (node.items) walk(node.items, `${path}[]`);
  };
  walk(z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as SchemaNode, '');
  return keys;
}

/** Key → Default column of every table row in docs/configuration.md. */
function documentedKeys(): Map<string, string> {
  const text = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  const rows = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\| `([a-z_.[\]]+)` \| (?:[^|\\]|\\\|)+ \| ([^|]+) \|/.exec(line);
    if (m) rows.set(m[1]!, m[2]!.trim());
  }
  return rows;
}

describe('docs/configuration.md', () => {
  const schema = schemaKeys();
  const docs = documentedKeys();

  it('documents every key of the schema', () => {
    expect([...schema.keys()].filter((k) => !docs.has(k))).toEqual([]);
  });

  it('documents no key the schema does not have', () => {
    expect([...docs.keys()].filter((k) => !schema.has(k))).toEqual([]);
  });

  it('states the same default as the schema for every scalar or list default', () => {
    for (const [key, value] of schema) {
      if (value === undefined || (typeof value === 'object' && !Array.isArray(value))) continue;
      const expected = typeof value === 'string' ? value : JSON.stringify(value);
      expect([key, docs.get(key)]).toEqual([key, `\`${expected}\``]);
    }
  });
});
