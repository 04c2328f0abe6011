/**
 * CEL conditions: compile-time errors with positions, the cost bound, and equivalence with the
 * predicate tree over a table of requests (decisions through the real decider and real tokens).
 */
import { compileCel, CelConfigError, MAX_COST } from '../../src/policy/cel.js';
import { InexactNumber } from '../../src/token/strict-json.js';
import { validateConfig } from '../../src/validation/load.js';
import { bearer, ISSUER_CONFIG, policyDecider, request, token } from './policy-harness.js';

const principal = {
  subject: 'alice',
  qualified_subject: 'idp|alice',
  issuer: 'idp',
  scopes: ['orders:read'],
  roles: [],
  permissions: [],
  groups: ['t1'],
};
const req = { method: 'GET', path: '/t/t1/orders', host: 'api.example.com', params: { tenant: 't1' }, headers: {} };

describe('CEL conditions: compiling', () => {
  it.each([
    ['"orders:read" in principal.scopes', true],
    ['request.params.tenant in principal.groups', true],
    ['has(principal.tenant) && principal.tenant == "t9"', false],
    ['claims.amr.exists(m, m == "mfa")', false],
    ['request.method in ["GET", "HEAD"] && request.path.startsWith("/t/")', true],
  ])('accepts %s and evaluates it (%s)', (expression, expected) => {
    expect(compileCel(expression)({ principal, claims: { amr: ['pwd'] }, request: req })).toBe(expected);
  });

  it.each([
    ['"orders:read" in principal.scopes &&', /^at 1:37: Unexpected token: EOF/],
    ['request.method == "GET" &&\n  request.path + 1 == "b"', /^at 2:3: no such overload: string \+ int/],
    ['principal.scopes.size() > "a"', /^at 1:1: no such overload: int > string/],
    ['request.query == "x"', /^at 1:9: No such key: query/],
    ['unknown_var == 1', /^at 1:1: Unknown variable: unknown_var/],
    ['principal.scopes', /must be a bool expression, not list<string>/],
  ])('refuses %j with the position in the error', (expression, message) => {
    expect(() => compileCel(expression)).toThrow(CelConfigError);
    expect(() => compileCel(expression)).toThrow(message);
  });

  it('reports a bad expression as a config error naming the route and the position', () => {
    const raw = {
      issuers: [ISSUER_CONFIG],
      routes: [{ name: 'r', match: { path: { prefix: '/' } }, require: { cel: 'request.method = "GET"' } }],
    };
    expect(() => validateConfig(raw)).toThrow(
      /routes\[0\]\.require\.cel: is not a valid condition: at 1:16: Unexpected character: =/,
    );
  });

  it('refuses credential headers in a condition', () => {
    const raw = {
      issuers: [ISSUER_CONFIG],
      routes: [
        {
          name: 'r',
          match: { path: { prefix: '/' } },
          require: { cel: { expression: 'true', headers: ['Authorization'] } },
        },
      ],
    };
    expect(() => validateConfig(raw)).toThrow(/carries credentials/);
  });

  it('refuses an identity header claimgate owns in a condition (it would read the client-sent copy)', () => {
    const raw = {
      issuers: [ISSUER_CONFIG],
      upstream: { headers: [{ name: 'x-user-id', claim: 'sub' }] },
      routes: [
        {
          name: 'r',
          match: { path: { prefix: '/' } },
          require: { scope: 'a' },
          shadow: { require: { any: [{ cel: { expression: 'true', headers: ['x-env', 'X-User-Id'] } }] } },
        },
      ],
    };
    expect(() => validateConfig(raw)).toThrow(
      /routes\[0\]\.shadow\.require\.any\[0\]\.cel\.headers\[1\]: is an identity header claimgate owns/,
    );
  });
});

describe('CEL conditions: the cost bound', () => {
  it('refuses a nested comprehension over token lists at config load', () => {
    const hostile = 'claims.a.all(x, claims.a.all(y, claims.a.all(z, x == y && y == z)))';
    expect(() => compileCel(hostile)).toThrow(/estimated worst-case cost of \d+, over the bound of 1000000/);
    // Even two levels over one claim would be quadratic in the token's size.
    expect(() => compileCel('claims.a.exists(x, claims.a.exists(y, x == y))')).toThrow(/over the bound/);
  });

  it('accepts one comprehension, and a hostile token cannot make it run long', () => {
    const condition = compileCel('claims.a.exists(x, x == "needle")');
    const a = Array.from({ length: 20_000 }, (_, i) => `v${i}`);
    expect(condition({ principal, claims: { a }, request: req })).toBe(false);
    expect(condition({ principal, claims: { a: [...a, 'needle'] }, request: req })).toBe(true);
    expect(MAX_COST).toBeGreaterThan(0);
  });

  it('refuses matches(), whose backtracking regular expressions no bound covers, with its position', () => {
    expect(() => compileCel('request.path.startsWith("/a") && claims.email.matches("^(a+)+$")')).toThrow(
      /^at 1:\d+: matches\(\) is not available/,
    );
    expect(() => compileCel('matches(request.path, claims.pattern)')).toThrow(/matches\(\) is not available/);
  });

  it('refuses an expression over the structural limits (depth)', () => {
    const deep = `${'('.repeat(40)}true${')'.repeat(40)}`;
    expect(() => compileCel(deep)).toThrow(CelConfigError);
  });

  it('treats an evaluation error (a claim of another type, a missing key) as cannot tell, never as allow', () => {
    const condition = compileCel('claims.level > 3');
    expect(condition({ principal, claims: { level: 'high' }, request: req })).toBe('undecided');
    expect(condition({ principal, claims: {}, request: req })).toBe('undecided');
    expect(condition({ principal, claims: { level: 4 }, request: req })).toBe(true);
  });

  it('cannot tell on a claim value the one claim-value rule calls unusable, at any depth and through has() or !', () => {
    const check = (expression: string, claims: Record<string, unknown>) =>
      compileCel(expression)({ principal, claims, request: req });
    for (const bad of ['admin\t', ' admin', 'user,admin', 'a\u0000b'])
      for (const expression of ['claims.role == "admin"', '!(claims.role == "admin")', 'has(claims.role)'])
        expect([bad, expression, check(expression, { role: bad })]).toEqual([bad, expression, 'undecided']);
    expect(check('"admin" in claims.roles', { roles: ['admin', 'user,x'] })).toBe('undecided');
    expect(check('claims.org.tenant == "acme"', { org: { tenant: 'acme ' } })).toBe('undecided');
    expect(check('claims.id == 1152921504606846976.0', { id: new InexactNumber('1152921504606846977') })).toBe(
      'undecided',
    );
    // A value the expression does not touch does not matter.
    expect(check('claims.tenant == "acme"', { tenant: 'acme', role: 'user,admin' })).toBe(true);
    // The separator is the config's.
    expect(
      compileCel('claims.role == "user,admin"', ';')({ principal, claims: { role: 'user,admin' }, request: req }),
    ).toBe(true);
  });

  it('cannot tell on a principal field the principal marks unreadable (it is empty for the other checks)', () => {
    const unreadable = { ...principal, roles: [], unreadable: ['roles' as const] };
    const check = (expression: string) => compileCel(expression)({ principal: unreadable, claims: {}, request: req });
    expect(check('!("banned" in principal.roles)')).toBe('undecided');
    expect(check('principal.roles.size() == 0')).toBe('undecided');
    expect(check('"orders:read" in principal.scopes')).toBe(true);
  });
});

describe('CEL conditions: the same decisions as the predicate tree', () => {
  const tree = {
    all: [
      { scope: 'orders:read' },
      { any: [{ role: 'admin' }, { tenant: ['t1', 't2'] }] },
      { not: { claim: { path: 'suspended', equals: true } } },
    ],
  };
  const cel =
    '"orders:read" in principal.scopes' +
    ' && ("admin" in principal.roles || (has(principal.tenant) && principal.tenant in ["t1", "t2"]))' +
    ' && !(has(claims.suspended) && claims.suspended == true)';
  const route = (name: string, require: unknown) => ({ name, match: { path: { prefix: '/orders' } }, require });

  const scopes = [undefined, 'orders:read', 'orders:read orders:write', 'orders:write'];
  const roles = [undefined, ['admin'], ['viewer']];
  const tenants = [undefined, 't1', 't3'];
  const suspended = [undefined, true, false];
  const table: Record<string, unknown>[] = [];
  for (const scope of scopes)
    for (const role of roles)
      for (const tid of tenants)
        for (const s of suspended) {
          const claims: Record<string, unknown> = {};
          if (scope !== undefined) claims.scope = scope;
          if (role !== undefined) claims.roles = role;
          if (tid !== undefined) claims.tid = tid;
          if (s !== undefined) claims.suspended = s;
          table.push(claims);
        }

  it(`gives identical outcomes and statuses for ${table.length} token kinds`, async () => {
    expect(table.length).toBeGreaterThanOrEqual(20);
    const byTree = await policyDecider({ routes: [route('tree', tree)] });
    const byCel = await policyDecider({ routes: [route('cel', { cel })] });
    let allowed = 0;
    for (const claims of table) {
      const view = await bearer('GET', '/orders/1', claims);
      const [t, c] = [await byTree(view), await byCel(view)];
      expect({ claims, outcome: c.outcome, status: c.outcome === 'allow' ? 200 : c.status }).toEqual({
        claims,
        outcome: t.outcome,
        status: t.outcome === 'allow' ? 200 : t.status,
      });
      if (c.outcome === 'allow') allowed++;
      else expect(c.reason).toBe('ERR_CEL_CONDITION_FAILED');
    }
    // The table exercises both answers.
    expect(allowed).toBeGreaterThan(0);
    expect(allowed).toBeLessThan(table.length);
  });

  it('makes "the tenant in the path is the token\'s tenant" one line', async () => {
    const decide = await policyDecider({
      routes: [
        {
          name: 'tenant-orders',
          match: { path: { template: '/t/{tenant}/orders' } },
          require: { cel: 'has(principal.tenant) && request.params.tenant == principal.tenant' },
        },
      ],
    });
    const own = await decide(await bearer('GET', '/t/t1/orders?x=1', { tid: 't1' }));
    expect(own).toMatchObject({ outcome: 'allow', route: 'tenant-orders' });
    const other = await decide(await bearer('GET', '/t/t2/orders', { tid: 't1' }));
    expect(other).toMatchObject({
      outcome: 'deny',
      status: 403,
      reason: 'ERR_CEL_CONDITION_FAILED',
      requirement: 'cel',
    });
  });

  it('reads only the headers the condition lists', async () => {
    const decide = await policyDecider({
      routes: [
        {
          name: 'r',
          match: { path: { prefix: '/' } },
          require: {
            any: [
              { cel: { expression: 'request.headers["x-env"] == "staging"', headers: ['X-Env'] } },
              { cel: 'has(request.headers.x_other)' },
            ],
          },
        },
      ],
    });
    const auth = { authorization: `Bearer ${await token({})}` };
    expect(await decide(request('GET', '/', { ...auth, 'x-env': 'staging' }))).toMatchObject({ outcome: 'allow' });
    expect(await decide(request('GET', '/', { ...auth, 'x-env': 'prod' }))).toMatchObject({ outcome: 'deny' });
    expect(await decide(request('GET', '/', { ...auth, x_other: '1' }))).toMatchObject({ outcome: 'deny' });
  });
});

describe('CEL conditions: three-valued, like every requirement leaf', () => {
  const route = (require: unknown) => ({ routes: [{ name: 'r', match: { path: { prefix: '/' } }, require }] });

  it('an evaluation error or an unusable claim fails, also under not, with ERR_CEL_CONDITION_FAILED at the leaf', async () => {
    const decide = await policyDecider(route({ not: { cel: 'claims.level > 3' } }));
    expect(await decide(await bearer('GET', '/', { level: 1 }))).toMatchObject({ outcome: 'allow' });
    expect(await decide(await bearer('GET', '/', { level: 5 }))).toMatchObject({
      reason: 'ERR_CLAIM_CONDITION_FAILED',
      requirement: 'not',
    });
    for (const level of ['high', undefined])
      expect(await decide(await bearer('GET', '/', { level }))).toMatchObject({
        outcome: 'deny',
        reason: 'ERR_CEL_CONDITION_FAILED',
        requirement: 'not.cel',
      });
  });

  it('a role the principal marks unreadable is not an empty list to a negated CEL condition', async () => {
    const decide = await policyDecider(route({ cel: '!("banned" in principal.roles)' }));
    expect(await decide(await bearer('GET', '/', { roles: ['user'] }))).toMatchObject({ outcome: 'allow' });
    for (const roles of [['user,banned'], ['banned\t'], 'user,banned'])
      expect(await decide(await bearer('GET', '/', { roles }))).toMatchObject({
        reason: 'ERR_CEL_CONDITION_FAILED',
        requirement: 'cel',
      });
  });
});
