/**
 * Reads the key tables of docs/configuration.md (`| key | type | default | meaning |`), the one text
 * the schema's descriptions (editor hover, `claimgate schema`) are generated from.
 */

/** One documented key: its type, default and meaning, as written in the table row. */
export interface DocumentedKey {
  readonly type: string;
  readonly default: string;
  readonly meaning: string;
}

/** Splits a table row on `|` that is not escaped as `\|`. */
function cells(line: string): string[] {
  return line
    .slice(1, line.endsWith('|') ? -1 : undefined)
    .split(/(?<!\\)\|/)
    .map((c) => c.trim().replace(/\\\|/g, '|'));
}

/** Key path (`issuers[].keys.cooldown_seconds`) → its row, for every table row naming a key. */
export function documentedKeys(markdown: string): Map<string, DocumentedKey> {
  const rows = new Map<string, DocumentedKey>();
  for (const line of markdown.split('\n')) {
    const m = /^\| `([a-z_.[\]]+)` \|/.exec(line);
    if (!m) continue;
    const [, type = '', def = '', meaning = ''] = cells(line);
    rows.set(m[1]!, { type, default: def, meaning });
  }
  return rows;
}

/** A table cell as hover text: links become their text (the targets are repository paths). */
export function plainDescription(meaning: string): string {
  return meaning.replace(/\[([^\]]+)\]\([^)]*\)/g, '$1');
}
