/**
 * `npm test` on a fresh machine: scripts/ensure-test-tools.mjs decides from PATH which Debian packages
 * the system tests lack and installs them. Here PATH holds only fakes (apt-get, sudo and tool stubs
 * written as small node scripts), so the real machine's tools are hidden and nothing is installed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../scripts/ensure-test-tools.mjs', import.meta.url));
const TOOLS = ['openssl', 'prometheus', 'promtool', 'docker-compose', 'nginx', 'caddy', 'h2load'];
// ca-certificates is recognised by its bundle file, which PATH cannot hide; the machine has it.
const PACKAGES_OF_TOOLS = 'openssl prometheus docker-compose nginx caddy nghttp2-client';
const dirs: string[] = [];

function fakeBin(): { bin: string; log: string } {
  const bin = mkdtempSync(join(tmpdir(), 'claimgate-fakebin-'));
  dirs.push(bin);
  return { bin, log: join(bin, 'calls.log') };
}

function script(bin: string, name: string, body: string): void {
  writeFileSync(join(bin, name), `#!${process.execPath}\n${body}\n`, { mode: 0o755 });
}

const stub = (bin: string, name: string) => script(bin, name, 'process.exit(0);');

/** apt-get that logs its arguments and, on install, puts stubs of every test tool on PATH. */
function fakeAptGet(bin: string, log: string, exitCode = 0): void {
  script(
    bin,
    'apt-get',
    `const fs = require('node:fs');
fs.appendFileSync(${JSON.stringify(log)}, process.argv.slice(2).join(' ') + ' (DEBIAN_FRONTEND=' + process.env.DEBIAN_FRONTEND + ')\\n');
if (${exitCode} === 0 && process.argv[2] === 'install')
  for (const t of ${JSON.stringify(TOOLS)})
    fs.writeFileSync(${JSON.stringify(bin)} + '/' + t, '#!/bin/sh\\nexit 0\\n', { mode: 0o755 });
process.exit(${exitCode});`,
  );
  // sudo without a password prompt: drop -n, pass VAR=value arguments as environment, run the rest.
  script(
    bin,
    'sudo',
    `const args = process.argv.slice(2).filter((a) => a !== '-n');
const env = { ...process.env };
while (args[0] && /^\\w+=/.test(args[0])) { const [k, ...v] = args.shift().split('='); env[k] = v.join('='); }
const r = require('node:child_process').spawnSync(args[0], args.slice(1), { stdio: 'inherit', env });
process.exit(r.status ?? 1);`,
  );
}

function ensure(bin: string) {
  const r = spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8', env: { PATH: bin }, timeout: 15_000 });
  return { code: r.status, stderr: r.stderr };
}

const calls = (log: string) => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []);

afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('ensure-test-tools (npm test on a fresh machine)', () => {
  it('does nothing when every tool is on PATH', () => {
    const { bin, log } = fakeBin();
    fakeAptGet(bin, log);
    [...TOOLS, 'kubectl'].forEach((t) => stub(bin, t));
    const r = ensure(bin);
    expect(r.code).toBe(0);
    expect(calls(log)).toEqual([]);
    expect(r.stderr).toBe('');
  });

  it('installs exactly the missing packages non-interactively, then finds their tools', () => {
    const { bin, log } = fakeBin();
    fakeAptGet(bin, log);
    stub(bin, 'kubectl');
    stub(bin, 'nginx'); // present: not installed again
    const r = ensure(bin);
    expect(r.stderr).toContain('installing Debian packages for the system tests');
    expect(calls(log)).toEqual([
      'update -qq (DEBIAN_FRONTEND=noninteractive)',
      `install -y -qq --no-install-recommends ${PACKAGES_OF_TOOLS.replace(' nginx', '')} (DEBIAN_FRONTEND=noninteractive)`,
    ]);
    expect(r.code).toBe(0);
  });

  it('without apt-get, prints the one command to run and exits 1; a missing kubectl is explained', () => {
    const { bin, log } = fakeBin();
    const r = ensure(bin);
    expect(r.code).toBe(1);
    expect(calls(log)).toEqual([]);
    expect(r.stderr).toContain(
      `run: sudo apt-get update && sudo apt-get install -y --no-install-recommends ${PACKAGES_OF_TOOLS}`,
    );
    expect(r.stderr).toMatch(/kubectl not found.*https:\/\/kubernetes\.io\/docs\/tasks\/tools\//);
  });

  it('exits 1 with the command to run when apt-get fails', () => {
    const { bin, log } = fakeBin();
    fakeAptGet(bin, log, 100);
    stub(bin, 'kubectl');
    const r = ensure(bin);
    expect(r.code).toBe(1);
    expect(calls(log)).toEqual(['update -qq (DEBIAN_FRONTEND=noninteractive)']);
    expect(r.stderr).toMatch(/installing .* failed \(see above\); run: sudo apt-get update/);
  });
});
