/**
 * The Dockerfile, checked without a container engine (none runs here):
 *  - linted by dockerfile-utils (the validator behind the VS Code Docker language server: the Docker
 *    builder's own parse errors, bad flags, durations, signals, ports, plus its style warnings, all
 *    raised to errors here);
 *  - the facts the image must hold: multi-stage from a pinned slim base, non-root numeric user in
 *    the final stage, production dependencies only, exec-form ENTRYPOINT with node as PID 1 (SIGTERM
 *    reaches claimgate), a node-based HEALTHCHECK, nothing that needs a writable root filesystem;
 *  - `.dockerignore` admits every COPY source and keeps node_modules, dist, .git and tests out.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { validate, ValidationSeverity, type ValidatorSettings } from 'dockerfile-utils';
import { configSchema } from '../../src/config/schema.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCKERFILE = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
const PACKAGE = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  license: string;
  version: string;
  devDependencies: Record<string, string>;
};

/** Every style rule dockerfile-utils has, as an error. */
const STRICT: ValidatorSettings = {
  deprecatedMaintainer: ValidationSeverity.ERROR,
  directiveCasing: ValidationSeverity.ERROR,
  emptyContinuationLine: ValidationSeverity.ERROR,
  instructionCasing: ValidationSeverity.ERROR,
  instructionCmdMultiple: ValidationSeverity.ERROR,
  instructionEntrypointMultiple: ValidationSeverity.ERROR,
  instructionHealthcheckMultiple: ValidationSeverity.ERROR,
  instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
  instructionWorkdirRelative: ValidationSeverity.ERROR,
};

function lint(text: string): string[] {
  return validate(text, STRICT).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
}

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}
interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

/** Instructions (continuations joined, comments dropped), grouped by stage; global ARGs resolved into FROM. */
function parseDockerfile(text: string): { globalArgs: Map<string, string>; stages: Stage[] } {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue; // a comment inside a continuation
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push(pending + line);
    pending = '';
  }
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of logical) {
    const [keyword = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    const upper = keyword.toUpperCase();
    if (upper === 'FROM') {
      const [image = '', as, name] = args.split(/\s+/);
      const from = image.replace(/\$\{(\w+)\}/g, (_, v: string) => globalArgs.get(v) ?? '');
      stages.push({ from, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else if (stages.length === 0 && upper === 'ARG') {
      const [k = '', v = ''] = args.split('=');
      globalArgs.set(k, v);
    } else {
      stages.at(-1)?.instructions.push({ keyword: upper, args });
    }
  }
  return { globalArgs, stages };
}

const { stages } = parseDockerfile(DOCKERFILE);
const final = stages.at(-1)!;
const finalOf = (keyword: string) => final.instructions.filter((i) => i.keyword === keyword);
const json = (args: string) => JSON.parse(args) as string[];

describe('Dockerfile lint (dockerfile-utils)', () => {
  it('has no problems, style rules included', () => {
    expect(lint(DOCKERFILE)).toEqual([]);
  });

  it('the linter catches real mistakes (so an empty report means something)', () => {
    const bad = [
      'HEALTHCHECK --interval=10x CMD true', // unknown duration unit
      'EXPOSE 9001/xyz', // no such protocol
      "ENTRYPOINT ['node', 'dist/cli.js']", // single quotes: silently shell form, not exec form
      'COPY --frm=build /app/dist ./dist', // unknown flag
      'workdir app', // casing, relative WORKDIR
      'CMD ["a"]\nCMD ["b"]', // only the last CMD counts
    ];
    for (const line of bad)
      expect([line, lint(`FROM node:20-bookworm-slim\n${line}\n`).length > 0]).toEqual([line, true]);
  });
});

describe('Dockerfile facts', () => {
  it('is multi-stage, every stage from the pinned Node 20 slim image', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages[0]!.name).toBe('build');
    for (const stage of stages) expect(stage.from).toBe('node:20-bookworm-slim');
    expect(PACKAGE).toHaveProperty('engines.node', '>=20.19');
  });

  it('builds with the lock file in the build stage', () => {
    const runs = stages[0]!.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    expect(runs).toContain('npm ci --no-audit --no-fund');
    expect(runs).toContain('npm run build');
  });

  it('runs as a non-root user given numerically (Kubernetes runAsNonRoot can verify it)', () => {
    const users = finalOf('USER');
    expect(users.length).toBeGreaterThan(0);
    const [uid = '', gid = ''] = users.at(-1)!.args.split(':');
    expect(uid).toMatch(/^[1-9]\d*$/);
    expect(gid).toMatch(/^[1-9]\d*$/);
    // nothing after USER runs as root again or changes files
    const afterUser = final.instructions.slice(final.instructions.lastIndexOf(users.at(-1)!) + 1);
    expect(afterUser.filter((i) => ['RUN', 'COPY', 'ADD', 'USER'].includes(i.keyword))).toEqual([]);
  });

  it('has no devDependencies in the final stage', () => {
    const installs = finalOf('RUN')
      .map((i) => i.args)
      .filter((a) => /\bnpm\s+(ci|install|i)\b/.test(a));
    expect(installs.length).toBe(1);
    for (const install of installs) {
      expect(install).toMatch(/\bnpm ci\b/);
      expect(install).toMatch(/--omit=dev\b/);
    }
    const copies = [...finalOf('COPY'), ...finalOf('ADD')].map((i) => i.args);
    for (const copy of copies) expect(copy).not.toMatch(/node_modules/);
    const fromBuild = copies.filter((c) => c.startsWith('--from='));
    expect(fromBuild).toEqual(['--from=build /app/dist ./dist']);
    expect(
      finalOf('ENV')
        .map((i) => i.args)
        .join(' '),
    ).toMatch(/NODE_ENV=production/);
    expect(Object.keys(PACKAGE.devDependencies)).toContain('typescript'); // the build stage needs them; the final must not
  });

  it('starts node directly in exec form, so node is PID 1 and receives SIGTERM', () => {
    const entrypoints = finalOf('ENTRYPOINT');
    expect(entrypoints).toHaveLength(1);
    expect(json(entrypoints[0]!.args)).toEqual(['node', 'dist/cli.js']);
    expect(json(finalOf('CMD')[0]!.args)).toEqual(['serve', '--config', '/etc/claimgate/claimgate.yaml']);
    const stop = finalOf('STOPSIGNAL');
    expect(stop.map((i) => i.args)).toEqual(['SIGTERM']);
    // claimgate itself handles SIGTERM (drain, then exit 0)
    expect(readFileSync(path.join(ROOT, 'src/cli.ts'), 'utf8')).toMatch(/process\.on\('SIGTERM'/);
  });

  it('has a HEALTHCHECK that uses node (no curl in slim) against the admin /healthz', () => {
    const checks = finalOf('HEALTHCHECK');
    expect(checks).toHaveLength(1);
    const cmd = checks[0]!.args.slice(checks[0]!.args.indexOf('CMD ') + 4);
    const argv = json(cmd);
    expect(argv[0]).toBe('node');
    expect(argv.join(' ')).toMatch(/process\.exit\(r\.ok\?0:1\)/);
    const env = finalOf('ENV')
      .map((i) => i.args)
      .join(' ');
    const url = /CLAIMGATE_HEALTHCHECK_URL=(\S+)/.exec(env)?.[1];
    const adminPort = configSchema.shape.server.parse(undefined).admin_address.split(':')[1];
    expect(url).toBe(`http://127.0.0.1:${adminPort}/healthz`);
    expect(finalOf('EXPOSE').map((i) => i.args)).toEqual([`9001 ${adminPort}`]);
  });

  it('needs no writable root filesystem: no npm at run time, no VOLUME, no file writes in src/', () => {
    const runtime = [...finalOf('ENTRYPOINT'), ...finalOf('CMD')].map((i) => i.args).join(' ');
    expect(runtime).not.toMatch(/\bnpm\b|\bsh\b/); // npm writes ~/.npm logs and forwards signals poorly
    expect(finalOf('VOLUME')).toEqual([]);
    const writers: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir)) {
        const file = path.join(dir, entry);
        if (statSync(file).isDirectory()) walk(file);
        else if (
          /\b(writeFileSync|writeFile|appendFile\w*|mkdir\w*|createWriteStream|mkdtemp\w*)\(/.test(
            readFileSync(file, 'utf8'),
          )
        )
          writers.push(path.relative(ROOT, file));
      }
    };
    walk(path.join(ROOT, 'src'));
    // `claimgate demo` (a laptop tool, never the image's command) writes a readable copy of its config to
    // a temporary directory, and goes on without it when it cannot (read-only /tmp).
    expect(writers).toEqual(['src/demo/run-demo.ts']);
  });

  it('carries OCI labels that match package.json', () => {
    const labels = finalOf('LABEL')
      .map((i) => i.args)
      .join(' ');
    expect(labels).toContain('org.opencontainers.image.title="claimgate"');
    expect(labels).toContain(`org.opencontainers.image.licenses="${PACKAGE.license}"`);
    expect(labels).toContain('org.opencontainers.image.version="${VERSION}"');
    expect(final.instructions.find((i) => i.keyword === 'ARG')?.args).toBe(`VERSION=${PACKAGE.version}`);
  });
});

describe('.dockerignore', () => {
  const patterns = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

  /** Docker's rule: the last matching pattern wins; `!` re-includes. Enough of the syntax for this file. */
  function ignored(file: string): boolean {
    let result = false;
    for (const pattern of patterns) {
      const negated = pattern.startsWith('!');
      const body = pattern.replace(/^!/, '').replace(/\/$/, '');
      const regex = new RegExp(
        `^${body
          .split('*')
          .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
          .join('[^/]*')}(/.*)?$`,
      );
      if (regex.test(file)) result = !negated;
    }
    return result;
  }

  it('admits every COPY source of the build context', () => {
    const sources = stages
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from='))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect(existsSync(path.join(ROOT, source))).toBe(true);
      expect([source, ignored(source)]).toEqual([source, false]);
    }
    expect(ignored('src/cli.ts')).toBe(false);
  });

  it('keeps dependencies, build output, VCS data, tests and local files out', () => {
    for (const file of [
      'node_modules/jose/package.json',
      'dist/cli.js',
      '.git/config',
      'test/deploy/dockerfile.test.ts',
      'deploy/compose/claimgate.yaml',
      '.env',
      'claimgate.yaml',
      'Dockerfile',
    ]) {
      expect([file, ignored(file)]).toEqual([file, true]);
    }
  });
});
