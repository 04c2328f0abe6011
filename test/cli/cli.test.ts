/**
 * The command line as users run it: the built `dist/cli.js` (npm test builds first).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'claimgate-cli-'));

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    timeout: 15000,
    env: { ...process.env, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const GOOD = `issuers:
  - name: okta
    issuer: https://partner.okta.com/oauth2/default
    audiences: [api://orders]
`;
const BAD = `issuers:
  - name: okta
    issuer: https://partner.okta.com/oauth2/default
    audiences: []
    algoritms: [HS256]
`;

describe('claimgate CLI', () => {
  it('check-config accepts a valid file and exits 0', () => {
    const r = run(['check-config', file('good.yaml', GOOD)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('OK (1 issuer(s), 0 route(s))');
  });

  it('check-config exits 1 and lists every problem with its path', () => {
    const r = run(['check-config', file('bad.yaml', BAD)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('issuers[0].audiences: must list at least one audience');
    expect(r.stderr).toContain('issuers[0].algoritms: unknown key (not a claimgate setting)');
  });

  it('serve refuses to start on a broken config, with the same errors', () => {
    const r = run(['serve', '--config', file('bad2.yaml', BAD)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('issuers[0].audiences: must list at least one audience');
  });

  it('serve reads CLAIMGATE_CONFIG when --config is absent', () => {
    const r = run(['serve'], { CLAIMGATE_CONFIG: file('bad3.yaml', BAD) });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('bad3.yaml');
  });

  it('serve without any config names both ways to give one', () => {
    const r = run(['serve'], { CLAIMGATE_CONFIG: '' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('CLAIMGATE_CONFIG');
  });

  it('check-config reports a missing file clearly', () => {
    const r = run(['check-config', join(dir, 'nope.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot read file: ENOENT');
  });

  it('schema prints a JSON Schema that rejects unknown keys', () => {
    const r = run(['schema']);
    expect(r.code).toBe(0);
    const schema = JSON.parse(r.stdout) as {
      $schema: string;
      additionalProperties: boolean;
      required: string[];
      properties: Record<string, unknown>;
    };
    expect(schema.$schema).toContain('json-schema.org');
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toContain('issuers');
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['server', 'issuers', 'routes', 'upstream']));
  });

  it('routes from-openapi prints routes that check-config accepts, and --check finds no drift in them', () => {
    const doc = new URL('../fixtures/openapi/billing-3.1.yaml', import.meta.url).pathname;
    const r = run(['routes', 'from-openapi', doc, '--issuer', 'okta']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('# GET /tenants/{tenant-id}/invoices (listInvoices)');
    const config = file('from-openapi.yaml', `${GOOD}${r.stdout.replace(/^#.*\n/gm, '')}`);
    expect(run(['check-config', config])).toMatchObject({ code: 0, stdout: expect.stringContaining('7 route(s)') });
    expect(run(['routes', 'from-openapi', doc, '--issuer', 'okta', '--check', config])).toMatchObject({
      code: 0,
      stdout: expect.stringContaining('routes match'),
    });
    expect(run(['routes', 'from-openapi', doc, '--check', config])).toMatchObject({ code: 1 });
  });

  it('check-config reports a CEL condition that does not type-check, with its position', () => {
    const bad = `${GOOD}routes:\n  - name: r\n    require: { cel: 'request.method == 1' }\n`;
    const r = run(['check-config', file('bad-cel.yaml', bad)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'routes[0].require.cel: is not a valid condition: at 1:1: no such overload: string == int',
    );
  });

  it('rejects an unknown command with usage', () => {
    const r = run(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Usage:');
  });
});
