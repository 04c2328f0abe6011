/**
 * Config lint (issue 11, item 10): routes after a catch-all, and the Envoy settings docs/routing.md
 * tells deployers to set, checked against the shipped envoy.yaml.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lintConfig } from '../../src/config/lint.js';
import { validateConfig } from '../../src/validation/load.js';

const root = new URL('../../', import.meta.url);
const issuer = { name: 'a', issuer: 'https://idp.example.com', jwks_file: 'x.json', audiences: ['api'] };
const lint = (routes: unknown[]) => lintConfig(validateConfig({ issuers: [issuer], routes }));

describe('lint: unreachable routes', () => {
  it('warns about every route after a catch-all, naming both', () => {
    const warnings = lint([
      { name: 'public', match: { path: { prefix: '/public' } }, public: true },
      { name: 'all' },
      { name: 'admin', match: { path: { prefix: '/admin' } }, require: { role: 'admin' } },
      { name: 'root', match: { path: { exact: '/' } } },
    ]);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/^routes\[2\] \(admin\): unreachable: routes\[1\] \(all\)/);
    expect(warnings[1]).toMatch(/^routes\[3\] \(root\)/);
  });

  it('warns about shadowing by a wider prefix, prefix /, and a superset of methods and hosts', () => {
    expect(
      lint([
        { name: 'api', match: { path: { prefix: '/api' } } },
        { name: 'api-admin', match: { path: { prefix: '/api/admin' } } },
        { name: 'slash', match: { path: { prefix: '/' }, methods: ['GET', 'POST'] } },
        { name: 'get-orders', match: { path: { template: '/orders/{id}' }, methods: ['GET'] } },
      ]).map((w) => w.slice(0, 9)),
    ).toEqual(['routes[1]', 'routes[3]']);
  });

  it('stays quiet when a later route can still match', () => {
    expect(
      lint([
        { name: 'admin', match: { path: { prefix: '/admin' }, methods: ['GET'] } },
        { name: 'admin-write', match: { path: { prefix: '/admin' } } },
        { name: 'host', match: { hosts: ['a.example.com'] } },
        { name: 'adm', match: { path: { prefix: '/administrator' } } },
        { name: 'all' },
      ]),
    ).toEqual([]);
  });

  it('check-config prints the warnings and still exits 0', () => {
    const dir = mkdtempSync(join(tmpdir(), 'claimgate-lint-'));
    const file = join(dir, 'c.yaml');
    writeFileSync(
      file,
      JSON.stringify({
        issuers: [issuer],
        routes: [{ name: 'all' }, { name: 'late', match: { path: { prefix: '/x' } } }],
      }),
    );
    // The built CLI, as users run it (npm test builds first).
    const cli = new URL('dist/cli.js', root).pathname;
    const r = spawnSync(process.execPath, [cli, 'check-config', file], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/OK \(1 issuer\(s\), 2 route\(s\), 1 warning\(s\)\)/);
    expect(r.stderr).toMatch(/^warning: routes\[1\] \(late\): unreachable/m);
    // --json: the same warnings in the object (stdout stays one JSON document), still exit 0.
    const j = spawnSync(process.execPath, [cli, 'check-config', '--json', file], { encoding: 'utf8' });
    expect(j.status).toBe(0);
    expect(j.stderr).toMatch(/^warning: routes\[1\] \(late\): unreachable/m);
    const parsed = JSON.parse(j.stdout) as { ok: boolean; routes: number; warnings: string[] };
    expect(parsed).toMatchObject({ ok: true, routes: 2 });
    expect(parsed.warnings).toHaveLength(1);
    expect(parsed.warnings[0]).toMatch(/^routes\[1\] \(late\): unreachable/);
  });
});

describe('envoy.yaml carries what docs/routing.md tells deployers to set', () => {
  it('every `key: value` the routing guide lists for the HTTP connection manager is in envoy.yaml', () => {
    const guide = readFileSync(new URL('docs/routing.md', root), 'utf8');
    const paragraph = guide.slice(guide.indexOf('**Make Envoy forward what claimgate matched.**'));
    const settings = [...paragraph.slice(0, paragraph.indexOf('\n\n')).matchAll(/`([a-z_]+): ([A-Za-z_]+)`/g)].map(
      (m) => `${m[1]}: ${m[2]}`,
    );
    expect(settings.length).toBeGreaterThanOrEqual(4);
    const envoy = readFileSync(new URL('envoy.yaml', root), 'utf8');
    const present = new Set(envoy.split('\n').map((l) => l.trim()));
    expect(settings.filter((s) => !present.has(s))).toEqual([]);
  });
});
