/**
 * Path-normalization acceptance (issue 8): each spelling gets the decision docs/routing.md promises.
 * The table below is also the "Path normalization policy" table of docs/security.md; this test reads
 * that table and fails if the two drift apart.
 *
 * Config: a public `/public/` prefix route, an `/admin` prefix route requiring role admin (once with
 * `ignore_case: false`, once with `true`), `unmatched: deny` (the default). Each path is decided three
 * times: without a token, with a valid token lacking the role, with a valid admin token.
 */
import { readFileSync } from 'node:fs';
import type { Decision } from '../../src/engine/types.js';
import { AUD, ISS_A, buildGate, cleanupTmp, fileIssuer, mint, rsaKey, view, type Gate } from '../security/harness.js';

/** What a cell of the docs table means, as (no token, user token, admin token) reasons. */
const OUTCOMES = {
  'admin route: 401 / 403 / allow': ['ERR_TOKEN_MISSING', 'ERR_ROLE_MISSING', 'OK_AUTHENTICATED'],
  'no route: 403 `ERR_ROUTE_NOT_FOUND`': ['ERR_ROUTE_NOT_FOUND', 'ERR_ROUTE_NOT_FOUND', 'ERR_ROUTE_NOT_FOUND'],
  'public route: allow': ['OK_PUBLIC_ROUTE', 'OK_PUBLIC_ROUTE', 'OK_PUBLIC_ROUTE'],
  'refused: 400 `ERR_PATH_INVALID`': ['ERR_PATH_INVALID', 'ERR_PATH_INVALID', 'ERR_PATH_INVALID'],
} as const;
type Outcome = keyof typeof OUTCOMES;

/** [request path, normalized path, with ignore_case: false, with ignore_case: true] */
const TABLE: readonly [string, string, Outcome, Outcome][] = [
  ['/admin', '/admin', 'admin route: 401 / 403 / allow', 'admin route: 401 / 403 / allow'],
  ['/Admin', '/Admin', 'no route: 403 `ERR_ROUTE_NOT_FOUND`', 'admin route: 401 / 403 / allow'],
  ['/ADMIN/users', '/ADMIN/users', 'no route: 403 `ERR_ROUTE_NOT_FOUND`', 'admin route: 401 / 403 / allow'],
  ['/admin/', '/admin/', 'admin route: 401 / 403 / allow', 'admin route: 401 / 403 / allow'],
  ['//admin', '/admin', 'admin route: 401 / 403 / allow', 'admin route: 401 / 403 / allow'],
  ['/admin/../admin', '/admin', 'admin route: 401 / 403 / allow', 'admin route: 401 / 403 / allow'],
  ['/public/../admin', '/admin', 'admin route: 401 / 403 / allow', 'admin route: 401 / 403 / allow'],
  ['/%61dmin', '/admin', 'admin route: 401 / 403 / allow', 'admin route: 401 / 403 / allow'],
  ['/admin?x=/public/', '/admin', 'admin route: 401 / 403 / allow', 'admin route: 401 / 403 / allow'],
  ['/administrator', '/administrator', 'no route: 403 `ERR_ROUTE_NOT_FOUND`', 'no route: 403 `ERR_ROUTE_NOT_FOUND`'],
  ['/public/x', '/public/x', 'public route: allow', 'public route: allow'],
  ['/admin%2F..', 'invalid', 'refused: 400 `ERR_PATH_INVALID`', 'refused: 400 `ERR_PATH_INVALID`'],
  ['/public/%2e%2e/admin', 'invalid', 'refused: 400 `ERR_PATH_INVALID`', 'refused: 400 `ERR_PATH_INVALID`'],
  ['/public/..;/admin', 'invalid', 'refused: 400 `ERR_PATH_INVALID`', 'refused: 400 `ERR_PATH_INVALID`'],
  ['/public%2F../admin', 'invalid', 'refused: 400 `ERR_PATH_INVALID`', 'refused: 400 `ERR_PATH_INVALID`'],
  ['/public/..%5Cadmin', 'invalid', 'refused: 400 `ERR_PATH_INVALID`', 'refused: 400 `ERR_PATH_INVALID`'],
  ['/%2561dmin', 'invalid', 'refused: 400 `ERR_PATH_INVALID`', 'refused: 400 `ERR_PATH_INVALID`'],
  ['/admin%00', 'invalid', 'refused: 400 `ERR_PATH_INVALID`', 'refused: 400 `ERR_PATH_INVALID`'],
  ['/admin;x=1', 'invalid', 'refused: 400 `ERR_PATH_INVALID`', 'refused: 400 `ERR_PATH_INVALID`'],
  ['/../admin', 'invalid', 'refused: 400 `ERR_PATH_INVALID`', 'refused: 400 `ERR_PATH_INVALID`'],
  ['/public#/../admin', 'invalid', 'refused: 400 `ERR_PATH_INVALID`', 'refused: 400 `ERR_PATH_INVALID`'],
  ['/public%23/../admin', 'invalid', 'refused: 400 `ERR_PATH_INVALID`', 'refused: 400 `ERR_PATH_INVALID`'],
  ['/public%3F/../admin', 'invalid', 'refused: 400 `ERR_PATH_INVALID`', 'refused: 400 `ERR_PATH_INVALID`'],
  ['/adm%C4%B0n', '/admİn', 'no route: 403 `ERR_ROUTE_NOT_FOUND`', 'refused: 400 `ERR_PATH_INVALID`'],
  ['/adm%C4%B1n', '/admın', 'no route: 403 `ERR_ROUTE_NOT_FOUND`', 'refused: 400 `ERR_PATH_INVALID`'],
];

const key = rsaKey('paths');
const userToken = mint(key, { aud: AUD });
const adminToken = mint(key, { roles: ['admin'] });
const gates: Record<'sensitive' | 'insensitive', Gate> = {} as never;

beforeAll(async () => {
  for (const [name, ignoreCase] of [
    ['sensitive', false],
    ['insensitive', true],
  ] as const) {
    gates[name] = await buildGate({
      issuers: [fileIssuer('a', ISS_A, [key.jwk])],
      routes: [
        { name: 'public', match: { path: { prefix: '/public/' } }, public: true },
        { name: 'admin', match: { path: { prefix: '/admin' }, ignore_case: ignoreCase }, require: { role: 'admin' } },
      ],
      unmatched: 'deny',
    });
  }
});
afterAll(() => {
  Object.values(gates).forEach((g) => g.close());
  cleanupTmp();
});

async function reasons(gate: Gate, path: string): Promise<string[]> {
  const ds: Decision[] = [
    await gate.decide(view({}, path)),
    await gate.decide(view({ authorization: `Bearer ${userToken}` }, path)),
    await gate.decide(view({ authorization: `Bearer ${adminToken}` }, path)),
  ];
  return ds.map((d) => d.reason);
}

describe('path normalization: the decisions docs/routing.md promises', () => {
  it.each(TABLE)(
    '%s (normalized %s): ignore_case false → %s; true → %s',
    async (path, _normalized, sensitive, insensitive) => {
      expect(await reasons(gates.sensitive, path)).toEqual(OUTCOMES[sensitive]);
      expect(await reasons(gates.insensitive, path)).toEqual(OUTCOMES[insensitive]);
    },
  );

  it('invalid paths answer 400 invalid_request, whatever the token', async () => {
    const d = await gates.sensitive.decide(view({ authorization: `Bearer ${adminToken}` }, '/admin%2F..'));
    expect(d.outcome).toBe('deny');
    expect(d.outcome !== 'allow' && d.status).toBe(400);
    expect(d.outcome !== 'allow' && d.challenge).toContain('error="invalid_request"');
  });

  it('docs/security.md carries exactly this table', () => {
    const doc = readFileSync(new URL('../../docs/security.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## Path normalization policy'));
    const rows = section
      .split('\n')
      .filter((l) => /^\| `/.test(l))
      .map((l) =>
        l
          .split(/(?<!\\)\|/)
          .slice(1, -1)
          .map((c) => c.trim()),
      );
    const fromDoc = rows
      .slice(0, TABLE.length)
      .map(([p, n, a, b]) => [p!.replace(/^`|`$/g, ''), n!.replace(/^`|`$/g, ''), a, b]);
    expect(fromDoc).toEqual(TABLE.map((r) => [...r]));
  });
});
