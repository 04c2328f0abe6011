/**
 * Regression tests for the config-loader findings of test/fuzz/config.fuzz.test.ts. Before the fix:
 * - an alias expanding past the alias budget, or an alias with no anchor, made `parseConfigText` throw a
 *   plain ReferenceError instead of a ConfigError (so `check-config` and reload saw a crash, not a problem list);
 * - a deeply nested document (about 1000 levels) overflowed the YAML parser's stack; the second such
 *   parse in one process could abort Node itself ("RegExpCompiler Allocation failed"), which no
 *   try/catch can stop, so one bad file written twice could kill a server that reloads on change.
 * Now the nesting is measured before parsing, and everything the parser throws becomes a ConfigError.
 */
import { stringify } from 'yaml';
import {
  ConfigError,
  MAX_CONFIG_FLOW_DEPTH,
  MAX_CONFIG_INDENT,
  parseConfigText,
  validateConfig,
} from '../../src/validation/load.js';

function problems(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

const ISSUERS = 'issuers: [{name: a, issuer: "https://idp.example.com", audiences: [api]}]\n';

describe('config loader: only ConfigError, whatever the file holds (regression)', () => {
  it('an alias bomb is a ConfigError naming the problem', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
    ].join('\n');
    expect(problems(() => parseConfigText(bomb))).toEqual([
      'syntax: Excessive alias count indicates a resource exhaustion attack',
    ]);
  });

  it('an alias without an anchor is a ConfigError', () => {
    expect(problems(() => parseConfigText(`${ISSUERS}realm: *nope\n`))[0]).toMatch(/^syntax: .*nope/);
  });

  it('deep nesting is refused before parsing, again and again, and the process survives', () => {
    for (let round = 0; round < 3; round++) {
      const block = Array.from({ length: 3000 }, (_, i) => `${' '.repeat(i)}- `).join('\n') + 'x';
      expect(problems(() => parseConfigText(block))[0]).toMatch(/^syntax: line \d+: nested too deeply/);
      expect(problems(() => parseConfigText(`${'- '.repeat(3000)}x`))[0]).toMatch(/nested too deeply/);
      expect(problems(() => parseConfigText(`${'{a: '.repeat(5000)}1${'}'.repeat(5000)}`))[0]).toMatch(
        /nested too deeply/,
      );
      expect(problems(() => parseConfigText(`${'['.repeat(20000)}${']'.repeat(20000)}`))[0]).toMatch(
        /nested too deeply/,
      );
    }
  });

  it(`the bounds: ${MAX_CONFIG_FLOW_DEPTH} open flow collections and content at column ${MAX_CONFIG_INDENT} parse; one more does not`, () => {
    const flow = (n: number) => `${ISSUERS}x: ${'['.repeat(n)}${']'.repeat(n)}\n`;
    expect(problems(() => parseConfigText(flow(MAX_CONFIG_FLOW_DEPTH)))).toEqual([
      'x: unknown key (not a claimgate setting)',
    ]);
    expect(problems(() => parseConfigText(flow(MAX_CONFIG_FLOW_DEPTH + 1)))[0]).toMatch(/nested too deeply/);
    const indented = (n: number) => `${ISSUERS}x:\n${' '.repeat(n)}y: 1\n`;
    expect(problems(() => parseConfigText(indented(MAX_CONFIG_INDENT)))).toEqual([
      'x: unknown key (not a claimgate setting)',
    ]);
    expect(problems(() => parseConfigText(indented(MAX_CONFIG_INDENT + 1)))[0]).toMatch(/nested too deeply/);
  });

  it('brackets, quotes and # inside strings and comments do not count', () => {
    const text = `${ISSUERS}realm: '${'['.repeat(70)}'\n# {{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{\n`;
    expect(parseConfigText(text).realm).toBe('['.repeat(70));
  });

  it('a realistic deep requirement tree (24 levels, block style) still loads', () => {
    let require: unknown = { scope: 'a' };
    for (let i = 0; i < 24; i++) require = i % 2 ? { all: [require, { role: 'r' }] } : { any: [require] };
    const text = stringify({
      issuers: [{ name: 'a', issuer: 'https://idp.example.com', audiences: ['api'] }],
      routes: [{ name: 'r', require }],
    });
    expect(() => parseConfigText(text)).not.toThrow();
  });

  it('a value no document produces (throwing getter, cycle) is a ConfigError, not a crash', () => {
    const hostile = {
      get issuers(): unknown {
        throw new TypeError('boom');
      },
    };
    expect(problems(() => validateConfig(hostile))[0]).toMatch(/^\(root\): cannot be validated \(boom\)|^issuers: /);
    const cyclic: Record<string, unknown> = { issuers: [] };
    cyclic.routes = [cyclic];
    expect(problems(() => validateConfig(cyclic)).length).toBeGreaterThan(0);
  });
});
