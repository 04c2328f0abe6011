#!/usr/bin/env node
/**
 * claimgate command line: serve, check-config, schema, check, status, routes, demo.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { readFileSync } from 'node:fs';
import { ConfigError, parseConfigText } from './config/load.js';
import { configSchema } from './config/schema.js';
import { startClaimgate } from './app.js';
import { createCheckClient, type CheckSummary } from './cli/check-client.js';
import { runDemo } from './demo/run-demo.js';
import { routesCommand } from './openapi/cli.js';
import { createLogger } from './log.js';
import type { KeySourceState } from './keys/key-source.js';
import { watchConfigFile } from './ops/config-watch.js';
import { isClusterWorker, runPrimary, serveWorkerIpc, workerCount } from './ops/cluster.js';
import { VERSION } from './version.js';

const USAGE = `claimgate — Envoy external authorization for JWTs from allow-listed issuers

Usage:
  claimgate serve [--config FILE]        run the ext_authz gRPC server (or set CLAIMGATE_CONFIG)
  claimgate check-config FILE            validate a config file; exit 1 with every problem
  claimgate schema                       print the config JSON Schema (for editors)
  claimgate check [--address HOST:PORT] [--method M] [--host H] [--path P] [--token T] [-H 'name: value']...
                                         send one Check to a running claimgate and print the decision
  claimgate status [--admin HOST:PORT]   per-issuer key state of a running claimgate
  claimgate routes from-openapi FILE [--issuer NAME] [--check CONFIG]
                                         routes from an OpenAPI 3.0/3.1 document, or drift from CONFIG
  claimgate demo [--for SECONDS] [--port N] [--admin-port N]
                                         run with a built-in local OpenID provider on loopback
  claimgate --version                    print the version
`;

function fail(message: string, code = 2): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function readConfigOrExit(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    return fail(
      new ConfigError(path, [`cannot read file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`]).message,
      1,
    );
  }
}

function parseOrExit(text: string, path: string) {
  try {
    return parseConfigText(text, path);
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message, 1);
    throw e;
  }
}

const loadOrExit = (path: string) => parseOrExit(readConfigOrExit(path), path);

export function printSummary(
  s: CheckSummary,
  out: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): void {
  out(`${s.kind.toUpperCase()} ${s.httpStatus}${s.reason ? ` ${s.reason}` : ''} (grpc status ${s.grpcCode})`);
  for (const [k, v] of Object.entries(s.headers)) out(`  ${k}: ${v}`);
  if (s.headersToRemove.length > 0) out(`  (removed upstream: ${s.headersToRemove.join(', ')})`);
  if (s.body) out(`  body: ${s.body}`);
}

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } } });
  const path = values.config || process.env.CLAIMGATE_CONFIG;
  if (!path) fail('serve needs --config FILE or CLAIMGATE_CONFIG');
  const text = readConfigOrExit(path);
  const config = parseOrExit(text, path);
  const logger = createLogger(config.logging.level);
  if (!isClusterWorker() && workerCount(config) > 1) {
    await runPrimary(config, logger);
    logger.info('stopped');
    logger.flush(() => process.exit(0));
    return;
  }
  const worker = isClusterWorker();
  const app = await startClaimgate(config, { logger, configFileText: text, admin: !worker }).catch((e: Error) =>
    fail(`cannot start: ${e.message}`, 1),
  );
  if (worker)
    serveWorkerIpc({
      status: app.status,
      reload: () => app.reloadFromFile(path, true),
      registry: app.metrics.registry,
    });
  const stopWatching = config.server.watch_config
    ? watchConfigFile(path, () => app.reloadFromFile(path))
    : () => undefined;
  process.on('SIGHUP', () => {
    logger.info({ file: path }, 'SIGHUP: reloading config');
    // An explicit SIGHUP reloads even an unchanged file (e.g. to re-read a repaired JWKS file).
    app.reloadFromFile(path, true);
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    stopWatching();
    logger.info({ signal }, 'shutting down: health NOT_SERVING, draining in-flight checks');
    void app.close().then(() => {
      logger.info('stopped');
      logger.flush(() => process.exit(0));
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function status(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { admin: { type: 'string', default: '127.0.0.1:9090' } } });
  const res = await fetch(`http://${values.admin}/status`, { signal: AbortSignal.timeout(5000) }).catch((e: Error) =>
    fail(`cannot reach ${values.admin}: ${e.message}`, 1),
  );
  const body = (await res.json()) as { ready: boolean; config_loaded_at: string; issuers: KeySourceState[] };
  const iso = (ms?: number) => (ms === undefined ? '-' : new Date(ms).toISOString());
  process.stdout.write(`ready: ${body.ready}   config loaded: ${body.config_loaded_at}\n`);
  for (const s of body.issuers) {
    process.stdout.write(
      `${s.issuer}: ${s.usable ? 'usable' : 'UNUSABLE'}, ${s.keyCount} key(s), last success ${iso(s.lastSuccessAt)}, ` +
        `${s.consecutiveFailures} consecutive failure(s), stale ${s.staleSeconds}s, next refresh ${iso(s.nextRefreshAt)}` +
        `${s.lastError ? `, last error: ${s.lastError}` : ''}\n`,
    );
  }
  process.exitCode = body.ready ? 0 : 3;
}

async function check(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      address: { type: 'string', default: '127.0.0.1:9001' },
      method: { type: 'string', default: 'GET' },
      host: { type: 'string', default: 'api.example.com' },
      path: { type: 'string', default: '/' },
      token: { type: 'string' },
      header: { type: 'string', short: 'H', multiple: true },
    },
  });
  const headers: Record<string, string> = {};
  for (const h of values.header ?? []) {
    const colon = h.indexOf(':');
    if (colon <= 0) fail(`bad header "${h}": expected 'name: value'`);
    headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
  }
  const client = createCheckClient(values.address);
  try {
    const summary = await client.check({
      method: values.method,
      host: values.host,
      path: values.path,
      token: values.token,
      headers,
    });
    printSummary(summary);
    process.exitCode = summary.kind === 'allow' ? 0 : 3;
  } catch (e) {
    fail(`check failed: ${(e as Error).message}`, 1);
  } finally {
    client.close();
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'check-config': {
      const file = rest[0] ?? fail('check-config needs a FILE');
      const config = loadOrExit(file);
      process.stdout.write(`${file}: OK (${config.issuers.length} issuer(s), ${config.routes.length} route(s))\n`);
      return;
    }
    case 'schema':
      process.stdout.write(
        `${JSON.stringify(z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }), null, 2)}\n`,
      );
      return;
    case 'check':
      return check(rest);
    case 'status':
      return status(rest);
    case 'routes':
      process.exitCode = routesCommand(rest);
      return;
    case 'demo': {
      const { values } = parseArgs({
        args: rest,
        options: {
          for: { type: 'string', default: '600' },
          port: { type: 'string', default: '9001' },
          'admin-port': { type: 'string', default: '9090' },
        },
      });
      return runDemo({
        seconds: Number(values.for),
        grpcPort: Number(values.port),
        adminPort: Number(values['admin-port']),
      });
    }
    case '--version':
    case '-v':
      process.stdout.write(`${VERSION}\n`);
      return;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    default:
      fail(`unknown command "${command}"\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((e: Error) => fail(`claimgate: ${e.stack ?? e.message}`, 1));
