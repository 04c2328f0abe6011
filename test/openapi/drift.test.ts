/**
 * `routes from-openapi --check`: a config written by the import has no drift; each kind of edit
 * (a changed scope, a missing route, a route the document does not have, a broad prefix route, a
 * public route the document protects, a route that opens an API-key-only operation) is reported.
 * Runs the command's function with captured output, against files on disk.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import { routesCommand } from '../../src/openapi/cli.js';
import { ISSUER_CONFIG } from '../policy/policy-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'claimgate-openapi-'));
const ORDERS = new URL('../fixtures/openapi/orders-3.0.yaml', import.meta.url).pathname;
const BILLING = new URL('../fixtures/openapi/billing-3.1.yaml', import.meta.url).pathname;

function run(args: string[]) {
  let out = '';
  let err = '';
  const code = routesCommand(args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

type Route = { name: string; match: Record<string, unknown>; public?: boolean; require?: unknown };

/** The routes the import prints for a document, as objects to edit. */
function importedRoutes(doc: string, extra: string[] = []): Route[] {
  const r = run(['from-openapi', doc, ...extra]);
  expect(r.code).toBe(0);
  return (parseYaml(r.out) as { routes: Route[] }).routes;
}

let n = 0;
function configWith(routes: Route[], extra: Record<string, unknown> = {}): string {
  const path = join(dir, `config-${n++}.yaml`);
  writeFileSync(path, stringify({ issuers: [ISSUER_CONFIG], routes, ...extra }));
  return path;
}

describe('routes from-openapi --check', () => {
  it.each([ORDERS, BILLING])('finds no drift in the config the import wrote (%s)', (doc) => {
    const r = run(['from-openapi', doc, '--check', configWith(importedRoutes(doc))]);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toMatch(/routes match .* \(\d+ operation\(s\)\)/);
  });

  it('reports a changed scope, a missing route and a route the document does not have', () => {
    const routes = importedRoutes(ORDERS)
      .filter((r) => r.name !== 'myOrders')
      .map((r) => (r.name === 'createOrder' ? { ...r, require: { scope: 'orders:create' } } : r));
    routes.push({ name: 'legacy', match: { path: { prefix: '/v0' } } });
    const r = run(['from-openapi', ORDERS, '--check', configWith(routes)]);
    expect(r.code).toBe(1);
    expect(r.out.split('\n').filter((l) => l.startsWith('  - '))).toEqual([
      '  - POST /orders (createOrder): route createOrder wants {"scope":"orders:create"}, the document wants {"scope":"orders:write"}',
      // Without its own route, GET /orders/mine falls to the template route with another scope.
      '  - GET /orders/mine (myOrders): route getOrder wants {"scope":"orders:read"}, the document wants {"scope":"orders:read:own"}',
      '  - route legacy: serves no operation of the document',
    ]);
  });

  it('sees through one broad prefix route, a public route the document protects, and an opened API-key operation', () => {
    const routes: Route[] = [
      { name: 'health', match: { path: { exact: '/v1/health' } }, public: true },
      { name: 'orders-open', match: { methods: ['GET'], path: { prefix: '/v1/orders' } }, public: true },
      { name: 'everything', match: { path: { prefix: '/v1' } }, require: { scope: ['orders:read'] } },
    ];
    const r = run(['from-openapi', ORDERS, '--check', configWith(routes)]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(
      'GET /orders (listOrders): route orders-open wants public, the document wants {"scope":"orders:read"}',
    );
    expect(r.out).toContain(
      'POST /orders/{orderId}/refunds (refundOrder): route everything wants {"scope":"orders:read"}, the document wants {"any":[{"scope":"orders:admin"},{"scope":"refunds:write"}]}',
    );
    expect(r.out).toContain(
      'GET /partner/orders: route everything lets bearer tokens in, the document accepts only schemes claimgate does not verify',
    );
    expect(r.out).not.toContain('GET /health');
  });

  it('compares requirements regardless of list order and one-element lists', () => {
    const routes = importedRoutes(ORDERS).map((r) =>
      r.name === 'cancelOrder'
        ? { ...r, require: { all: [{ scope: ['orders:admin'] }, { scope: 'orders:write' }] } }
        : r,
    );
    // all[{scope admin}, {scope write}] is not literally scope: [write, admin]: reported, with both forms.
    const r = run(['from-openapi', ORDERS, '--check', configWith(routes)]);
    expect(r.out).toContain('route cancelOrder wants {"all":[{"scope":"orders:admin"},{"scope":"orders:write"}]}');
    const reordered = importedRoutes(ORDERS).map((r) =>
      r.name === 'cancelOrder' ? { ...r, require: { scope: ['orders:admin', 'orders:write'] } } : r,
    );
    expect(run(['from-openapi', ORDERS, '--check', configWith(reordered)]).code).toBe(0);
  });

  it('with --issuer, checks the issuer too and refuses an issuer the config does not have', () => {
    const plain = configWith(importedRoutes(BILLING));
    const r = run(['from-openapi', BILLING, '--issuer', 'idp', '--check', plain]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('route listInvoices wants {"any":[{"scope":"billing:admin"},{"scope":"invoices:read"}]}');
    expect(
      run([
        'from-openapi',
        BILLING,
        '--issuer',
        'idp',
        '--check',
        configWith(importedRoutes(BILLING, ['--issuer', 'idp'])),
      ]).code,
    ).toBe(0);
    expect(run(['from-openapi', BILLING, '--issuer', 'other', '--check', plain])).toMatchObject({
      code: 1,
      err: expect.stringContaining('has no issuer of that name'),
    });
  });
});

describe('routes from-openapi: usage and bad input', () => {
  it('prints warnings on stderr and YAML on stdout', () => {
    const r = run(['from-openapi', ORDERS]);
    expect(r.err).toContain('warning: GET /partner/orders: no alternative claimgate can verify');
    expect(r.out).toContain('methods: [ GET ]');
    expect(readFileSync(ORDERS, 'utf8')).toContain('openapi: 3.0.3');
  });

  it.each([
    [[], 2],
    [['from-openapi'], 2],
    [['from-openapi', 'a.yaml', 'b.yaml'], 2],
    [['from-openapi', '--bogus', ORDERS], 2],
    [['from-openapi', join(dir, 'missing.yaml')], 1],
  ])('%j exits %d with a message', (args, code) => {
    const r = run(args as string[]);
    expect(r.code).toBe(code);
    expect(r.err).not.toBe('');
  });
});
