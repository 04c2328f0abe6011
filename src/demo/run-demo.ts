/**
 * `claimgate demo`: a local OpenID provider and claimgate on loopback, a few sample Checks printed,
 * then serving until Ctrl-C or the time limit, so nothing keeps running by accident.
 */
import { startClaimgate } from '../app.js';
import { parseConfigText } from '../config/load.js';
import { createCheckClient, type CheckSummary } from '../cli/check-client.js';
import { createLogger } from '../log.js';
import { demoConfigYaml } from './demo-config.js';
import { startLocalIdp } from './local-idp.js';

export interface DemoOptions {
  readonly seconds: number;
  readonly grpcPort: number;
  /** Admin (metrics, health) port; 0 picks a free one. */
  readonly adminPort?: number;
  readonly out?: (line: string) => void;
}

const AUDIENCE = 'https://api.example.com';

function line(s: CheckSummary): string {
  const headers = Object.entries(s.headers)
    .filter(([k]) => k.startsWith('x-user-'))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `${s.kind.toUpperCase()} ${s.httpStatus}${s.reason ? ` ${s.reason}` : ''}${headers ? `  ${headers}` : ''}`;
}

export async function runDemo(options: DemoOptions): Promise<void> {
  const out = options.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const idp = await startLocalIdp();
  const address = `127.0.0.1:${options.grpcPort}`;
  const config = parseConfigText(
    demoConfigYaml(idp.issuer, address, `127.0.0.1:${options.adminPort ?? 9090}`),
    'embedded demo config',
  );
  const app = await startClaimgate(config, { logger: createLogger(config.logging.level) });
  await app.whenSettled();

  const allowed = await idp.mint({ sub: 'alice', aud: AUDIENCE, scope: 'orders:read profile', roles: ['customer'] });
  const denied = await idp.mint({ sub: 'bob', aud: AUDIENCE, scope: 'profile', roles: ['customer'] });

  out(`claimgate demo — ext_authz gRPC on ${address}, local OpenID provider at ${idp.issuer}`);
  out('');
  const client = createCheckClient(`127.0.0.1:${app.grpcPort}`);
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

  out('');
  out('Try it from another terminal while the demo runs:');
  out(`  export ALLOWED='${allowed}'`);
  out(`  export DENIED='${denied}'`);
  out(
    `  node dist/cli.js check --address ${address} --path /orders/42 --token "$ALLOWED"   # ALLOW 200 + identity headers`,
  );
  out(
    `  node dist/cli.js check --address ${address} --path /orders/42 --token "$DENIED"    # DENY 403 insufficient_scope`,
  );
  out(`  node dist/cli.js check --address ${address} --path /orders/42                      # DENY 401 challenge`);
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
  await app.close(1000);
  await idp.close();
  out('demo stopped');
}
