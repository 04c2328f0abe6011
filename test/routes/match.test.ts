import fc from 'fast-check';
import { configSchema, type RouteConfig } from '../../src/config/schema.js';
import type { RequestView } from '../../src/engine/types.js';
import { compileRoutes, type RouteMatch } from '../../src/routes/match.js';

/** Routes parsed through the schema, as the config loader produces them. */
function routes(list: unknown[]): RouteConfig[] {
  return configSchema.parse({
    issuers: [{ name: 'idp', issuer: 'https://idp.example.com', audiences: ['api'] }],
    routes: list,
  }).routes;
}

function view(path: string, host = 'api.example.com', method = 'GET'): RequestView {
  return { method, host, path, headers: new Map() };
}

/** The name of the matched route, '(none)' or 'INVALID'. */
function matcherFor(list: unknown[]) {
  const match = compileRoutes(routes(list));
  return (path: string, host?: string, method?: string) => describeMatch(match(view(path, host, method)));
}
function describeMatch(m: RouteMatch): string {
  if (!m.ok) return m.reason === 'ERR_PATH_INVALID' ? 'INVALID' : '?';
  return m.route?.name ?? '(none)';
}

describe('path policy table (the decisions docs/routing.md promises)', () => {
  const route = matcherFor([
    { name: 'admin', match: { path: { prefix: '/admin' } }, require: { role: 'admin' } },
    { name: 'reports', match: { path: { prefix: '/reports' }, ignore_case: true }, require: { scope: 'reports:read' } },
    { name: 'public', match: { path: { prefix: '/' } }, public: true },
  ]);

  it.each([
    ['/admin', 'admin'],
    ['/admin/', 'admin'],
    ['/admin/users', 'admin'],
    ['//admin', 'admin'],
    ['/admin/../admin', 'admin'],
    ['/public/../admin', 'admin'],
    ['/%61dmin', 'admin'],
    ['/a/./b', 'public'],
    ['/admin?debug=1', 'admin'],
    ['/administrator', 'public'],
    ['/Admin', 'public'], // case-sensitive route: /Admin is another resource to the upstream
    ['/Reports/2026', 'reports'], // ignore_case route
    ['/REPORTS', 'reports'],
    ['/%52eports', 'reports'],
    ['/admin%2F..', 'INVALID'],
    ['/admin%00', 'INVALID'],
    ['/..', 'INVALID'],
    ['/admin;x', 'INVALID'],
    ['/public/..;/admin', 'INVALID'],
    ['/public/%2e%2e/admin', 'INVALID'],
    ['/' + 'a'.repeat(9000), 'INVALID'],
  ])('%j → %s', (path, expected) => {
    expect(route(path)).toBe(expected);
  });

  it('reports an invalid path even when no route has a path condition', () => {
    expect(matcherFor([{ name: 'any' }])('/admin%2F..')).toBe('INVALID');
    expect(matcherFor([])('/%00')).toBe('INVALID');
    expect(matcherFor([])('/ok')).toBe('(none)');
  });
});

describe('path kinds', () => {
  it('exact: with or without one trailing slash', () => {
    const route = matcherFor([{ name: 'e', match: { path: { exact: '/health' } } }]);
    expect(['/health', '/health/', '//health//', '/health/x', '/healthz', '/Health'].map((p) => route(p))).toEqual([
      'e',
      'e',
      'e',
      '(none)',
      '(none)',
      '(none)',
    ]);
    const slashed = matcherFor([{ name: 'e', match: { path: { exact: '/health/' } } }]);
    expect(['/health', '/health/'].map((p) => slashed(p))).toEqual(['e', 'e']);
    const root = matcherFor([{ name: 'root', match: { path: { exact: '/' } } }]);
    expect(['/', '//', '/x'].map((p) => root(p))).toEqual(['root', 'root', '(none)']);
  });

  it('prefix: segment-aware; a trailing slash on the prefix changes nothing', () => {
    for (const prefix of ['/api/v1', '/api/v1/']) {
      const route = matcherFor([{ name: 'p', match: { path: { prefix } } }]);
      expect(
        ['/api/v1', '/api/v1/', '/api/v1/x/y', '/api/v10', '/api/v1x/y', '/api', '/API/v1'].map((p) => route(p)),
      ).toEqual(['p', 'p', 'p', '(none)', '(none)', '(none)', '(none)']);
    }
    expect(matcherFor([{ name: 'all', match: { path: { prefix: '/' } } }])('/anything/at/all')).toBe('all');
  });

  it('template: one non-empty segment per placeholder, literals exact, optional trailing slash', () => {
    const route = matcherFor([{ name: 't', match: { path: { template: '/orders/{id}/items/{item}' } } }]);
    expect(
      [
        '/orders/1/items/2',
        '/orders/1/items/2/',
        '/orders/a%2Db/items/%C3%A9',
        '/orders//items/2',
        '/orders/1/items',
        '/orders/1/items/2/x',
        '/orders/1/item/2',
        '/Orders/1/items/2',
      ].map((p) => route(p)),
    ).toEqual(['t', 't', 't', '(none)', '(none)', '(none)', '(none)', '(none)']);
    const single = matcherFor([{ name: 's', match: { path: { template: '/{tenant}' } } }]);
    expect(['/acme', '/acme/', '/', '/acme/x'].map((p) => single(p))).toEqual(['s', 's', '(none)', '(none)']);
  });

  it('ignore_case lower-cases both sides', () => {
    const route = matcherFor([
      { name: 't', match: { path: { template: '/Users/{ID}/Profile' }, ignore_case: true } },
      { name: 'e', match: { path: { exact: '/LOGIN' }, ignore_case: true } },
    ]);
    expect(['/users/Bob/PROFILE', '/USERS/x/profile/', '/login', '/Login/', '/logins'].map((p) => route(p))).toEqual([
      't',
      't',
      'e',
      'e',
      '(none)',
    ]);
  });

  it('normalizes config paths like request paths', () => {
    const route = matcherFor([{ name: 'c', match: { path: { exact: '/caf%C3%A9//menu/./' } } }]);
    expect(route('/café/menu')).toBe('c');
    expect(() => matcherFor([{ name: 'bad', match: { path: { prefix: '/a%2Fb' } } }])).toThrow(/route bad/);
    expect(() => matcherFor([{ name: 'bad', match: { path: { exact: '/a?b' } } }])).toThrow(/route bad/);
  });
});

describe('hosts', () => {
  const route = matcherFor([
    { name: 'exact', match: { hosts: ['API.Example.com'] } },
    { name: 'wild', match: { hosts: ['*.example.com'] } },
    { name: 'other', match: { hosts: ['other.test', '*.tenants.test'] } },
  ]);

  it.each([
    ['api.example.com', 'exact'],
    ['api.example.com.', 'exact'], // trailing dot is the same name
    ['a.example.com', 'wild'],
    ['a.b.c.example.com', 'wild'],
    ['example.com', '(none)'], // the wildcard does not cover the apex
    ['badexample.com', '(none)'],
    ['example.com.evil.io', '(none)'],
    ['other.test', 'other'],
    ['x.tenants.test', 'other'],
    ['tenants.test', '(none)'],
  ])('%s → %s', (host, expected) => {
    expect(route('/', host)).toBe(expected);
  });
});

describe('methods', () => {
  it('is set membership; HEAD is not implied by GET', () => {
    const route = matcherFor([
      { name: 'read', match: { methods: ['GET'] } },
      { name: 'write', match: { methods: ['POST', 'PUT'] } },
    ]);
    expect(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'get'].map((m) => route('/', 'h', m))).toEqual([
      'read',
      '(none)',
      'write',
      'write',
      '(none)',
      '(none)',
    ]);
  });
});

describe('order and results', () => {
  it('first match wins', () => {
    const list = [
      { name: 'specific', match: { path: { exact: '/orders/export' } }, require: { scope: 'export' } },
      { name: 'template', match: { path: { template: '/orders/{id}' } } },
      { name: 'fallback', match: { path: { prefix: '/' } }, public: true },
    ];
    const route = matcherFor(list);
    expect(['/orders/export', '/orders/42', '/x'].map((p) => route(p))).toEqual(['specific', 'template', 'fallback']);
    const reversed = matcherFor([list[1], list[0], list[2]]);
    expect(reversed('/orders/export')).toBe('template');
  });

  it('combines host, method and path conditions (all must hold)', () => {
    const route = matcherFor([
      { name: 'r', match: { hosts: ['*.example.com'], methods: ['DELETE'], path: { template: '/orders/{id}' } } },
    ]);
    expect(route('/orders/1', 'a.example.com', 'DELETE')).toBe('r');
    expect(route('/orders/1', 'a.example.com', 'GET')).toBe('(none)');
    expect(route('/orders/1', 'example.com', 'DELETE')).toBe('(none)');
    expect(route('/orders', 'a.example.com', 'DELETE')).toBe('(none)');
  });

  it('carries public and the compiled requirement', () => {
    const match = compileRoutes(
      routes([
        { name: 'pub', match: { path: { exact: '/p' } }, public: true },
        { name: 'req', match: { path: { exact: '/r' } }, require: { scope: 'a' } },
        { name: 'any', match: { path: { exact: '/a' } } },
      ]),
    );
    const pub = match(view('/p'));
    const req = match(view('/r'));
    const any = match(view('/a'));
    if (!pub.ok || !req.ok || !any.ok) throw new Error('expected matches');
    expect(pub.route).toMatchObject({ name: 'pub', public: true, requirement: undefined });
    expect(any.route).toMatchObject({ name: 'any', public: false, requirement: undefined });
    const principal = (scopes: string[]) =>
      ({
        subject: 'u',
        qualified_subject: 'idp|u',
        issuer: 'idp',
        scopes,
        roles: [],
        permissions: [],
        groups: [],
      }) as const;
    expect(req.route?.requirement?.({ claims: { scope: 'a' }, issuer: 'idp', principal: principal(['a']) })).toEqual({
      ok: true,
    });
    expect(req.route?.requirement?.({ claims: {}, issuer: 'idp', principal: principal([]) })).toEqual({
      ok: false,
      missingScopes: ['a'],
      failed: { kind: 'scope', at: 'scope' },
    });
    expect(match(view('/r'))).toBe(req); // preallocated results
  });

  it('never throws and is deterministic on hostile requests', () => {
    const match = compileRoutes(
      routes([
        { name: 'a', match: { path: { template: '/{x}/admin' }, ignore_case: true } },
        { name: 'b', match: { hosts: ['*.example.com'], path: { prefix: '/admin' } } },
      ]),
    );
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.string({ maxLength: 20 }),
        fc.string({ maxLength: 8 }),
        (path, host, method) => {
          const v = { method, host, path, headers: new Map() };
          expect(match(v)).toBe(match(v));
        },
      ),
      { seed: 5, numRuns: 2000 },
    );
  });
});
