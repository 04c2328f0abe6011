/**
 * scripts/build-if-changed.mjs (run by npm test, npm run demo, npm pack): a second run with no change
 * does not build, and a changed source or a deleted dist/ always rebuilds, so a stale dist/ is never
 * used. Runs on a two-file TypeScript project in a temp directory with the repo's typescript.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = join(ROOT, 'scripts/build-if-changed.mjs');
const project = mkdtempSync(join(tmpdir(), 'claimgate-build-'));

function build() {
  const r = spawnSync(process.execPath, [SCRIPT], { cwd: project, encoding: 'utf8', timeout: 60_000 });
  expect(r.stderr + r.stdout).toBe('');
  expect(r.status).toBe(0);
}

const built = (file: string) => readFileSync(join(project, 'dist', file), 'utf8');
const builtAt = (file: string) => statSync(join(project, 'dist', file)).mtimeMs;

beforeAll(() => {
  symlinkSync(join(ROOT, 'node_modules'), join(project, 'node_modules'));
  mkdirSync(join(project, 'src'));
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true } }));
  writeFileSync(
    join(project, 'tsconfig.build.json'),
    JSON.stringify({
      extends: './tsconfig.json',
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        rootDir: 'src',
        outDir: 'dist',
        types: [],
        incremental: true,
        tsBuildInfoFile: 'dist/.tsbuildinfo',
      },
      include: ['src'],
    }),
  );
  writeFileSync(join(project, 'src/cli.ts'), "import { greeting } from './greeting.js';\nconsole.log(greeting);\n");
  writeFileSync(join(project, 'src/greeting.ts'), "export const greeting: string = 'one';\n");
});

afterAll(() => rmSync(project, { recursive: true, force: true }));

describe('build-if-changed', () => {
  it('builds a fresh tree', () => {
    build();
    expect(built('greeting.js')).toContain("'one'");
    expect(built('cli.js')).toContain('greeting');
  });

  it('does not build again when nothing changed', () => {
    const before = [builtAt('cli.js'), builtAt('greeting.js'), builtAt('.build-hash')];
    build();
    expect([builtAt('cli.js'), builtAt('greeting.js'), builtAt('.build-hash')]).toEqual(before);
  });

  it('rebuilds after a source change, even one that keeps the old mtime', () => {
    const file = join(project, 'src/greeting.ts');
    const { mtime } = statSync(file);
    writeFileSync(file, "export const greeting: string = 'two';\n");
    spawnSync('touch', ['-d', mtime.toISOString(), file]); // as a copy or an archive keeps times
    expect(statSync(file).mtime).toEqual(mtime);
    build();
    expect(built('greeting.js')).toContain("'two'");
  });

  it('rebuilds everything when dist/ is deleted', () => {
    rmSync(join(project, 'dist'), { recursive: true });
    build();
    expect(built('greeting.js')).toContain("'two'");
    expect(built('cli.js')).toContain('greeting');
  });

  it('fails, leaving no stamp, when the source does not compile; fixing it builds', () => {
    writeFileSync(join(project, 'src/greeting.ts'), 'export const greeting: string = 3;\n');
    const attempt = () => spawnSync(process.execPath, [SCRIPT], { cwd: project, encoding: 'utf8', timeout: 60_000 });
    const r = attempt();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('build failed');
    expect(attempt().status).toBe(1); // tsc emitted anyway, but without a stamp the next run tries again
    writeFileSync(join(project, 'src/greeting.ts'), "export const greeting: string = 'three';\n");
    build();
    expect(built('greeting.js')).toContain("'three'");
  });
});
