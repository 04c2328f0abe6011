/**
 * The docs are checked against the code: every fenced block marked `yaml claimgate-config` in the
 * partner and Auth0 guides passes the built `check-config`, and every relative link in README and docs/
 * resolves to a file of this repository.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

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
