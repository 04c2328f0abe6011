/**
 * The key manager's timer primitive is the process's one timer (src/core/timers.ts); re-exported here so
 * the key modules keep their import.
 */
export { unrefTimer, type CancelTimer, type SetTimer } from '../core/timers.js';
