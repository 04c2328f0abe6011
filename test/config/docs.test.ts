import { readFileSync } from 'node:fs';
import { CONFIG_DESCRIPTIONS } from '../../src/config/descriptions.js';
import { documentedKeys as tableRows, plainDescription } from '../../src/config/doc-table.js';
import { configJsonSchema, walkSchema } from '../../src/config/json-schema.js';

/** Every key path of the published JSON Schema (`issuers[].keys.cooldown_seconds`) with its default. */
function schemaKeys(): Map<string, unknown> {
  const keys = new Map<string, unknown>();
  walkSchema(configJsonSchema(), '', (p, node) => {
    if (!keys.has(p) || keys.get(p) === undefined) keys.set(p, node.default);
  });
  return keys;
}

const markdown = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');

/** Key → Default column of every table row in docs/configuration.md. */
function documentedKeys(): Map<string, string> {
  return new Map([...tableRows(markdown)].map(([key, row]) => [key, row.default]));
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

  it('is the source of the schema descriptions (regenerate: npm run build && node scripts/config-descriptions.mjs)', () => {
    const expected = Object.fromEntries([...tableRows(markdown)].map(([k, row]) => [k, plainDescription(row.meaning)]));
    expect(CONFIG_DESCRIPTIONS).toEqual(expected);
  });

  it('gives every key of the published schema a description (editor hover)', () => {
    const missing: string[] = [];
    walkSchema(configJsonSchema(), '', (p, node) => {
      if (!node.description) missing.push(p);
    });
    expect(missing).toEqual([]);
  });
});
