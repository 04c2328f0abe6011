#!/usr/bin/env node
/**
 * claimgate command line. Every command has its own usage (`--help`), errors are one line with a
 * hint (exit 1; 2 for usage), data can be printed as JSON (`--json`), and tokens come from a file or
 * stdin rather than the command line. Commands: serve, check-config, schema, check, status, routes,
 * issuer, demo.
 */
import * as grpc from '@grpc/grpc-js';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { readFileSync } from 'node:fs';
import { checkConfigText, ConfigError } from './validation/load.js';
import type { Config } from './config/schema.js';
import { configJsonSchema } from './config/json-schema.js';
import { startClaimgate } from './app/claimgate.js';
import { createCheckClient, type CheckSummary } from './cli/check-client.js';
import { explainRequest, renderExplain } from './cli/explain.js';
import { CliError, exitQuietlyOnEpipe, out, readToken, startFailure, usageError } from './cli/io.js';
import { runDemo } from './demo/run-demo.js';
import { fromOpenApi, ROUTES_USAGE } from './openapi/cli.js';
import { DEFAULT_DEMO_IDP, requestDemoToken } from './demo/demo-token.js';
import { inspectIssuer } from './inspect/inspect-issuer.js';
import { hasErrors, renderInspectReport } from './inspect/render.js';
import { boundedStderr, createLogger, flushThen } from './core/log.js';
import type { KeySourceState } from './keys/key-source.js';
import { watchConfigFile } from './ops/config-watch.js';
import { isClusterWorker, runPrimary, serveWorkerIpc, workerCount } from './ops/cluster.js';
import { VERSION } from './core/version.js';

/** How long shutdown waits for the last log lines to be written before exiting anyway. */
const EXIT_FLUSH_MS = 2000;

const TOKEN_OPTIONS = {
  'token-file': { type: 'string' },
  'token-stdin': { type: 'boolean' },
  token: { type: 'string' },
} as const;

interface Command {
  readonly usage: string;
  readonly options: NonNullable<ParseArgsConfig['options']>;
  readonly positionals?: { readonly min: number; readonly max: number };
  run(values: Record<string, unknown>, positionals: string[]): Promise<void>;
}

const COMMANDS: Record<string, Command> = {
  serve: {
    usage: `Usage: claimgate serve [--config FILE]

Run the ext_authz gRPC server (and the HTTP front door and admin listener the config enables).
  -c, --config FILE   config file (or set CLAIMGATE_CONFIG)`,
    options: { config: { type: 'string', short: 'c' } },
    run: (v) => serve(v.config as string | undefined),
  },
  'check-config': {
    usage: `Usage: claimgate check-config FILE [--json]

Validate a config file exactly as serve and a reload do (schema, cross-references, compiling routes,
requirements and headers, TLS files); exit 1 listing every problem with its path. Warnings (e.g. a
route that can never match) go to stderr and leave the exit status 0.
  --json   print {"ok", "file", "issuers", "routes", "warnings"} on success`,
    options: { json: { type: 'boolean' } },
    positionals: { min: 1, max: 1 },
    run: async (v, [file]) => {
      const { config, warnings } = checkOrExit(readConfigOrExit(file!), file!);
      const counts = { issuers: config.issuers.length, routes: config.routes.length };
      for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
      if (v.json) return out(JSON.stringify({ ok: true, file, ...counts, warnings }));
      out(
        `${file}: OK (${counts.issuers} issuer(s), ${counts.routes} route(s)${warnings.length > 0 ? `, ${warnings.length} warning(s)` : ''})`,
      );
    },
  },
  schema: {
    usage: `Usage: claimgate schema

Print the config JSON Schema (for editors).`,
    options: {},
    run: async () => out(JSON.stringify(configJsonSchema(), null, 2)),
  },
  check: {
    usage: `Usage: claimgate check [--address HOST:PORT] [--method M] [--host H] [--path P]
                       [--token-file F | --token-stdin] [-H 'name: value']... [--json]

Send one Check to a running claimgate, the way Envoy would, and print the decision.
Exit 0 allow, 3 deny or error answer, 1 when claimgate cannot be reached.
  --address HOST:PORT   claimgate's gRPC address (default 127.0.0.1:9001)
  --method, --host, --path   the request (defaults GET, api.example.com, /)
  --token-file F        read the bearer token from a file
  --token-stdin         read the bearer token from standard input
  --token T             discouraged: a token on the command line shows in ps and shell history
  -H 'name: value'      an extra request header (repeatable)
  --json                print the decision as JSON`,
    options: {
      address: { type: 'string', default: '127.0.0.1:9001' },
      method: { type: 'string', default: 'GET' },
      host: { type: 'string', default: 'api.example.com' },
      path: { type: 'string', default: '/' },
      header: { type: 'string', short: 'H', multiple: true },
      json: { type: 'boolean' },
      ...TOKEN_OPTIONS,
    },
    run: (v) => check(v),
  },
  status: {
    usage: `Usage: claimgate status [--admin HOST:PORT] [--json]

Per-issuer key state of a running claimgate (from its admin listener). Exit 3 when not ready.
  --admin HOST:PORT   admin address (default 127.0.0.1:9090)
  --json              print the admin /status document`,
    options: { admin: { type: 'string', default: '127.0.0.1:9090' }, json: { type: 'boolean' } },
    run: (v) => status(v.admin as string, v.json === true),
  },
  demo: {
    usage: `Usage: claimgate demo [--for SECONDS] [--port N] [--admin-port N] [--idp-port N]
       claimgate demo token [--idp URL] [--scope S]... [--role R]... [--sub S] [--expires-in SECONDS] [--json]

demo: run claimgate with a built-in local OpenID provider on loopback; prints its config file and addresses.
  --for SECONDS     stop after this long (default 600)
  --port N          gRPC port (default 9001); --admin-port N (default 9090); --idp-port N (default 8081)
demo token: ask the running demo's IdP for a token and print it (nothing else) on stdout.
  --scope S         a scope (repeatable, or space-separated)
  --role R          a role (repeatable)
  --sub S           the subject (default demo-user)
  --expires-in N    lifetime in seconds; negative mints an already expired token (default 300)
  --idp URL         the demo IdP (default ${DEFAULT_DEMO_IDP})
  --json            print the IdP's whole answer`,
    options: {
      for: { type: 'string', default: '600' },
      port: { type: 'string', default: '9001' },
      'admin-port': { type: 'string', default: '9090' },
      'idp-port': { type: 'string', default: '8081' },
      idp: { type: 'string' },
      scope: { type: 'string', multiple: true },
      role: { type: 'string', multiple: true },
      sub: { type: 'string' },
      'expires-in': { type: 'string' },
      json: { type: 'boolean' },
    },
    positionals: { min: 0, max: 1 },
    run: (v, [sub]) => (sub === 'token' ? demoToken(v) : demo(v, sub)),
  },
  explain: {
    usage: `Usage: claimgate explain --config FILE (--token-file F | --token-stdin) --method M --path P
                         [--host H] [-H 'name: value']... [--jwks-file F] [--json]

Run one request through the real decision engine offline and print each step: the route matched and
why, the issuer selected, verification (or introspection of an opaque token), enrichment, the sender
constraint (DPoP or certificate binding), each requirement with its result, the identity headers the
upstream would receive, and the answer with its reason code. Only the token's issuer's keys are
fetched (or --jwks-file is used instead). Exit 0 allow, 3 deny or error answer.
  -c, --config FILE   the config to explain against
  --token-file F      read the bearer token from a file
  --token-stdin       read the bearer token from standard input (omit both: a request without a token)
  --method M, --path P, --host H   the request (host default api.example.com)
  -H 'name: value'    an extra request header (repeatable)
  --jwks-file F       verify with this JWKS file instead of the issuers' own keys
  --json              print the steps and the answer as JSON`,
    options: {
      config: { type: 'string', short: 'c' },
      method: { type: 'string' },
      path: { type: 'string' },
      host: { type: 'string', default: 'api.example.com' },
      header: { type: 'string', short: 'H', multiple: true },
      'jwks-file': { type: 'string' },
      json: { type: 'boolean' },
      ...TOKEN_OPTIONS,
    },
    run: (v) => explain(v),
  },
  routes: {
    usage: ROUTES_USAGE.trimEnd(),
    options: { issuer: { type: 'string' }, check: { type: 'string' } },
    positionals: { min: 2, max: 2 },
    run: async (v, [action, file]) => {
      if (action !== 'from-openapi') throw usageError(`unknown routes action "${action}"`, ROUTES_USAGE.trimEnd());
      process.exitCode = fromOpenApi(file!, {
        ...(v.issuer !== undefined ? { issuer: v.issuer as string } : {}),
        ...(v.check !== undefined ? { check: v.check as string } : {}),
      });
    },
  },
  issuer: {
    usage: `Usage: claimgate issuer inspect URL [--audience A] [--token-file F | --token-stdin] [--json]

Fetch a partner IdP's discovery document and JWKS live, check them (HTTPS, exact issuer, keys, algorithms,
cache headers), verify a sample token if given, and print an issuer block for the config plus what is
still missing. Exit 1 when something would stop claimgate from accepting this issuer's tokens.
  URL                 the issuer URL (what its tokens carry in iss)
  --audience A        the audience this partner's tokens carry for your API
  --token-file F      a sample access token, from a file
  --token-stdin       a sample access token, from standard input
  --json              print the report as JSON`,
    options: { audience: { type: 'string' }, json: { type: 'boolean' }, ...TOKEN_OPTIONS },
    positionals: { min: 2, max: 2 },
    run: (v, [action, url]) => issuerInspect(v, action!, url!),
  },
};

const USAGE = `claimgate ${VERSION} — Envoy external authorization for JWTs from allow-listed issuers

Usage: claimgate COMMAND [options]    (claimgate COMMAND --help for each)

Commands:
  serve [--config FILE]          run the ext_authz server (or set CLAIMGATE_CONFIG)
  check-config FILE              validate a config file; exit 1 with every problem
  schema                         print the config JSON Schema (for editors)
  check [options]                send one Check to a running claimgate and print the decision
  status [--admin HOST:PORT]     per-issuer key state of a running claimgate
  explain --config F [options]   show each step of the decision for one request, offline
  routes from-openapi FILE [options]
                                 routes from an OpenAPI 3.0/3.1 document, or drift from a config
  issuer inspect URL [options]   check a partner IdP and print a ready issuer block
  demo [options]                 run with a built-in local OpenID provider on loopback
  demo token [options]           mint a token from the running demo's IdP
  --version                      print the version
`;

function readConfigOrExit(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const hint =
      code === 'ENOENT'
        ? ' (no such file: relative paths are from the current directory)'
        : code === 'EACCES'
          ? ' (no permission to read it)'
          : code === 'EISDIR'
            ? ' (a directory: give the config file inside it)'
            : '';
    throw new CliError(`config ${path}: cannot read file: ${code ?? (e as Error).message}${hint}`);
  }
}

/** The validation pipeline (load.ts) serve and reloads run; problems end the command, warnings do not. */
function checkOrExit(text: string, path: string): { config: Config; warnings: readonly string[] } {
  const checked = checkConfigText(text);
  if (checked.config === undefined) throw new CliError(new ConfigError(path, checked.problems).message);
  return { config: checked.config, warnings: checked.warnings };
}

const parseOrExit = (text: string, path: string): Config => checkOrExit(text, path).config;

const loadOrExit = (path: string) => parseOrExit(readConfigOrExit(path), path);

export function printSummary(s: CheckSummary, print: (line: string) => void = out): void {
  print(`${s.kind.toUpperCase()} ${s.httpStatus}${s.reason ? ` ${s.reason}` : ''} (grpc status ${s.grpcCode})`);
  for (const [k, v] of Object.entries(s.headers)) print(`  ${k}: ${v}`);
  if (s.headersToRemove.length > 0) print(`  (removed upstream: ${s.headersToRemove.join(', ')})`);
  if (s.body) print(`  body: ${s.body}`);
}

/** The setting that moves each listener, for a one-line "port in use" hint. */
function listenerHints(config: Config, demoFlags = false): Record<string, string> {
  const hints: Record<string, string> = {
    [config.server.grpc_address]: demoFlags ? 'pass --port N' : 'pass another server.grpc_address in the config',
    [config.server.admin_address]: demoFlags
      ? 'pass --admin-port N'
      : 'pass another server.admin_address in the config',
  };
  if (config.http) hints[config.http.address] = 'set another http.address in the config';
  return hints;
}

async function serve(configOption: string | undefined): Promise<void> {
  const path = configOption || process.env.CLAIMGATE_CONFIG;
  if (!path) throw usageError('serve needs --config FILE or CLAIMGATE_CONFIG', COMMANDS.serve!.usage);
  const text = readConfigOrExit(path);
  const { config, warnings } = checkOrExit(text, path);
  const logger = createLogger(config.logging.level, boundedStderr(config.logging.max_buffer_bytes));
  for (const warning of warnings) logger.warn({ file: path, warning }, 'config warning');
  if (!isClusterWorker() && workerCount(config) > 1) {
    await runPrimary(config, logger);
    logger.info('stopped');
    flushThen(logger, EXIT_FLUSH_MS, () => process.exit(0));
    return;
  }
  const worker = isClusterWorker();
  const app = await startClaimgate(config, { logger, configFileText: text, admin: !worker }).catch((e: Error) => {
    throw startFailure(e, listenerHints(config));
  });
  if (worker)
    serveWorkerIpc({
      status: app.status,
      reload: () => void app.reloadFromFile(path, true),
      registry: app.metrics.registry,
    });
  const stopWatching = config.server.watch_config
    ? watchConfigFile(path, () => void app.reloadFromFile(path))
    : () => undefined;
  process.on('SIGHUP', () => {
    logger.info({ file: path }, 'SIGHUP: reloading config');
    // An explicit SIGHUP reloads even an unchanged file (e.g. to re-read a repaired JWKS file).
    void app.reloadFromFile(path, true);
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    stopWatching();
    logger.info({ signal }, 'shutting down: health NOT_SERVING, draining in-flight checks');
    void app.close().then(() => {
      logger.info('stopped');
      flushThen(logger, EXIT_FLUSH_MS, () => process.exit(0));
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function status(admin: string, json: boolean): Promise<void> {
  const res = await fetch(`http://${admin}/status`, { signal: AbortSignal.timeout(5000) }).catch((e: Error) => {
    const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
    throw new CliError(`cannot reach claimgate's admin listener at ${admin}${cause} (is it running? pass --admin)`);
  });
  const body = (await res.json()) as { ready: boolean; config_loaded_at: string; issuers: KeySourceState[] };
  process.exitCode = body.ready ? 0 : 3;
  if (json) return out(JSON.stringify(body));
  const iso = (ms?: number) => (ms === undefined ? '-' : new Date(ms).toISOString());
  out(`ready: ${body.ready}   config loaded: ${body.config_loaded_at}`);
  for (const s of body.issuers) {
    out(
      `${s.issuer}: ${s.usable ? 'usable' : 'UNUSABLE'}, ${s.keyCount} key(s), last success ${iso(s.lastSuccessAt)}, ` +
        `${s.consecutiveFailures} consecutive failure(s), stale ${s.staleSeconds}s, next refresh ${iso(s.nextRefreshAt)}` +
        `${s.lastError ? `, last error: ${s.lastError}` : ''}`,
    );
  }
}

function headerOptions(v: Record<string, unknown>, usage: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const h of (v.header as string[] | undefined) ?? []) {
    const colon = h.indexOf(':');
    if (colon <= 0) throw usageError(`bad header "${h}": expected 'name: value'`, usage);
    headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
  }
  return headers;
}

async function explain(v: Record<string, unknown>): Promise<void> {
  const usage = COMMANDS.explain!.usage;
  if (typeof v.config !== 'string') throw usageError('explain needs --config FILE', usage);
  if (typeof v.method !== 'string' || typeof v.path !== 'string')
    throw usageError('explain needs --method M and --path P', usage);
  if (v.token !== undefined) throw usageError('pass the token with --token-file or --token-stdin', usage);
  const headers = headerOptions(v, usage);
  const config = loadOrExit(v.config);
  const token = readToken(v);
  const report = await explainRequest({
    config,
    method: v.method,
    path: v.path,
    host: v.host as string,
    headers,
    ...(token === undefined ? {} : { token }),
    ...(typeof v['jwks-file'] === 'string' ? { jwksFile: v['jwks-file'] } : {}),
  });
  process.exitCode = report.decision.outcome === 'allow' ? 0 : 3;
  if (v.json) out(JSON.stringify(report, null, 2));
  else for (const line of renderExplain(config, report)) out(line);
}

async function check(v: Record<string, unknown>): Promise<void> {
  const headers = headerOptions(v, COMMANDS.check!.usage);
  const token = readToken(v);
  const address = v.address as string;
  const client = createCheckClient(address);
  try {
    const summary = await client.check({
      method: v.method as string,
      host: v.host as string,
      path: v.path as string,
      token,
      headers,
    });
    process.exitCode = summary.kind === 'allow' ? 0 : 3;
    if (v.json) {
      const { raw: _raw, ...data } = summary;
      out(JSON.stringify(data));
    } else printSummary(summary);
  } catch (e) {
    if ((e as grpc.ServiceError).code === grpc.status.UNAVAILABLE) {
      const cause = /\bE[A-Z]{3,}\b/.exec((e as grpc.ServiceError).details ?? '')?.[0] ?? 'unavailable';
      throw new CliError(`cannot reach claimgate at ${address} (${cause}): is it listening there? pass --address`);
    }
    throw new CliError(`check failed: ${(e as Error).message}`);
  } finally {
    client.close();
  }
}

function port(value: unknown, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw usageError(`${flag}: not a port: ${String(value)}`, COMMANDS.demo!.usage);
  return n;
}

async function demo(v: Record<string, unknown>, sub: string | undefined): Promise<void> {
  if (sub !== undefined) throw usageError(`unknown demo action "${sub}"`, COMMANDS.demo!.usage);
  const seconds = Number(v.for);
  if (!Number.isFinite(seconds) || seconds < 0) throw usageError('--for: seconds', COMMANDS.demo!.usage);
  const grpcPort = port(v.port, '--port');
  const adminPort = port(v['admin-port'], '--admin-port');
  const idpPort = port(v['idp-port'], '--idp-port');
  await runDemo({ seconds, grpcPort, adminPort, idpPort }).catch((e: Error) => {
    throw startFailure(e, {
      [`127.0.0.1:${grpcPort}`]: 'pass --port N',
      [`127.0.0.1:${adminPort}`]: 'pass --admin-port N',
      [`127.0.0.1:${idpPort}`]: 'pass --idp-port N (and --idp to demo token)',
    });
  });
}

async function demoToken(v: Record<string, unknown>): Promise<void> {
  const expires = v['expires-in'] === undefined ? 300 : Number(v['expires-in']);
  if (!Number.isInteger(expires)) throw usageError('--expires-in: whole seconds', COMMANDS.demo!.usage);
  const body = await requestDemoToken({
    idp: v.idp as string | undefined,
    scopes: ((v.scope as string[] | undefined) ?? []).flatMap((s) => s.split(' ')).filter((s) => s !== ''),
    roles: (v.role as string[] | undefined) ?? [],
    sub: v.sub as string | undefined,
    expiresInSeconds: expires,
  }).catch((e: Error) => {
    throw new CliError(e.message);
  });
  out(v.json ? JSON.stringify(body) : String(body.access_token));
}

async function issuerInspect(v: Record<string, unknown>, action: string, url: string): Promise<void> {
  if (action !== 'inspect') throw usageError(`unknown issuer action "${action}"`, COMMANDS.issuer!.usage);
  if (v.token !== undefined)
    throw usageError('pass the sample token with --token-file or --token-stdin', COMMANDS.issuer!.usage);
  const token = readToken(v);
  const report = await inspectIssuer({
    url,
    ...(v.audience !== undefined ? { audience: v.audience as string } : {}),
    ...(token !== undefined ? { token } : {}),
  });
  process.exitCode = hasErrors(report) ? 1 : 0;
  if (v.json) out(JSON.stringify(report, null, 2));
  else for (const l of renderInspectReport(report)) out(l);
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h')
    return void process.stdout.write(USAGE);
  if (name === '--version' || name === '-V' || name === '-v' || name === 'version') return out(VERSION);
  const command = COMMANDS[name];
  if (command === undefined) throw usageError(`unknown command "${name}"`, USAGE.trimEnd());
  if (rest.includes('--help') || rest.includes('-h')) return out(command.usage);
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
  } catch (e) {
    throw usageError((e as Error).message, command.usage);
  }
  const { min = 0, max = 0 } = command.positionals ?? {};
  if (parsed.positionals.length < min || parsed.positionals.length > max)
    throw usageError(
      parsed.positionals.length < min ? 'missing argument' : `unexpected argument "${parsed.positionals[max]}"`,
      command.usage,
    );
  await command.run(parsed.values, parsed.positionals);
}

exitQuietlyOnEpipe();
// grpc-js prints its own error lines (e.g. on a bind failure) next to ours; claimgate reports those itself.
if (process.env.GRPC_VERBOSITY === undefined) grpc.setLogVerbosity(grpc.logVerbosity.NONE);
main(process.argv.slice(2)).catch((e: Error) => {
  if (e instanceof CliError) {
    process.stderr.write(`claimgate: ${e.message}\n`);
    process.exit(e.exitCode);
  }
  process.stderr.write(`claimgate: unexpected error: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
