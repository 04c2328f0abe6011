/**
 * Worker-thread entry of readConfigFileOffThread: requests `{ id, request }` in, `{ id, read }` out.
 *
 * The thread first lowers its own scheduling priority, then loads the parser: where claimgate has one
 * core (a pinned process, a pod limited to one CPU), the parse then takes mostly the time Checks leave
 * idle instead of half the core. Linux lets a thread renice itself by its thread id
 * (setpriority(2) on a TID); elsewhere it keeps the normal priority.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import type { ConfigFileRequest } from './config-file.js';

/**
 * nice 10: CFS weight 110 against the main thread's 1024, so a parse competing with Checks for one core
 * gets ~10% of it. Not 19 (weight 15): on a saturated core a large config would then take ~20 s to load.
 */
const READER_NICE = 10;

function lowerOwnPriority(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, READER_NICE);
  } catch {
    // Not Linux, or no /proc: parse at normal priority.
  }
}

lowerOwnPriority();
const { readConfigFile } = await import('./config-file.js');
parentPort?.on('message', ({ id, request }: { id: number; request: ConfigFileRequest }) =>
  parentPort?.postMessage({ id, read: readConfigFile(request) }),
);
