/**
 * Reading a config file for a reload: read, hash, parse YAML and validate against the schema. For a
 * large config that is hundreds of milliseconds of CPU (1,000 routes and 200 issuers: ~240 ms of YAML
 * and ~50 ms of schema, docs/benchmarks.md), so a reload does it on a worker thread and the event loop
 * keeps answering Checks; only the validated config crosses back (a structured clone, a few ms).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ConfigError, parseConfigText } from './load.js';
import type { Config } from './schema.js';

export type ConfigFileRead =
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'valid'; readonly hash: string; readonly config: Config }
  | { readonly kind: 'invalid'; readonly problems: readonly string[] };

export interface ConfigFileRequest {
  readonly path: string;
  /** SHA-256 of the content last applied: the same content again answers `unchanged` without parsing. */
  readonly unchangedHash?: string;
}

export const configTextHash = (text: string): string => createHash('sha256').update(text).digest('hex');

/** Reads and validates on the calling thread. Never throws: every failure is a list of problems. */
export function readConfigFile(request: ConfigFileRequest): ConfigFileRead {
  let text: string;
  try {
    text = readFileSync(request.path, 'utf8');
  } catch (e) {
    return {
      kind: 'invalid',
      problems: [`cannot read ${request.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`],
    };
  }
  const hash = configTextHash(text);
  if (hash === request.unchangedHash) return { kind: 'unchanged' };
  try {
    return { kind: 'valid', hash, config: parseConfigText(text, request.path) };
  } catch (e) {
    return { kind: 'invalid', problems: e instanceof ConfigError ? e.problems : [(e as Error).message] };
  }
}

const WORKER_SCRIPT = new URL('./config-file-worker.js', import.meta.url);
/**
 * The worker runs compiled JavaScript. Tests that import the TypeScript sources have no such file
 * next to this module; they read on the calling thread (the built server always has it).
 */
const workerAvailable = import.meta.url.endsWith('.js') && existsSync(fileURLToPath(WORKER_SCRIPT));

/** Bounds a hostile or runaway config's parse: the worker dies, the reload is rejected, the server lives. */
const WORKER_HEAP_MB = 512;

/** Reads and validates on a fresh worker thread (one per reload; reloads are rare, and it frees its memory). */
export function readConfigFileOffThread(request: ConfigFileRequest): Promise<ConfigFileRead> {
  if (!workerAvailable) return Promise.resolve(readConfigFile(request));
  return new Promise((resolve) => {
    const worker = new Worker(WORKER_SCRIPT, {
      workerData: request,
      resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
      stdout: true,
      stderr: true,
    });
    let answered = false;
    worker.once('message', (read: ConfigFileRead) => {
      answered = true;
      resolve(read);
    });
    worker.once('error', (e) => {
      answered = true;
      resolve({ kind: 'invalid', problems: [`cannot read ${request.path}: config reader failed (${e.message})`] });
    });
    worker.once('exit', (code) => {
      if (!answered)
        resolve({ kind: 'invalid', problems: [`cannot read ${request.path}: config reader exited (code ${code})`] });
    });
  });
}
