/**
 * A reload waits for its new JWKS files before the swap, but not for ever: a `jwks_file` that never
 * finishes reading (here a FIFO with no writer, like a stalled mount) holds the reload for
 * FILE_LOAD_WAIT_MS at most. Uses `mkfifo` (a child process), hence a system test.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FILE_LOAD_WAIT_MS, startInTurns } from '../../src/app/generation.js';
import { createKeySource } from '../../src/keys/key-source.js';
import type { SetTimer } from '../../src/keys/timers.js';
import { parseConfigText } from '../../src/validation/load.js';

describe('startInTurns and a JWKS file that never finishes reading', () => {
  it('stops waiting after FILE_LOAD_WAIT_MS, leaving the source unready', async () => {
    const fifo = join(mkdtempSync(join(tmpdir(), 'claimgate-fifo-')), 'jwks.json');
    execFileSync('mkfifo', [fifo]);
    const issuer = parseConfigText(`issuers:
  - { name: stalled, issuer: "https://idp.example.com", audiences: [api], jwks_file: "${fifo}" }
`).issuers[0]!;
    const source = createKeySource(issuer);
    const waits: number[] = [];
    // The wait's timer fires at once: time is not what this test is about, that the wait ends is.
    const fireAtOnce: SetTimer = (callback, delayMs) => {
      waits.push(delayMs);
      setImmediate(callback);
      return () => undefined;
    };
    try {
      await startInTurns([source], () => new Promise((resolve) => setImmediate(resolve)), fireAtOnce);
      expect(waits).toEqual([FILE_LOAD_WAIT_MS]);
      expect(source.ready()).toBe(false);
    } finally {
      source.close();
      // Give the blocked read its end of file, so no thread-pool thread stays stuck in open().
      closeSync(openSync(fifo, 'w'));
    }
  });
});
