/**
 * Reading a config file: parse YAML (or JSON, a YAML subset), validate against the schema, and
 * turn every problem into one line naming the exact path and what was expected.
 */
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { compileProblems, tlsProblems } from './compile-checks.js';
import { crossCheck, type PathProblem } from '../config/cross-checks.js';
import { lintConfig } from '../config/lint.js';
import { configSchema, type Config } from '../config/schema.js';
import { nearestKey } from '../config/suggest.js';

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
    (i) =>
      (i.code === 'unrecognized_keys' && i.path.length === 0) ||
      (i.code === 'invalid_type' && i.path.length <= 1 && /received undefined/.test(i.message)),
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
    return issue.keys.map((k) => {
      const near = nearestKey(configSchema, issue.path, k);
      return `${formatPath([...issue.path, k])}: unknown key (${near === undefined ? 'not a claimgate setting' : `did you mean "${near}"?`})`;
    });
  }
  if (issue.code === 'invalid_type' && /received undefined/.test(issue.message))
    return [`${formatPath(issue.path)}: is required`];
  return [`${formatPath(issue.path)}: ${issue.message}`];
}

/**
 * The outcome of the validation pipeline: problems stop a config (serve refuses it, a reload keeps the
 * previous one, check-config exits 1); warnings are printed and logged but the config is used.
 */
export interface ConfigCheck {
  readonly config: Config | undefined;
  readonly problems: readonly string[];
  readonly warnings: readonly string[];
}

const lineOf = (p: PathProblem) => `${formatPath(p.path)}: ${p.message}`;

/**
 * The one validation pipeline serve, a reload and check-config run: schema, then the checks across
 * parts (on every part that validated, even when others did not), then compiling as serve does and
 * reading the TLS files; a usable config is then linted for warnings (lint.ts). Never throws.
 */
export function checkConfigValue(raw: unknown): ConfigCheck {
  let result: ReturnType<typeof configSchema.safeParse>;
  let cross: PathProblem[];
  let tls: ReturnType<typeof configSchema.shape.tls.safeParse>;
  try {
    result = configSchema.safeParse(raw);
    cross = crossCheck(raw, result.success ? result.data : undefined);
    // The TLS files are read whenever the tls block itself is valid, whatever else is wrong.
    tls = configSchema.shape.tls.safeParse(
      raw !== null && typeof raw === 'object' ? (raw as { tls?: unknown }).tls : undefined,
    );
  } catch (error) {
    // A value no YAML or JSON document produces (a throwing getter, a proxy, a cycle): still a config problem.
    return {
      config: undefined,
      problems: [`(root): cannot be validated (${error instanceof Error ? error.message : String(error)})`],
      warnings: [],
    };
  }
  const schemaProblems = result.success ? [] : result.error.issues.flatMap(describeIssue);
  const compiled = result.success && cross.length === 0 ? compileProblems(result.data) : [];
  const files = tls.success && tls.data !== undefined ? tlsProblems(tls.data) : [];
  const problems = [
    ...new Set([...schemaProblems, ...cross.map(lineOf), ...compiled.map(lineOf), ...files.map(lineOf)]),
  ];
  const config = problems.length === 0 && result.success ? result.data : undefined;
  return { config, problems, warnings: config === undefined ? [] : lintConfig(config) };
}

/** Validates an already-parsed value; throws ConfigError with every problem found (and nothing else). */
export function validateConfig(raw: unknown, source = 'config'): Config {
  const checked = checkConfigValue(raw);
  if (checked.config === undefined) throw new ConfigError(source, checked.problems);
  return checked.config;
}

/**
 * Deepest nesting a config file may have, counted as the column its content starts at (block
 * indentation, `- ` and `? ` indicators included) and as open `[` / `{` flow collections. Real configs
 * stay far below; the YAML parser recurses per level and, close to the stack limit, V8 can abort
 * the whole process (a fatal error, not an exception), so the text is measured before it is parsed.
 */
export const MAX_CONFIG_INDENT = 256;
export const MAX_CONFIG_FLOW_DEPTH = 64;

/** A line number and problem when the text nests deeper than the parser should be asked to go. */
function nestingProblem(text: string): string | undefined {
  let flow = 0;
  let quote: '"' | "'" | undefined;
  let line = 1;
  let lineStart = true;
  let column = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      lineStart = true;
      column = 0;
      continue;
    }
    if (lineStart && quote === undefined) {
      // Leading spaces and block indicators ("- ", "? ", ": ") all push the content to the right.
      if (c === ' ' || ((c === '-' || c === '?' || c === ':') && (text[i + 1] === ' ' || text[i + 1] === '\n'))) {
        if (++column > MAX_CONFIG_INDENT)
          return `syntax: line ${line}: nested too deeply (content starts past column ${MAX_CONFIG_INDENT})`;
        continue;
      }
      lineStart = false;
    }
    if (quote !== undefined) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    const prev = i === 0 ? '\n' : text[i - 1]!;
    const atTokenStart =
      prev === ' ' || prev === '\t' || prev === '\n' || prev === '[' || prev === '{' || prev === ',' || prev === ':';
    if ((c === '"' || c === "'") && atTokenStart) quote = c;
    else if (c === '#' && atTokenStart) {
      const end = text.indexOf('\n', i);
      i = (end === -1 ? text.length : end) - 1;
    } else if (c === '[' || c === '{') {
      if (++flow > MAX_CONFIG_FLOW_DEPTH)
        return `syntax: line ${line}: nested too deeply (more than ${MAX_CONFIG_FLOW_DEPTH} open [ or {)`;
    } else if ((c === ']' || c === '}') && flow > 0) flow--;
  }
  return undefined;
}

/** Parses YAML/JSON text, then runs the pipeline; syntax errors and duplicate keys come with line numbers. */
export function checkConfigText(text: string): ConfigCheck {
  const tooDeep = nestingProblem(text);
  if (tooDeep !== undefined) return { config: undefined, problems: [tooDeep], warnings: [] };
  let value: unknown;
  try {
    const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
    if (doc.errors.length > 0)
      return {
        config: undefined,
        problems: doc.errors.map((e) => `syntax: ${e.message.split('\n')[0]}`),
        warnings: [],
      };
    // toJS throws (ReferenceError) on an unresolved alias and on alias expansion past maxAliasCount.
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    return { config: undefined, problems: [`syntax: ${message}`], warnings: [] };
  }
  return checkConfigValue(value);
}

/** checkConfigText for callers that want the config or a ConfigError. */
export function parseConfigText(text: string, source = 'config'): Config {
  const checked = checkConfigText(text);
  if (checked.config === undefined) throw new ConfigError(source, checked.problems);
  return checked.config;
}
