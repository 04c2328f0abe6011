/**
 * Unit parts of the listener bounds: the rate-limited refusal report and the descriptor-limit check.
 * (The bounds themselves are exercised on the real process in test/hardening/listener-bounds.test.ts.)
 */
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log.js';
import {
  descriptorLimit,
  descriptorWarning,
  refusalReporter,
  type BoundReason,
} from '../../src/net/listener-bounds.js';

function captureLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n'))
        if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('info', stream), lines };
}

describe('refusalReporter', () => {
  it('counts every refusal but logs one line per reason per 10 s, with the count since the last line', () => {
    const { logger, lines } = captureLogger();
    const counted: BoundReason[] = [];
    const clock = { now: 0 };
    const report = refusalReporter({ listener: 'http', logger, refused: (r) => counted.push(r) }, () => clock.now);
    for (let i = 0; i < 5; i++) report('max_connections');
    report('idle_timeout');
    clock.now = 10_000;
    for (let i = 0; i < 3; i++) report('max_connections');
    expect(counted).toHaveLength(9);
    expect(lines.map((l) => [l.listener, l.reason, l.count])).toEqual([
      ['http', 'max_connections', 1],
      ['http', 'idle_timeout', 1],
      ['http', 'max_connections', 5],
    ]);
  });

  it('keeps reporting when the metrics callback throws', () => {
    const report = refusalReporter({
      listener: 'admin',
      refused: () => {
        throw new Error('metrics broke');
      },
    });
    expect(() => report('request_timeout')).not.toThrow();
  });
});

describe('descriptor limit', () => {
  it('reads the soft open-file limit from /proc/self/limits text', () => {
    const text =
      'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n';
    expect(descriptorLimit(text)).toBe(1024);
    expect(descriptorLimit('nothing here')).toBeUndefined();
  });

  it('warns when a connection cap could take more than half the descriptors', () => {
    expect(descriptorWarning(4096, 1024)).toMatch(/exceeds half the open-file limit \(1024\)/);
    expect(descriptorWarning(512, 1024)).toBeUndefined();
    expect(descriptorWarning(4096, undefined)).toBeUndefined();
  });
});
