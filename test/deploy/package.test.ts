/**
 * The npm package as a user gets it: `npm pack`, then `npm install ./claimgate-x.tgz` in an empty
 * directory (dependencies from the npm cache, the registry only for what the cache lacks), then the
 * installed `claimgate` binary: `--version`, `demo`, and `serve --config` answering a Check. Everything it
 * starts listens on 127.0.0.1 and is stopped here.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitForLine } from '../support/child-output.js';
import { generateSigningKey } from '../support/fake-idp.js';
import { mintAccessToken } from '../support/tokens.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const ISSUER = 'https://idp.example.com';
const AUDIENCE = 'https://api.example.com';

const work = mkdtempSync(join(tmpdir(), 'claimgate-pack-'));
const app = join(work, 'app');
const bin = join(app, 'node_modules', '.bin', 'claimgate');

function run(command: string, args: string[], cwd: string, timeout: number, env: Record<string, string> = {}) {
  const r = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    timeout,
    env: { ...process.env, npm_config_loglevel: 'error', ...env },
  });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the packed npm package', () => {
  let server: ChildProcess | undefined;

  beforeAll(() => {
    const packed = run('npm', ['pack', '--silent', '--pack-destination', work], ROOT, 120_000);
    expect(packed.stderr).toBe('');
    const tarball = join(work, packed.stdout.trim().split('\n').at(-1)!);
    mkdirSync(app);
    const installed = run(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock', tarball],
      app,
      240_000,
    );
    expect(installed.stderr).not.toMatch(/ERR!/);
    expect(installed.code).toBe(0);
  }, 400_000);

  afterAll(() => {
    server?.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  });

  it('ships dist/ and proto/ but no build state', () => {
    const listed = run('tar', ['-tzf', join(work, `claimgate-${VERSION}.tgz`)], work, 10_000).stdout;
    expect(listed).toContain('package/dist/cli.js');
    expect(listed).toContain('package/proto/envoy/service/auth/v3/external_auth.proto');
    expect(listed).not.toMatch(/\.tsbuildinfo|\.build-hash|package\/src\/|package\/test\//);
  });

  it('npx claimgate --version prints the package version', () => {
    // Exactly as a user types it; npm_config_yes=false keeps npx from fetching anything if the bin were missing.
    const r = run('npx', ['claimgate', '--version'], app, 30_000, { npm_config_yes: 'false' });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
  });

  it('claimgate demo runs its sample decisions and stops', () => {
    const r = run(bin, ['demo', '--for', '0', '--port', '0', '--admin-port', '0'], app, 60_000);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/allowed token .*→ ALLOW 200/);
    expect(r.stdout).toMatch(/without a token .*→ DENY 401 ERR_TOKEN_MISSING/);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('demo stopped');
  });

  it('claimgate serve --config answers Checks, and stops on SIGTERM', async () => {
    const key = generateSigningKey('RS256', 'k1');
    writeFileSync(join(app, 'jwks.json'), JSON.stringify({ keys: [key.jwk] }));
    const config = join(app, 'claimgate.yaml');
    writeFileSync(
      config,
      `server: { grpc_address: "127.0.0.1:0", admin_address: "127.0.0.1:0" }
logging: { level: info }
unmatched: authenticated
issuers:
  - name: local
    issuer: ${ISSUER}
    audiences: [${AUDIENCE}]
    jwks_file: ${join(app, 'jwks.json')}
`,
    );
    server = spawn(bin, ['serve', '--config', config], { cwd: app, stdio: ['ignore', 'ignore', 'pipe'] });
    const { grpc_port: port } = JSON.parse(await waitForLine(server, /claimgate listening/, 15_000)) as {
      grpc_port: number;
    };
    await waitForLine(server, /"ready":true/, 15_000);
    const address = `127.0.0.1:${port}`;

    const token = await mintAccessToken(key, ISSUER, { sub: 'alice', aud: AUDIENCE });
    const allowed = run(bin, ['check', '--address', address, '--path', '/orders', '--token', token], app, 15_000);
    expect(allowed.stdout).toMatch(/^ALLOW 200/);
    expect(allowed.code).toBe(0);
    const denied = run(bin, ['check', '--address', address, '--path', '/orders'], app, 15_000);
    expect(denied.stdout).toMatch(/^DENY 401 ERR_TOKEN_MISSING/);

    const exited = new Promise<number | null>((resolve) => server!.once('exit', resolve));
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
    server = undefined;
  }, 60_000);
});
