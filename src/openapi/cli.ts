/**
 * `claimgate routes from-openapi FILE [--issuer NAME] [--check CONFIG]`: print routes for an OpenAPI
 * document, or with --check report drift between a config and it (exit 1 when they disagree).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, parseConfigText } from '../validation/load.js';
import { readOpenApi, OpenApiError } from './document.js';
import { driftBetween } from './drift.js';
import { routesYaml } from './output.js';
import { routesFromOpenApi } from './routes.js';

export const ROUTES_USAGE = `Usage: claimgate routes from-openapi FILE [--issuer NAME] [--check CONFIG]

Print claimgate routes for an OpenAPI 3.0/3.1 document (warnings on stderr), or with --check report
drift between CONFIG's routes and the document. Exit 0 done (no drift), 1 drift or unreadable input.
  --issuer NAME    the issuer the routes require (and, with --check, that CONFIG must have)
  --check CONFIG   compare CONFIG's routes with the document instead of printing routes
`;

export interface FromOpenApiOptions {
  readonly issuer?: string;
  readonly check?: string;
}

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

const processIo: CliIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

/** Returns the exit code: 0 done (no drift), 1 drift or unreadable input, 2 usage. */
export function routesCommand(args: readonly string[], io: CliIo = processIo): number {
  const [sub, ...rest] = args;
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    io.out(ROUTES_USAGE);
    return 0;
  }
  if (sub !== 'from-openapi') {
    io.err(ROUTES_USAGE);
    return 2;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: [...rest],
      allowPositionals: true,
      options: { issuer: { type: 'string' }, check: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (e) {
    io.err(`${(e as Error).message}\n${ROUTES_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(ROUTES_USAGE);
    return 0;
  }
  const [file] = positionals;
  if (file === undefined || positionals.length > 1) {
    io.err(ROUTES_USAGE);
    return 2;
  }
  return fromOpenApi(file, values, io);
}

/** `routes from-openapi` once its arguments are read; returns the exit code (0 or 1). */
export function fromOpenApi(file: string, values: FromOpenApiOptions, io: CliIo = processIo): number {
  try {
    const doc = readOpenApi(readFileSync(file, 'utf8'), file);
    const options = { issuer: values.issuer };
    if (values.check === undefined) {
      const result = routesFromOpenApi(doc, options);
      for (const w of result.warnings) io.err(`warning: ${w}\n`);
      io.out(routesYaml(result, file, doc.title));
      return 0;
    }
    const config = parseConfigText(readFileSync(values.check, 'utf8'), values.check);
    if (values.issuer !== undefined && !config.issuers.some((i) => i.name === values.issuer)) {
      io.err(`--issuer ${values.issuer}: ${values.check} has no issuer of that name\n`);
      return 1;
    }
    const drift = driftBetween(doc, config, options);
    if (drift.length === 0) {
      io.out(`${values.check}: routes match ${file} (${doc.operations.length} operation(s))\n`);
      return 0;
    }
    io.out(`${values.check}: ${drift.length} difference(s) from ${file}\n${drift.map((d) => `  - ${d}\n`).join('')}`);
    return 1;
  } catch (e) {
    if (e instanceof OpenApiError || e instanceof ConfigError) {
      io.err(`${e.message}\n`);
      return 1;
    }
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined) {
      io.err(`cannot read ${(e as NodeJS.ErrnoException).path ?? 'file'}: ${code}\n`);
      return 1;
    }
    throw e;
  }
}
