/**
 * Worker-thread entry of readConfigFileOffThread: one request in `workerData`, one answer back.
 *
 * The thread first lowers its own scheduling priority, then loads the parser: where claimgate has one
 * core (a pinned process, a pod limited to one CPU), the parse then takes only the time Checks leave
 * idle instead of half the core. Linux lets a thread renice itself by its thread id
 * (setpriority(2) on a TID); elsewhere it keeps the normal priority.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { ConfigFileRequest } from './config-file.js';

/** The lowest priority (nice 19). */
const NICEST = 19;

function lowerOwnPriority(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, NICEST);
  } catch {
    // Not Linux, or no /proc: parse at normal priority.
  }
}

lowerOwnPriority();
const { readConfigFile } = await import('./config-file.js');
parentPort?.postMessage(readConfigFile(workerData as ConfigFileRequest));
