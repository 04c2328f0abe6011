/**
 * What `serve` would refuse after the schema accepted a config: each part is compiled the way
 * compileConfig compiles it (routes, requirements, identity headers, issuers, metadata), and the TLS
 * files are read and parsed as the listeners will. Each failure names the part it came from, so
 * check-config, serve and a reload report the same problem at the same path.
 */
import { readFileSync } from 'node:fs';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { KeySource } from '../keys/key-source.js';
import { compileIdentityHeaders } from '../engine/identity.js';
import { buildResourceMetadata } from '../engine/resource-metadata.js';
import { compileRoutes } from '../engine/routes.js';
import { compileLocation } from '../token/extract.js';
import { compileIssuer } from '../token/verify.js';
import { compileConfig } from '../engine/compile.js';
import type { PathProblem } from '../config/cross-checks.js';
import type { Config } from '../config/schema.js';

/** Compilation never calls a key source; this one only stands in for it. */
const NO_KEYS = Object.freeze({}) as KeySource;

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

function attempt(path: readonly (string | number)[], compile: () => unknown, problems: PathProblem[]): boolean {
  try {
    compile();
    return true;
  } catch (e) {
    problems.push({ path, message: `cannot be compiled: ${messageOf(e)}` });
    return false;
  }
}

/** Reads a PEM file the way the listeners will; a problem names what was found. */
function pemProblem(file: string, kind: 'certificate' | 'private key'): string | undefined {
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (e) {
    return `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? messageOf(e)}`;
  }
  try {
    if (kind === 'certificate') new X509Certificate(pem);
    else createPrivateKey(pem);
    return undefined;
  } catch (e) {
    return `${file} is not a PEM ${kind} (${messageOf(e)})`;
  }
}

/** The TLS files, read and parsed as the listeners will read them. */
export function tlsProblems(tls: NonNullable<Config['tls']>): PathProblem[] {
  const problems: PathProblem[] = [];
  const found: [string, string | undefined][] = [
    ['cert_file', pemProblem(tls.cert_file, 'certificate')],
    ['key_file', pemProblem(tls.key_file, 'private key')],
  ];
  if (tls.client_ca_file !== undefined) found.push(['client_ca_file', pemProblem(tls.client_ca_file, 'certificate')]);
  for (const [key, message] of found) if (message !== undefined) problems.push({ path: ['tls', key], message });
  if (problems.length > 0) return problems;
  try {
    createSecureContext({ cert: readFileSync(tls.cert_file), key: readFileSync(tls.key_file) });
  } catch (e) {
    problems.push({ path: ['tls', 'key_file'], message: `does not match cert_file (${messageOf(e)})` });
  }
  return problems;
}

/** Every problem compiling `config` would meet (the TLS files are tlsProblems'). */
export function compileProblems(config: Config): PathProblem[] {
  const problems: PathProblem[] = [];
  let partsOk = true;
  config.issuers.forEach((issuer, i) => {
    partsOk =
      attempt(
        ['issuers', i],
        () => {
          issuer.token_locations.forEach((l) => compileLocation(l));
          compileIssuer(issuer, NO_KEYS, new Set());
        },
        problems,
      ) && partsOk;
  });
  config.routes.forEach((route, i) => {
    partsOk = attempt(['routes', i], () => compileRoutes([route]), problems) && partsOk;
  });
  partsOk = attempt(['upstream'], () => compileIdentityHeaders(config.upstream), problems) && partsOk;
  partsOk = attempt(['resource_metadata'], () => buildResourceMetadata(config), problems) && partsOk;
  // The whole, as serve compiles it (on a copy: compiling freezes its input).
  if (partsOk) attempt([], () => compileConfig(structuredClone(config), () => NO_KEYS), problems);
  return problems;
}
