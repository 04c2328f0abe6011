/**
 * The command line as users run it: the built `dist/cli.js` (npm test builds first).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listen } from '../support/listen.js';

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
    expect(r.stderr).toContain('issuers[0].algoritms: unknown key (did you mean "algorithms"?)');
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
    expect(r.stderr).toBe(
      `claimgate: config ${join(dir, 'nope.yaml')}: cannot read file: ENOENT (no such file: relative paths are from the current directory)\n`,
    );
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

describe('claimgate CLI behaviour', () => {
  const SUBCOMMANDS = ['serve', 'check-config', 'schema', 'check', 'status', 'routes', 'demo', 'issuer'];

  it.each(SUBCOMMANDS)('%s --help and -h exit 0 and print its usage on stdout', (name) => {
    for (const flag of ['--help', '-h']) {
      const r = run([name, flag]);
      expect([name, flag, r.code, r.stderr]).toEqual([name, flag, 0, '']);
      expect(r.stdout).toMatch(new RegExp(`^Usage: claimgate ${name}`));
    }
  });

  it('--version prints package.json version', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const r = run(['--version']);
    expect([r.code, r.stdout]).toEqual([0, `${pkg.version}\n`]);
  });

  it('an unknown option is a one-line usage error, not a stack', () => {
    const r = run(['check', '--frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^claimgate: Unknown option '--frobnicate'/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('reads the token from a file, refuses two sources, and names a missing token file', () => {
    const both = run(['check', '--token-file', file('t1', 'a.b.c'), '--token', 'a.b.c']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('give the token one way');
    const missing = run(['check', '--token-file', join(dir, 'no-such-token')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('cannot read token file');
    expect(missing.stderr).toContain('ENOENT');
  });

  it('a claimgate that cannot be reached is one line with a hint', () => {
    const r = run(['check', '--address', '127.0.0.1:1', '--token-file', file('t2', 'a.b.c')]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('pass --address');
  });

  it('serve with its gRPC port taken says so in one line, with the setting to change, and no grpc-js line', async () => {
    const blocker = createServer();
    const port = await listen(blocker);
    try {
      const config = file(
        'taken.yaml',
        `${GOOD}server:\n  grpc_address: 127.0.0.1:${port}\n  admin_address: 127.0.0.1:0\n`,
      );
      const r = await runAsync(['serve', '--config', config]);
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(
        `claimgate: cannot start: port ${port} is in use; pass another server.grpc_address in the config`,
      );
    } finally {
      blocker.close();
    }
  });

  it('demo with its port taken gives a one-line hint, no stack', async () => {
    const blocker = createServer();
    const port = await listen(blocker);
    try {
      const r = await runAsync(['demo', '--for', '0', '--port', String(port), '--admin-port', '0', '--idp-port', '0']);
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(`claimgate: cannot start: port ${port} is in use; pass --port N`);
    } finally {
      blocker.close();
    }
  });

  // Every command, its stdout a pipe that the reader closes after the first line: never a stack.
  const PIPED: string[][] = [
    ['--help'],
    ['--version'],
    ['schema'],
    ['check-config', '--help'],
    ['check', '--help'],
    ['status', '--help'],
    ['demo', '--help'],
    ['issuer', '--help'],
    ['routes', '--help'],
    ['serve', '--help'],
  ];
  it.each(PIPED)('claimgate %s | head -1 prints no stack', async (...args) => {
    for (const closeAtOnce of [false, true]) {
      const r = await runAsync(args, { closeStdoutAfterFirstLine: true, closeAtOnce });
      expect(r.stderr).not.toMatch(/Error|\n\s+at /);
      expect(r.code).toBe(0);
    }
  });
});

function runAsync(
  args: string[],
  options: { closeStdoutAfterFirstLine?: boolean; closeAtOnce?: boolean } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    // A reader that is gone before the first write: every write fails with EPIPE.
    if (options.closeAtOnce) child.stdout.destroy();
    const killer = setTimeout(() => child.kill('SIGKILL'), 15000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      // What `head -1` does: read one line, then close the pipe.
      if (options.closeStdoutAfterFirstLine && stdout.includes('\n')) child.stdout.destroy();
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('claimgate CLI data output', () => {
  it('check-config --json prints one JSON object', () => {
    const r = run(['check-config', '--json', file('good-json.yaml', GOOD)]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      ok: true,
      file: join(dir, 'good-json.yaml'),
      issuers: 1,
      routes: 0,
      warnings: [],
    });
  });

  it('issuer inspect refuses a token on the command line (it would show in ps)', () => {
    const r = run(['issuer', 'inspect', 'https://idp.example.com/', '--token', 'a.b.c']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--token-file or --token-stdin');
  });

  it('issuer inspect --json on a non-HTTPS issuer reports the finding as data and exits 1, without a request', () => {
    const r = run(['issuer', 'inspect', 'http://idp.example.com/', '--json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { findings: { code: string; severity: string }[] };
    expect(report.findings).toEqual([expect.objectContaining({ code: 'not_https', severity: 'error' })]);
  });
});
