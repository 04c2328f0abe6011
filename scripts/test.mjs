// The README's test command (`npm test [-- <jest args>]`) on a fresh machine: npm dependencies, the Debian
// tools of the system tests, an up-to-date build (CLI and process tests run dist/cli.js), the suite, and
// CI's closing line `tests: N passed, N failed` (from jest's JSON report in .tmp/jest.json).
// `--unit` (npm run test:unit) runs only the in-process project and skips the tools and the build;
// `--system` (npm run test:system) only the system project.
import { spawnSync } from 'node:child_process';
import { delimiter } from 'node:path';
import { mkdirSync, rmSync } from 'node:fs';

const REPORT = '.tmp/jest.json';
// Debian puts nginx in /usr/sbin, which a non-root PATH often lacks; the tests look there too.
const extraDirs = ['/usr/sbin', '/sbin'].filter((d) => !(process.env.PATH ?? '').split(delimiter).includes(d));
const env = { ...process.env, PATH: [process.env.PATH ?? '', ...extraDirs].join(delimiter) };

const node = (args, extraEnv = {}) =>
  spawnSync(process.execPath, args, { stdio: 'inherit', env: { ...env, ...extraEnv } }).status ?? 1;

const [mode, ...rest] = process.argv.slice(2);
const project = mode === '--unit' ? 'unit' : mode === '--system' ? 'system' : undefined;
const userArgs = project ? rest : process.argv.slice(2);

rmSync(REPORT, { force: true }); // never summarise an earlier run's report
const setup =
  project === 'unit'
    ? [['scripts/ensure-deps.mjs']]
    : [['scripts/ensure-deps.mjs'], ['scripts/ensure-test-tools.mjs'], ['scripts/build-if-changed.mjs']];
for (const step of setup) {
  const code = node(step);
  if (code !== 0) {
    console.log(`tests: 0 passed, 1 failed (${step[0]} failed)`);
    process.exit(code);
  }
}

// The project goes last: jest's --selectProjects takes every following word as a project name.
const jestArgs = [...userArgs, ...(project ? ['--selectProjects', project] : [])];
const ownReport = userArgs.some((a) => /^--(json|outputFile|watch|watchAll|listTests)\b/.test(a));
mkdirSync('.tmp', { recursive: true });
const code = node(
  ['node_modules/jest/bin/jest.js', ...jestArgs, ...(ownReport ? [] : ['--json', `--outputFile=${REPORT}`])],
  {
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --experimental-vm-modules`.trim(),
  },
);
if (ownReport) process.exit(code);
process.exit(node(['scripts/test-summary.mjs', REPORT]) || code);
