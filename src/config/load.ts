/**
 * Reading a config file: parse YAML (or JSON, a YAML subset), validate against the schema, and
 * turn every problem into one line naming the exact path and what was expected.
 */
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config } from './schema.js';

/** A config that cannot be used; `problems` lists one `path: message` line per issue. */
export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG_INVALID';
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid config ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Formats a schema path as `issuers[1].audiences`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out === '' ? '(root)' : out;
}

/** Issues that say "this branch is the wrong shape" rather than "this branch's value is wrong". */
function shapeMismatches(branch: readonly z.core.$ZodIssue[]): number {
  return branch.filter(
    (i) => (i.code === 'unrecognized_keys' && i.path.length === 0) || (i.code === 'invalid_type' && i.path.length <= 1 && /received undefined/.test(i.message)),
  ).length;
}

function describeIssue(issue: z.core.$ZodIssue): string[] {
  // A union reports every branch's failure; report the branch whose shape the user evidently meant.
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    const ranked = issue.errors.map((b) => ({ b, score: shapeMismatches(b) })).sort((x, y) => x.score - y.score);
    const best = ranked[0];
    if (best && best.score === 0 && best.b.length > 0 && (ranked[1]?.score ?? 1) > 0) {
      return best.b.flatMap((i) => describeIssue({ ...i, path: [...issue.path, ...i.path] }));
    }
  }
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `${formatPath([...issue.path, k])}: unknown key (not a claimgate setting)`);
  }
  if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) return [`${formatPath(issue.path)}: is required`];
  return [`${formatPath(issue.path)}: ${issue.message}`];
}

/** Validates an already-parsed value; throws ConfigError with every problem found. */
export function validateConfig(raw: unknown, source = 'config'): Config {
  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;
  const problems = [...new Set(result.error.issues.flatMap(describeIssue))];
  throw new ConfigError(source, problems);
}

/** Parses YAML/JSON text; syntax errors and duplicate keys are reported with line numbers. */
export function parseConfigText(text: string, source = 'config'): Config {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(source, doc.errors.map((e) => `syntax: ${e.message.split('\n')[0]}`));
  }
  return validateConfig(doc.toJS({ maxAliasCount: 100 }), source);
}
