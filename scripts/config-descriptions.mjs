// Regenerates src/config/descriptions.ts from docs/configuration.md (run after `npm run build`);
// test/config/docs.test.ts fails when the two differ.
import { readFileSync, writeFileSync } from 'node:fs';
import { documentedKeys, plainDescription } from '../dist/config/doc-table.js';

const root = new URL('..', import.meta.url);
const rows = documentedKeys(readFileSync(new URL('docs/configuration.md', root), 'utf8'));
const entries = [...rows].map(
  ([key, row]) => `  ${JSON.stringify(key)}: ${JSON.stringify(plainDescription(row.meaning))},`,
);
writeFileSync(
  new URL('src/config/descriptions.ts', root),
  `/** Generated from docs/configuration.md by scripts/config-descriptions.mjs; do not edit. */\n` +
    `export const CONFIG_DESCRIPTIONS: Readonly<Record<string, string>> = {\n${entries.join('\n')}\n};\n`,
);
