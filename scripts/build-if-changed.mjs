// Builds dist/ only when its inputs changed, so a second `npm run demo` or `npm test` starts at once.
// The stamp is a hash of every input's content (not mtimes: a checkout or copy can keep old mtimes),
// kept inside dist/ so deleting dist/ always forces a build. tsc itself is incremental
// (tsconfig.build.json), so a change rebuilds only what it affects.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

const STAMP = 'dist/.build-hash';
const INPUTS = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];

function filesUnder(path) {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? e.path, e.name));
}

function inputHash() {
  const hash = createHash('sha256');
  for (const file of INPUTS.flatMap(filesUnder).sort()) {
    hash.update(`${file}\0`);
    hash.update(readFileSync(file));
    hash.update('\0');
  }
  return hash.digest('hex');
}

const wanted = inputHash();
const current = existsSync(STAMP) ? readFileSync(STAMP, 'utf8').trim() : '';
if (current === wanted && existsSync('dist/cli.js')) process.exit(0);

rmSync(STAMP, { force: true });
try {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    stdio: 'inherit',
  });
} catch {
  console.error('claimgate: build failed (see the errors above)');
  process.exit(1);
}
writeFileSync(STAMP, `${wanted}\n`);
