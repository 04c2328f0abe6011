import { createDecisionLogger } from '../../src/ops/decision-log.js';
import { createLogger } from '../../src/log.js';
import type { Decision } from '../../src/engine/types.js';

const allow: Decision = { outcome: 'allow', reason: 'OK_AUTHENTICATED', route: 'r', issuer: 'idp', subject: 'alice@example.com', headersToSet: [], headersToRemove: [] };

function capture(options: Parameters<typeof createDecisionLogger>[1]) {
  const lines: Record<string, unknown>[] = [];
  const log = createDecisionLogger(createLogger('info', { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) }), options);
  return { log, lines };
}

describe('decision log line', () => {
  it('carries decision, reason, issuer, route, sub, duration and the request id', () => {
    const { log, lines } = capture({ allowSampleRate: 1 });
    log({ method: 'GET', host: 'h', path: '/p', headers: new Map(), requestId: 'req-1' }, allow, 0.000123);
    expect(lines[0]).toMatchObject({ msg: 'decision', decision: 'allow', reason: 'OK_AUTHENTICATED', issuer: 'idp', route: 'r', sub: 'alice@example.com', request_id: 'req-1', duration_ms: 0.123 });
  });

  it('leaves the subject out when include_subject is off', () => {
    const { log, lines } = capture({ allowSampleRate: 1, includeSubject: false });
    log(undefined, allow, 0.001);
    expect(lines[0]).toMatchObject({ decision: 'allow' });
    expect(JSON.stringify(lines[0])).not.toContain('alice');
  });

  it('samples allows but always logs denials', () => {
    const { log, lines } = capture({ allowSampleRate: 0.5, random: () => 0.75 });
    log(undefined, allow, 0.001);
    log(undefined, { outcome: 'deny', reason: 'ERR_TOKEN_MISSING', status: 401 }, 0.001);
    expect(lines.map((l) => l.decision)).toEqual(['deny']);
  });
});
