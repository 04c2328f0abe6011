/**
 * OpenAPI import on two realistic documents (3.0 with global and per-operation OAuth2 security over
 * two flows, an apiKey scheme, alternatives and `security: []`; 3.1 with OpenID Connect, an OAuth2
 * client-credentials scheme, bearer role names, an optional `{}` alternative and no global security).
 * The printed YAML is loaded as a real config; every operation's decision for tokens with and without
 * the scopes the document asks for is checked against a table written from the documents by hand.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { readOpenApi } from '../../src/openapi/document.js';
import { routesYaml } from '../../src/openapi/output.js';
import { routesFromOpenApi } from '../../src/openapi/routes.js';
import { bearer, policyDecider } from '../policy/policy-harness.js';

const fixture = (name: string) => new URL(`../fixtures/openapi/${name}`, import.meta.url).pathname;

/** What the document asks of one operation: public, alternatives of scope sets, a role, or nothing claimgate can verify. */
type Expect = { public: true } | { scopes: string[][] } | { roles: string[] } | { unverifiable: true };

interface Row {
  method: string;
  path: string;
  expect: Expect;
}

const ORDERS: Row[] = [
  { method: 'GET', path: '/v1/health', expect: { public: true } },
  { method: 'GET', path: '/v1/orders?status=open', expect: { scopes: [['orders:read']] } },
  { method: 'POST', path: '/v1/orders', expect: { scopes: [['orders:write']] } },
  { method: 'GET', path: '/v1/orders/o-17', expect: { scopes: [['orders:read']] } },
  { method: 'DELETE', path: '/v1/orders/o-17', expect: { scopes: [['orders:write', 'orders:admin']] } },
  { method: 'GET', path: '/v1/orders/mine', expect: { scopes: [['orders:read:own']] } },
  { method: 'POST', path: '/v1/orders/o-17/refunds', expect: { scopes: [['orders:admin'], ['refunds:write']] } },
  { method: 'GET', path: '/v1/partner/orders', expect: { unverifiable: true } },
  { method: 'GET', path: '/v1/partner/feed', expect: { scopes: [['orders:read']] } },
];

const BILLING: Row[] = [
  { method: 'GET', path: '/billing/v2/pricing', expect: { public: true } },
  {
    method: 'GET',
    path: '/billing/v2/tenants/acme/invoices',
    expect: { scopes: [['invoices:read'], ['billing:admin']] },
  },
  { method: 'POST', path: '/billing/v2/tenants/acme/invoices', expect: { scopes: [['invoices:write']] } },
  { method: 'GET', path: '/billing/v2/tenants/acme/invoices/inv-1', expect: { roles: ['auditor'] } },
  { method: 'GET', path: '/billing/v2/tenants/acme/usage', expect: { public: true } },
  { method: 'GET', path: '/billing/v2/tenants/acme/export', expect: { scopes: [['invoices:read', 'exports:run']] } },
  { method: 'POST', path: '/billing/v2/webhooks/psp', expect: { public: true } },
];

function imported(name: string, issuer?: string) {
  const doc = readOpenApi(readFileSync(fixture(name), 'utf8'), name);
  const result = routesFromOpenApi(doc, { issuer });
  const yaml = routesYaml(result, name, doc.title);
  return { doc, result, yaml, routes: (parseYaml(yaml) as { routes: unknown[] }).routes };
}

describe.each([
  ['orders-3.0.yaml', '3.0', ORDERS],
  ['billing-3.1.yaml', '3.1', BILLING],
])('routes from %s', (name, version, table) => {
  it(`reads an OpenAPI ${version} document and covers every operation in the table`, () => {
    const { doc } = imported(name);
    expect(doc.version).toBe(version);
    expect(doc.operations).toHaveLength(table.length);
  });

  it('gives every operation the decisions its security asks for', async () => {
    const { routes } = imported(name);
    const decide = await policyDecider({ routes });
    for (const row of table) {
      const ask = async (claims: Record<string, unknown> | undefined) => {
        const d = await decide(await bearer(row.method, row.path, claims));
        return { row: `${row.method} ${row.path}`, outcome: d.outcome, status: d.outcome === 'allow' ? 200 : d.status };
      };
      const allow = { row: `${row.method} ${row.path}`, outcome: 'allow', status: 200 };
      const denied = (status: number) => ({ row: `${row.method} ${row.path}`, outcome: 'deny', status });
      const e = row.expect;
      if ('public' in e) {
        expect(await ask(undefined)).toEqual(allow);
      } else if ('unverifiable' in e) {
        // Only an API key opens it: no bearer token does, however many scopes it has.
        expect(await ask({ scope: 'orders:read orders:write orders:admin' })).toEqual(denied(403));
      } else if ('scopes' in e) {
        expect(await ask(undefined)).toEqual(denied(401));
        expect(await ask({ scope: 'profile unrelated:read' })).toEqual(denied(403));
        for (const alternative of e.scopes) {
          expect(await ask({ scope: alternative.join(' ') })).toEqual(allow);
          if (alternative.length > 1) expect(await ask({ scope: alternative.slice(1).join(' ') })).toEqual(denied(403));
        }
      } else {
        expect(await ask(undefined)).toEqual(denied(401));
        expect(await ask({ roles: ['viewer'] })).toEqual(denied(403));
        expect(await ask({ roles: e.roles })).toEqual(allow);
      }
    }
  });
});

describe('the generated YAML', () => {
  it('is commented for review, puts /orders/mine before /orders/{orderId}, and names the left-out operation', () => {
    const { yaml, result } = imported('orders-3.0.yaml');
    expect(yaml).toMatch(/^# Generated by `claimgate routes from-openapi` from orders-3.0.yaml \(Orders API 1.4.0\)/);
    expect(yaml).toContain('# GET /orders/{orderId} (getOrder)');
    expect(yaml.indexOf('name: myOrders')).toBeLessThan(yaml.indexOf('name: getOrder'));
    expect(result.warnings).toEqual([
      'GET /partner/orders: alternative with scheme "partnerKey" (apiKey) left out',
      'GET /partner/orders: no alternative claimgate can verify; no route (unmatched: deny refuses it)',
      'GET /partner/feed: alternative with scheme "partnerKey" (apiKey) left out',
    ]);
  });

  it('turns path parameters into templates with config-safe names', () => {
    const { result } = imported('billing-3.1.yaml');
    const invoice = result.routes.find((r) => r.name === 'getInvoice');
    expect(invoice?.match).toEqual({
      methods: ['GET'],
      path: { template: '/billing/v2/tenants/{tenant_id}/invoices/{invoiceId}' },
    });
  });

  it('with --issuer, also requires the issuer on every protected route', async () => {
    const { routes, result } = imported('orders-3.0.yaml', 'idp');
    expect(result.routes.find((r) => r.name === 'createOrder')?.require).toEqual({
      all: [{ issuer: 'idp' }, { scope: 'orders:write' }],
    });
    expect(result.routes.find((r) => r.name === 'health')?.require).toBeUndefined();
    const decide = await policyDecider({ routes });
    expect(await decide(await bearer('POST', '/v1/orders', { scope: 'orders:write' }))).toMatchObject({
      outcome: 'allow',
      route: 'createOrder',
    });
  });
});

describe('documents that cannot be imported', () => {
  it.each([
    ['swagger: "2.0"\ninfo: {title: x, version: "1"}\npaths: {}', /openapi: must be 3.0.x or 3.1.x \(Swagger 2.0/],
    ['openapi: 3.0.0\npaths:\n  /a:\n    $ref: other.yaml', /paths\.\/a: \$ref is not supported here; bundle/],
    [
      'openapi: 3.1.0\npaths:\n  /a:\n    get:\n      security: [{nope: []}]',
      /paths\.\/a\.get\.security\[0\]\.nope: names no scheme in components.securitySchemes/,
    ],
    [
      'openapi: 3.0.0\nservers: [{url: "https://{host}/v1"}]\npaths: {}',
      /servers\[0\]\.variables\.host: needs a default/,
    ],
    ['- just\n- a list', /not an OpenAPI document/],
    ['openapi: 3.0.0\n  bad: indent: here', /not YAML or JSON/],
  ])('refuses %j clearly', (text, message) => {
    expect(() => readOpenApi(text, 'api.yaml')).toThrow(message);
  });
});
