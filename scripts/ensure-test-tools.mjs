// Installs the Debian packages the system tests run (nginx, Caddy, Prometheus, …) when they are missing,
// so `npm test` passes on a fresh machine by itself. A package counts as present when all its commands
// are on PATH (the test runner adds /usr/sbin and /sbin, where Debian puts nginx). Installs as root, or
// through `sudo -n` (never prompts); otherwise prints the one command to run and exits 1.
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { spawnSync } from 'node:child_process';

/** Debian package → what shows it is installed. docs/testing.md says which test uses which. */
const APT_PACKAGES = {
  'ca-certificates': { files: ['/etc/ssl/certs/ca-certificates.crt'] },
  openssl: { commands: ['openssl'] },
  prometheus: { commands: ['prometheus', 'promtool'] },
  'docker-compose': { commands: ['docker-compose'] },
  nginx: { commands: ['nginx'] },
  caddy: { commands: ['caddy'] },
  'nghttp2-client': { commands: ['h2load'] },
};

const KUBECTL_HINT =
  'kubectl is not a Debian package here (Debian 12 has 1.20, too old for current kustomizations): install kubectl ' +
  '>= 1.27 from https://kubernetes.io/docs/tasks/tools/install-kubectl-linux/ ; test/deploy/kubernetes.test.ts needs it';

function onPath(command, pathEnv) {
  return pathEnv
    .split(delimiter)
    .filter(Boolean)
    .some((dir) => {
      try {
        accessSync(join(dir, command), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}

function missingPackages(pathEnv = process.env.PATH ?? '') {
  return Object.entries(APT_PACKAGES)
    .filter(
      ([, need]) =>
        !(need.commands ?? []).every((c) => onPath(c, pathEnv)) || !(need.files ?? []).every((f) => existsSync(f)),
    )
    .map(([name]) => name);
}

const run = (argv) =>
  spawnSync(argv[0], argv.slice(1), {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  }).status === 0;

/** How to reach apt-get as root: directly, through sudo that needs no password, or not at all. */
function aptCommand(pathEnv) {
  if (!onPath('apt-get', pathEnv)) return undefined;
  if (process.getuid?.() === 0) return ['apt-get'];
  // A probe: `sudo -n` fails at once (instead of prompting) when it would need a password.
  if (onPath('sudo', pathEnv) && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0)
    return ['sudo', '-n', 'DEBIAN_FRONTEND=noninteractive', 'apt-get'];
  return undefined;
}

/** Returns the exit code: 0 when every package is present (installed now or before). */
function ensureTestTools(pathEnv = process.env.PATH ?? '') {
  if (!onPath('kubectl', pathEnv)) console.error(`claimgate: kubectl not found. ${KUBECTL_HINT}`);
  const missing = missingPackages(pathEnv);
  if (missing.length === 0) return 0;
  const instruction = `sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  const apt = aptCommand(pathEnv);
  if (apt === undefined) {
    console.error(`claimgate: the system tests need Debian packages that are missing; run: ${instruction}`);
    return 1;
  }
  console.error(`claimgate: installing Debian packages for the system tests: ${missing.join(' ')}`);
  const installed =
    run([...apt, 'update', '-qq']) &&
    run([...apt, 'install', '-y', '-qq', '--no-install-recommends', ...missing]) &&
    missingPackages(pathEnv).length === 0;
  if (!installed) {
    console.error(`claimgate: installing ${missing.join(' ')} failed (see above); run: ${instruction}`);
    return 1;
  }
  return 0;
}

process.exit(ensureTestTools());
