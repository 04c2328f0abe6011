/**
 * The docs are checked against the code: every fenced block marked `yaml claimgate-config` in the
 * partner and Auth0 guides passes the built `check-config`, every command of their `sh claimgate-commands`
 * blocks runs, and every relative link in README and docs/ resolves to a file of this repository.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Claimgate } from '../../src/app/claimgate.js';
import { parseConfigText, validateConfig } from '../../src/validation/load.js';
import { startOidcProvider, type OidcProviderIdp } from '../support/oidc-provider.js';
import { startSettledGate } from '../support/gate.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const CLI = join(ROOT, 'dist/cli.js');
const GUIDES = ['docs/partners.md', 'docs/auth0.md'];

function configBlocks(path: string): string[] {
  const text = readFileSync(join(ROOT, path), 'utf8');
  return [...text.matchAll(/^```yaml claimgate-config\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

describe('config snippets in the partner and Auth0 guides', () => {
  const dir = mkdtempSync(join(tmpdir(), 'claimgate-doc-snippets-'));
  const cases = GUIDES.flatMap((guide) =>
    configBlocks(guide).map((block, i) => [`${guide} #${i + 1}`, block] as const),
  );

  it('finds the snippets (each guide has at least two)', () => {
    for (const guide of GUIDES) expect([guide, configBlocks(guide).length >= 2]).toEqual([guide, true]);
  });

  it.each(cases)('%s passes check-config', (name, block) => {
    const file = join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.yaml`);
    writeFileSync(file, block);
    const r = spawnSync(process.execPath, [CLI, 'check-config', file], { encoding: 'utf8', timeout: 15000 });
    expect([r.status, r.stderr]).toEqual([0, '']);
  });
});

describe('links in README and docs/', () => {
  const files = [
    'README.md',
    ...readdirSync(join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ];

  it.each(files)('every relative link in %s resolves to a file in the repository', (file) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const broken: string[] = [];
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/i.test(target) || target.startsWith('#')) continue;
      const path = resolve(dirname(join(ROOT, file)), target.split('#')[0]!);
      if (!path.startsWith(ROOT) || !existsSync(path)) broken.push(target);
    }
    expect(broken).toEqual([]);
  });
});

/**
 * Every command in a `sh claimgate-commands` block of the guides, run as written against real loopback
 * peers: each documented IdP URL is served by its own oidc-provider, the documented token files are
 * tokens that provider signed, and the documented admin address is a running claimgate's.
 */
describe('commands in the partner and Auth0 guides', () => {
  const PARTNER_B = 'https://sso.partner-b.example/realms/partners';
  const AUTH0 = 'https://example.eu.auth0.com/';
  let cwd: string;
  let idps: OidcProviderIdp[] = [];
  let app: Claimgate | undefined;
  const urls = new Map<string, string>();

  beforeAll(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'claimgate-doc-commands-'));
    const partnerB = await startOidcProvider();
    const auth0 = await startOidcProvider({ publishedIssuer: (base) => `${base}/` });
    idps = [partnerB, auth0];
    urls.set(PARTNER_B, partnerB.issuer).set(AUTH0, `${auth0.issuer}/`);
    const now = Math.floor(Date.now() / 1000);
    writeFileSync(
      join(cwd, 'partner-b.jwt'),
      await partnerB.sign(
        {
          iss: partnerB.issuer,
          aud: 'orders-api',
          sub: 'svc',
          iat: now,
          exp: now + 600,
          realm_access: { roles: ['orders-admin'] },
        },
        { typ: 'JWT' },
      ),
    );
    writeFileSync(
      join(cwd, 'auth0-sample.jwt'),
      await auth0.sign(
        {
          iss: `${auth0.issuer}/`,
          aud: ['https://api.example.com', `${auth0.issuer}/userinfo`],
          sub: 'auth0|123',
          iat: now,
          exp: now + 600,
          permissions: ['read:orders'],
          'https://example.com/roles': ['admin'],
        },
        { typ: 'JWT' },
      ),
    );
    // claimgate.yaml: the partner guide's second snippet, as written.
    writeFileSync(join(cwd, 'claimgate.yaml'), configBlocks('docs/partners.md')[1]!);
    // The same file with partner B's issuer at its loopback IdP, for `explain` (which fetches its keys).
    writeFileSync(
      join(cwd, 'claimgate-loopback.yaml'),
      configBlocks('docs/partners.md')[1]!.replace(
        `issuer: ${PARTNER_B}`,
        `issuer: ${partnerB.issuer}\n    allow_insecure_http: true`,
      ),
    );
    // A running claimgate trusting partner B's loopback IdP, for `status`.
    const config = parseConfigText(configBlocks('docs/partners.md')[1]!, 'partners.md #2');
    app = await startSettledGate(
      validateConfig({
        server: { grpc_address: '127.0.0.1:0', admin_address: '127.0.0.1:0' },
        logging: { level: 'silent' },
        issuers: config.issuers.map((i) => ({
          name: i.name,
          issuer: partnerB.issuer,
          audiences: i.audiences,
          allow_insecure_http: true,
        })),
      }),
    );
    urls.set('127.0.0.1:9090', `127.0.0.1:${app.adminPort}`);
  });
  afterAll(async () => {
    await app?.close(1000);
    await Promise.all(idps.map((i) => i.close()));
  });

  const commands = GUIDES.flatMap((guide) => {
    const text = readFileSync(join(ROOT, guide), 'utf8');
    return [...text.matchAll(/^```sh claimgate-commands\n([\s\S]*?)^```$/gm)].flatMap((m) =>
      m[1]!
        .split('\n')
        .filter((l) => l.startsWith('claimgate '))
        .map((l) => [guide, l] as const),
    );
  });

  it('finds commands in both guides', () => {
    for (const guide of GUIDES) expect([guide, commands.some(([g]) => g === guide)]).toEqual([guide, true]);
  });

  it.each(commands)('%s: `%s` runs and exits 0', async (_guide, line) => {
    let args = line.split(' ').slice(1);
    args = args.map((a) => urls.get(a) ?? a);
    if (args[0] === 'explain') args = args.map((a) => (a === 'claimgate.yaml' ? 'claimgate-loopback.yaml' : a));
    const r = await runCli(args, cwd);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).not.toBe('');
    // What the guides say these commands show.
    if (line.includes('issuer inspect')) expect(r.stdout).toContain('verification: OK');
    if (line.includes('explain'))
      expect(r.stdout).toMatch(/ok {3}requirement all\[1\]\.role[\s\S]*answer: ALLOW 200 OK_AUTHENTICATED/);
    if (line.includes('auth0-sample.jwt'))
      expect(r.stdout).toMatch(
        /looks like: auth0[\s\S]*token_type: legacy[\s\S]*roles_claim: https:\/\/example.com\/roles/,
      );
  });
});

function runCli(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const killer = setTimeout(() => child.kill('SIGKILL'), 20000);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => {
      clearTimeout(killer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}
