/**
 * Fuzz: the config loader (src/validation/load.ts `validateConfig`, `parseConfigText`).
 *
 * Invariants (issue 8): random values, mutated valid configs and mutated or hostile YAML text never
 * crash the loader — the only exception it throws is ConfigError — and every rejection carries at
 * least one `path: message` line, each with a non-empty message.
 */
import fc from 'fast-check';
import { stringify } from 'yaml';
import { ConfigError, parseConfigText, validateConfig } from '../../src/validation/load.js';
import { configureFuzz, runs } from './support.js';

configureFuzz();

const VALID = {
  server: { grpc_address: '0.0.0.0:9001', admin_address: '127.0.0.1:9090', check_deadline_ms: 150 },
  logging: { level: 'info', allow_sample_rate: 0.5 },
  token_cache: { max_entries: 1000, negative_ttl_seconds: 5 },
  issuers: [
    {
      name: 'okta',
      issuer: 'https://partner.okta.com/oauth2/default',
      audiences: ['api://orders'],
      algorithms: ['RS256', 'ES256'],
      keys: { cooldown_seconds: 30 },
    },
    {
      name: 'auth0',
      issuer: 'https://example.eu.auth0.com/',
      audiences: ['https://api.example.com'],
      token_type: 'legacy',
      roles_claim: 'https://example.com/roles',
      token_locations: [{ header: 'authorization', scheme: 'Bearer' }, { cookie: 'at' }],
    },
  ],
  routes: [
    { name: 'health', match: { path: { exact: '/healthz' } }, public: true },
    {
      name: 'order',
      match: { methods: ['GET'], path: { template: '/orders/{id}' }, hosts: ['*.example.com'] },
      require: { scope: 'orders:read' },
    },
    {
      name: 'admin',
      match: { path: { prefix: '/admin' }, ignore_case: true },
      require: {
        all: [
          { any: [{ role: 'admin' }, { permission: 'admin:all' }] },
          { not: { claim: { path: 'suspended', equals: true } } },
          { claim: { path: 'email', regex: '^[^@]+@example\\.com$' } },
          { issuer: ['okta'] },
        ],
      },
    },
  ],
  unmatched: 'deny',
  upstream: { headers: [{ name: 'x-user-id', claim: 'sub' }], strip_token: true },
  http: { address: '127.0.0.1:9002', trusted_proxies: ['10.0.0.0/8'] },
};

/** Runs the loader; returns 'ok' or the problems. Anything but a ConfigError fails the property. */
function load(run: () => unknown): 'ok' | readonly string[] {
  try {
    run();
    return 'ok';
  } catch (error) {
    if (!(error instanceof ConfigError))
      throw new Error(
        `loader threw ${(error as Error)?.constructor?.name}: ${String((error as Error)?.message ?? error).slice(0, 200)}`,
      );
    expect(error.problems.length).toBeGreaterThan(0);
    for (const p of error.problems) expect(p).toMatch(/^.+?: \S/s);
    return error.problems;
  }
}

// ---- mutations of the valid config ------------------------------------------------------------------

type Path = (string | number)[];
function paths(value: unknown, prefix: Path = []): Path[] {
  const out: Path[] = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  return out;
}
const ALL_PATHS = paths(VALID).filter((p) => p.length > 0);

type Mutation =
  | { at: number; kind: 'set'; value: unknown }
  | { at: number; kind: 'delete' }
  | { at: number; kind: 'rename'; name: string }
  | { at: number; kind: 'wrap' };
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    at: fc.nat(),
    kind: fc.constant('set' as const),
    value: fc.oneof(
      fc.anything(),
      fc.constantFrom(
        '',
        '/a%2Fb',
        '/x?y',
        'http://x',
        'RS256',
        'HS256',
        'none',
        -1,
        0,
        Infinity, // 1e400 in YAML
        2 ** 53 + 1,
        NaN,
        [],
        {},
        null,
        '__proto__',
        { __proto__: null },
        '((a+)+)+$',
        '[',
        '0.0.0.0:99999',
      ),
    ),
  }),
  fc.record({ at: fc.nat(), kind: fc.constant('delete' as const) }),
  fc.record({
    at: fc.nat(),
    kind: fc.constant('rename' as const),
    name: fc.oneof(
      fc.string({ maxLength: 10 }),
      fc.constantFrom('__proto__', 'constructor', 'toString', 'issuer', 'audiences', 'keys'),
    ),
  }),
  fc.record({ at: fc.nat(), kind: fc.constant('wrap' as const) }),
);

function mutate(config: unknown, m: Mutation): unknown {
  const copy = structuredClone(config) as Record<string, unknown>;
  const path = ALL_PATHS[m.at % ALL_PATHS.length]!;
  let parent: Record<string | number, unknown> = copy;
  for (const seg of path.slice(0, -1)) {
    const next = parent[seg];
    if (next === null || typeof next !== 'object') return copy;
    parent = next as Record<string | number, unknown>;
  }
  const last = path[path.length - 1]!;
  if (!(last in parent)) return copy;
  if (m.kind === 'set') parent[last] = m.value;
  else if (m.kind === 'delete') delete parent[last];
  else if (m.kind === 'wrap') parent[last] = [parent[last]];
  else if (!Array.isArray(parent)) {
    Object.defineProperty(parent, m.name, {
      value: parent[last],
      enumerable: true,
      configurable: true,
      writable: true,
    });
    if (m.name !== last) delete parent[last];
  }
  return copy;
}

// ---- properties -------------------------------------------------------------------------------------

describe('validateConfig', () => {
  it('the valid base config loads (the mutations start from something real)', () => {
    expect(load(() => validateConfig(VALID))).toBe('ok');
    expect(load(() => parseConfigText(stringify(VALID)))).toBe('ok');
  });

  it('random values: only ConfigError, each with path: message lines', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.record({ issuers: fc.anything(), routes: fc.anything(), server: fc.anything() }),
          fc.record({
            issuers: fc.array(
              fc.dictionary(
                fc.constantFrom(
                  'name',
                  'issuer',
                  'audiences',
                  'jwks_uri',
                  'jwks_file',
                  'keys',
                  'algorithms',
                  'discovery',
                ),
                fc.anything(),
              ),
              { maxLength: 3 },
            ),
          }),
        ),
        (value) => {
          load(() => validateConfig(value));
        },
      ),
      { numRuns: runs(500) },
    );
  });

  it('mutated valid configs: only ConfigError, each with path: message lines', () => {
    fc.assert(
      fc.property(fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (mutations) => {
        const config = mutations.reduce(mutate, VALID as unknown);
        load(() => validateConfig(config));
      }),
      { numRuns: runs(800) },
    );
  });
});

describe('parseConfigText', () => {
  const base = stringify(VALID);
  const yamlChar = fc.constantFrom(
    ...':-?[]{},#&*!|>\'"%@` \n\t\\'.split(''),
    'a',
    '0',
    '<<',
    '&a ',
    '*a',
    '!!js/function ',
    '\u0000',
    '\ufeff',
    '\ud800',
  );
  const textEdit = fc.record({
    at: fc.nat(),
    del: fc.integer({ min: 0, max: 3 }),
    ins: fc.string({ unit: yamlChar, maxLength: 4 }),
  });

  it('mutated YAML text: only ConfigError', () => {
    fc.assert(
      fc.property(fc.array(textEdit, { minLength: 1, maxLength: 5 }), (edits) => {
        const text = edits.reduce((t, e) => {
          const i = e.at % (t.length + 1);
          return t.slice(0, i) + e.ins + t.slice(i + e.del);
        }, base);
        load(() => parseConfigText(text));
      }),
      { numRuns: runs(400) },
    );
  });

  it('random and hostile text (aliases, deep nesting, tags, JSON): only ConfigError', () => {
    const hostile = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: yamlChar, maxLength: 200 }),
      fc.json(),
      fc.integer({ min: 1, max: 4000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
      fc.integer({ min: 1, max: 4000 }).map((n) => `${'{a: '.repeat(n)}1${'}'.repeat(n)}`),
      fc
        .integer({ min: 1, max: 1500 })
        .map((n) => Array.from({ length: n }, (_, i) => `${' '.repeat(i)}- `).join('\n') + 'x'),
      fc.integer({ min: 1, max: 1500 }).map((n) => `${'- '.repeat(n)}x`),
      fc
        .integer({ min: 1, max: 1500 })
        .map((n) => Array.from({ length: n }, (_, i) => `${' '.repeat(i)}k:`).join('\n') + ' x'),
      fc.integer({ min: 1, max: 12 }).map((n) =>
        [
          'a: &a [x, x, x, x, x, x, x, x, x]',
          ...Array.from(
            { length: n },
            (_, i) =>
              `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9)
                .fill(`*${String.fromCharCode(97 + i)}`)
                .join(', ')}]`,
          ),
        ].join('\n'),
      ),
      fc.constantFrom(
        'a: *nope',
        'issuers: !!js/function "x"',
        '<<: *x',
        '!!set {a, b}',
        'a: !!binary AAAA',
        '%YAML 9.9\n---\na: 1',
        '---\na: 1\n---\nb: 2',
        '\ufeffissuers: []',
        'issuers: [{name: a, issuer: x, audiences: [a], max_token_bytes: 1e400}]',
        '__proto__: {issuers: []}',
      ),
    );
    fc.assert(
      fc.property(hostile, (text) => {
        load(() => parseConfigText(text));
      }),
      { numRuns: runs(400) },
    );
  });
});
