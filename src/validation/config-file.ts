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
import { checkConfigText } from './load.js';
import type { Config } from '../config/schema.js';

export type ConfigFileRead =
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'valid'; readonly hash: string; readonly config: Config; readonly warnings: readonly string[] }
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
  // The same pipeline serve and check-config run (it never throws).
  const checked = checkConfigText(text);
  return checked.config === undefined
    ? { kind: 'invalid', problems: checked.problems }
    : { kind: 'valid', hash, config: checked.config, warnings: checked.warnings };
}

const WORKER_SCRIPT = new URL('./config-file-worker.js', import.meta.url);
/**
 * The worker runs compiled JavaScript. Tests that import the TypeScript sources have no such file
 * next to this module; they read on the calling thread (the built server always has it).
 */
const workerAvailable = import.meta.url.endsWith('.js') && existsSync(fileURLToPath(WORKER_SCRIPT));

/** Bounds a hostile or runaway config's parse: the worker dies, the reload is rejected, the server lives. */
const WORKER_HEAP_MB = 512;
/**
 * The reader thread stays for bursts of reloads (a ConfigMap rollout, repeated SIGHUPs) and is ended
 * after this long without one, so an idle server holds no second V8 heap with the YAML and schema code.
 */
export const READER_IDLE_MS = 30_000;

interface ReaderThread {
  readonly worker: Worker;
  readonly pending: Map<number, (read: ConfigFileRead) => void>;
  idleTimer?: NodeJS.Timeout;
}

let reader: ReaderThread | undefined;
let nextRequestId = 1;

/** Ends the reader thread; requests still waiting get a problem answer. */
function discardReader(thread: ReaderThread, why: string): void {
  if (reader === thread) reader = undefined;
  clearTimeout(thread.idleTimer);
  void thread.worker.terminate();
  for (const settle of thread.pending.values())
    settle({ kind: 'invalid', problems: [`config reader failed (${why})`] });
  thread.pending.clear();
}

function readerThread(): ReaderThread {
  if (reader !== undefined) return reader;
  const worker = new Worker(WORKER_SCRIPT, {
    resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
    stdout: true,
    stderr: true,
  });
  worker.unref(); // never what keeps the process alive
  const thread: ReaderThread = { worker, pending: new Map() };
  worker.on('message', ({ id, read }: { id: number; read: ConfigFileRead }) => {
    thread.pending.get(id)?.(read);
    thread.pending.delete(id);
    if (thread.pending.size === 0)
      thread.idleTimer = setTimeout(() => discardReader(thread, 'idle'), READER_IDLE_MS).unref();
  });
  worker.on('error', (e) => discardReader(thread, e.message));
  worker.on('exit', (code) => discardReader(thread, `exited with code ${code}`));
  reader = thread;
  return thread;
}

/** Reads and validates on the reader thread (started on first use, ended after READER_IDLE_MS idle). */
export function readConfigFileOffThread(request: ConfigFileRequest): Promise<ConfigFileRead> {
  if (!workerAvailable) return Promise.resolve(readConfigFile(request));
  const thread = readerThread();
  clearTimeout(thread.idleTimer);
  const id = nextRequestId++;
  return new Promise((resolve) => {
    thread.pending.set(id, resolve);
    thread.worker.postMessage({ id, request });
  });
}
