/**
 * `claimgate demo`: a local OpenID provider and claimgate on loopback, a few sample Checks printed,
 * then serving until Ctrl-C or the time limit, so nothing keeps running by accident. The config it runs
 * is written to a temporary file (printed) so it can be read and copied, and the IdP mints tokens with
 * chosen scopes, roles and lifetime (`claimgate demo token`, or `POST /token` on the IdP).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startClaimgate, type Claimgate } from '../app/claimgate.js';
import { parseConfigText } from '../validation/load.js';
import { createCheckClient, type CheckSummary } from '../cli/check-client.js';
import { createLogger } from '../core/log.js';
import { demoConfigYaml } from './demo-config.js';
import { DEMO_IDP_DEFAULTS, startDemoIdp, type DemoIdp } from './idp-main.js';

export interface DemoOptions {
  readonly seconds: number;
  readonly grpcPort: number;
  /** Admin (metrics, health, status) port; 0 picks a free one. */
  readonly adminPort?: number;
  /** The demo IdP's port (`claimgate demo token` talks to it); 0 picks a free one. */
  readonly idpPort?: number;
  readonly out?: (line: string) => void;
}

/** The embedded config, written to a temporary file for the user to read; the demo runs without it if it cannot. */
function writeReadableCopy(text: string): { path?: string; dir?: string; problem?: string } {
  try {
    const dir = mkdtempSync(join(tmpdir(), 'claimgate-demo-'));
    const path = join(dir, 'claimgate-demo.yaml');
    writeFileSync(path, text);
    return { path, dir };
  } catch (e) {
    return { problem: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
  }
}

export const DEMO_AUDIENCE = DEMO_IDP_DEFAULTS.audience;

function line(s: CheckSummary): string {
  const headers = Object.entries(s.headers)
    .filter(([k]) => k.startsWith('x-user-'))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `${s.kind.toUpperCase()} ${s.httpStatus}${s.reason ? ` ${s.reason}` : ''}${headers ? `  ${headers}` : ''}`;
}

export async function runDemo(options: DemoOptions): Promise<void> {
  const out = options.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const demoIdp: DemoIdp = await startDemoIdp({
    ...DEMO_IDP_DEFAULTS,
    port: options.idpPort ?? DEMO_IDP_DEFAULTS.port,
    ttlSeconds: 300,
  });
  const idp = demoIdp.idp;
  let app: Claimgate | undefined;
  const address = `127.0.0.1:${options.grpcPort}`;
  const configText = demoConfigYaml(idp.issuer, address, `127.0.0.1:${options.adminPort ?? 9090}`);
  const copy = writeReadableCopy(configText);
  try {
    const config = parseConfigText(configText, copy.path ?? 'embedded demo config');
    app = await startClaimgate(config, { logger: createLogger(config.logging.level), configFileText: configText });
    await app.whenSettled();
    const grpcAddress = `127.0.0.1:${app.grpcPort}`;
    const adminAddress = `127.0.0.1:${app.adminPort ?? '-'}`;

    const allowed = await idp.mint({
      sub: 'alice',
      aud: DEMO_AUDIENCE,
      scope: 'orders:read profile',
      roles: ['customer'],
    });
    const denied = await idp.mint({ sub: 'bob', aud: DEMO_AUDIENCE, scope: 'profile', roles: ['customer'] });

    out(`claimgate demo — ext_authz gRPC on ${grpcAddress}, local OpenID provider at ${idp.issuer}`);
    out(
      copy.path === undefined
        ? `  config file:   (no copy written: ${copy.problem}; \`claimgate demo\` runs the embedded config)`
        : `  config file:   ${copy.path}   (the embedded config; read it, copy it)`,
    );
    out(`  admin:         http://${adminAddress}  (/status, /metrics, /readyz)`);
    out('');
    const client = createCheckClient(grpcAddress);
    const samples: [string, Parameters<typeof client.check>[0]][] = [
      ['GET /orders/42 with the allowed token (scope orders:read)', { path: '/orders/42', token: allowed }],
      ['GET /orders/42 with the denied token (no orders:read)   ', { path: '/orders/42', token: denied }],
      ['GET /orders/42 without a token                          ', { path: '/orders/42' }],
      [
        'GET /orders/42 with a tampered token                    ',
        { path: '/orders/42', token: `${allowed.slice(0, -4)}AAAA` },
      ],
      ['GET /healthz (public route)                             ', { path: '/healthz' }],
    ];
    for (const [label, input] of samples) out(`  ${label} → ${line(await client.check(input))}`);
    client.close();

    const idpFlag = demoIdp.port === DEMO_IDP_DEFAULTS.port ? '' : ` --idp ${idp.issuer}`;
    out('');
    out('Try it from another terminal while the demo runs (tokens go through a file, not the command line):');
    out(`  node dist/cli.js demo token${idpFlag} --scope orders:read --role admin --expires-in 300 > /tmp/demo.jwt`);
    out(`  node dist/cli.js check --address ${grpcAddress} --path /orders/42 --token-file /tmp/demo.jwt   # ALLOW`);
    out(
      `  node dist/cli.js check --address ${grpcAddress} --path /admin/users --token-file /tmp/demo.jwt # ALLOW (role admin)`,
    );
    out(
      `  node dist/cli.js demo token${idpFlag} --scope profile | node dist/cli.js check --address ${grpcAddress} --path /orders/42 --token-stdin   # DENY 403`,
    );
    out(
      `  node dist/cli.js demo token${idpFlag} --expires-in=-120 | node dist/cli.js check --address ${grpcAddress} --path /orders/42 --token-stdin   # DENY 401 expired`,
    );
    out(`  curl -s -d 'scope=orders:read&roles=admin&expires_in=300' ${idp.issuer}/token   # the same over HTTP`);
    out('');
    out(`Serving for ${options.seconds} s; Ctrl-C stops it sooner.`);

    await new Promise<void>((resolve) => {
      const stop = () => {
        clearTimeout(timer);
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      const timer = setTimeout(stop, options.seconds * 1000);
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  } finally {
    await app?.close(1000);
    await demoIdp.close();
    if (copy.dir !== undefined) rmSync(copy.dir, { recursive: true, force: true });
  }
  out('demo stopped');
}
