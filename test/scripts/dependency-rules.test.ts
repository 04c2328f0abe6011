/**
 * The import rules of .dependency-cruiser.cjs, run on src/ by `npm run check:cycles` in .ci/run: a tiny
 * tree with a folder cycle, a module cycle, a core import or an adapter-to-adapter import makes the
 * checker fail, naming the rule.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CRUISER = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const dirs: string[] = [];

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function cruise(cwd: string): { status: number | null; output: string } {
  const run = spawnSync(process.execPath, [CRUISER, 'src', '--config', CONFIG], { cwd, encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** A temp project holding the given src files and the repository's tsconfig settings. */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'claimgate-cruise-'));
  dirs.push(dir);
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true } }),
  );
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

describe('dependency rules', () => {
  it('fail on a cycle between two folders, even without a module cycle', () => {
    const run = cruise(
      tree({
        'src/a/one.ts': "import { two } from '../b/two.js';\nexport const one = () => two;\n",
        'src/a/three.ts': 'export const three = 3;\n',
        'src/b/two.ts': "import { three } from '../a/three.js';\nexport const two = three;\n",
      }),
    );
    expect(run.output).toContain('no-folder-cycles');
    expect(run.output).not.toContain('no-module-cycles');
    expect(run.status).not.toBe(0);
  });

  it('fail on a module cycle inside one folder', () => {
    const run = cruise(
      tree({
        'src/a/one.ts': "import { two } from './two.js';\nexport const one = () => two;\n",
        'src/a/two.ts': "import { one } from './one.js';\nexport const two = () => one;\n",
      }),
    );
    expect(run.output).toContain('no-module-cycles');
    expect(run.status).not.toBe(0);
  });

  it('fail when core imports a layer, or one adapter imports the other', () => {
    const run = cruise(
      tree({
        'src/core/types.ts': "import type { Cfg } from '../config/schema.js';\nexport type T = Cfg;\n",
        'src/config/schema.ts': 'export type Cfg = { a: number };\n',
        'src/envoy/server.ts': 'export const grpc = 1;\n',
        'src/http/server.ts': "import { grpc } from '../envoy/server.js';\nexport const http = grpc;\n",
      }),
    );
    expect(run.output).toContain('core-imports-no-layer');
    expect(run.output).toContain('adapters-independent');
    expect(run.status).not.toBe(0);
  });
});
