import { createDecisionLogger } from '../../src/ops/decision-log.js';
import { createLogger, lineWriterOf } from '../../src/log.js';
import type { Decision } from '../../src/engine/types.js';

const allow: Decision = {
  outcome: 'allow',
  reason: 'OK_AUTHENTICATED',
  route: 'r',
  issuer: 'idp',
  subject: 'alice@example.com',
  headersToSet: [],
  headersToRemove: [],
};

function capture(options: Parameters<typeof createDecisionLogger>[1]) {
  const lines: Record<string, unknown>[] = [];
  const log = createDecisionLogger(
    createLogger('info', { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) }),
    options,
  );
  return { log, lines };
}

describe('decision log line', () => {
  it('carries decision, reason, issuer, route, sub, duration and the request id', () => {
    const { log, lines } = capture({ allowSampleRate: 1 });
    log({ method: 'GET', host: 'h', path: '/p', headers: new Map(), requestId: 'req-1' }, allow, 0.000123);
    expect(lines[0]).toMatchObject({
      msg: 'decision',
      decision: 'allow',
      reason: 'OK_AUTHENTICATED',
      issuer: 'idp',
      route: 'r',
      sub: 'alice@example.com',
      request_id: 'req-1',
      duration_ms: 0.123,
    });
  });

  it('a 403 names the requirement that failed by its place in the tree, never a token value', () => {
    const { log, lines } = capture({ allowSampleRate: 1 });
    const d: Decision = {
      outcome: 'deny',
      reason: 'ERR_ROLE_MISSING',
      status: 403,
      route: 'admin',
      issuer: 'idp',
      subject: 'alice@example.com',
      requirement: 'all[1].role',
    };
    log(undefined, d, 0.001);
    expect(lines[0]).toMatchObject({ reason: 'ERR_ROLE_MISSING', requirement: 'all[1].role' });
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

  it('logs a shadow-mode allow like a denial: never sampled away, with the reason it would have had', () => {
    const { log, lines } = capture({ allowSampleRate: 0, random: () => 0.75 });
    const shadowed: Decision = { ...allow, reason: 'OK_SHADOW_MODE', headersToSet: [], wouldDeny: 'ERR_ROLE_MISSING' };
    log(undefined, allow, 0.001);
    log(undefined, shadowed, 0.001);
    expect(lines.map((l) => [l.decision, l.reason, l.would_deny])).toEqual([
      ['allow', 'OK_SHADOW_MODE', 'ERR_ROLE_MISSING'],
    ]);
  });
});

describe('denial line limit', () => {
  it('logs at most N identical denials per second and then one summary line with the count', () => {
    const clock = { now: 0 };
    const { log, lines } = capture({ allowSampleRate: 1, denialLinesPerSecond: 3, nowMs: () => clock.now });
    const bad: Decision = { outcome: 'deny', reason: 'ERR_SIGNATURE_INVALID', status: 401, route: 'r', issuer: 'idp' };
    const other: Decision = { outcome: 'deny', reason: 'ERR_TOKEN_MISSING', status: 401, route: 'r' };
    for (let i = 0; i < 10; i++) log(undefined, bad, 0.001);
    log(undefined, other, 0.001);
    clock.now = 1000;
    log(undefined, bad, 0.001);
    expect(lines.map((l) => `${String(l.msg)}:${String(l.reason)}:${String(l.suppressed ?? '')}`)).toEqual([
      'decision:ERR_SIGNATURE_INVALID:',
      'decision:ERR_SIGNATURE_INVALID:',
      'decision:ERR_SIGNATURE_INVALID:',
      'decision:ERR_TOKEN_MISSING:',
      'decision lines suppressed:ERR_SIGNATURE_INVALID:7',
      'decision:ERR_SIGNATURE_INVALID:',
    ]);
  });

  it('never limits allows (they are sampled instead)', () => {
    const { log, lines } = capture({ allowSampleRate: 1, denialLinesPerSecond: 1, nowMs: () => 0 });
    for (let i = 0; i < 5; i++) log(undefined, allow, 0.001);
    expect(lines).toHaveLength(5);
  });
});

describe('decision lines written without pino (claimgate’s own logger)', () => {
  /** Both loggers write the same format; a child logger is not claimgate's own, so it goes through pino. */
  function both(includeSubject = true) {
    const direct: string[] = [];
    const viaPino: string[] = [];
    const directLog = createDecisionLogger(createLogger('info', { write: (l: string) => void direct.push(l) }), {
      allowSampleRate: 1,
      includeSubject,
    });
    const pinoLog = createDecisionLogger(
      createLogger('info', { write: (l: string) => void viaPino.push(l) }).child({}),
      { allowSampleRate: 1, includeSubject },
    );
    return { direct, viaPino, log: (...a: Parameters<typeof directLog>) => (directLog(...a), pinoLog(...a)) };
  }
  const withoutTime = (line: string) => line.replace(/"time":"[^"]*"/, '"time":"T"');

  it('is the path taken for a logger from createLogger, and only for one', () => {
    const sink = { write: () => undefined };
    expect(lineWriterOf(createLogger('info', sink))).toBeDefined();
    expect(lineWriterOf(createLogger('info', sink).child({}))).toBeUndefined();
  });

  it.each<[string, Decision, Parameters<ReturnType<typeof createDecisionLogger>>[0]]>([
    [
      'an allow with request id',
      allow,
      { method: 'GET', host: 'h', path: '/p', headers: new Map(), requestId: 'r"1\n' },
    ],
    ['an allow without a view', allow, undefined],
    [
      'a 403 with a requirement',
      {
        outcome: 'deny',
        reason: 'ERR_ROLE_MISSING',
        status: 403,
        route: 'r',
        issuer: 'i',
        subject: 'ü',
        requirement: 'all[1].role',
      },
      { method: 'PO\u0000ST', host: 'h', path: '/', headers: new Map() },
    ],
    ['an error (warn)', { outcome: 'error', reason: 'ERR_JWKS_UNAVAILABLE', status: 503 }, undefined],
    [
      'a shadow-mode allow (would_deny)',
      { ...allow, reason: 'OK_SHADOW_MODE', headersToSet: [], wouldDeny: 'ERR_ROLE_MISSING' },
      { method: 'GET', host: 'h', path: '/', headers: new Map() },
    ],
    [
      'a long request id',
      allow,
      { method: 'GET', host: 'h', path: '/', headers: new Map(), requestId: 'x'.repeat(500) },
    ],
  ])('%s: the same bytes pino writes', (_label, decision, view) => {
    for (const includeSubject of [true, false]) {
      const { direct, viaPino, log } = both(includeSubject);
      log(view, decision, 0.0004567);
      log(view, decision, 1.5); // the cached constant part is reused
      expect(direct).toHaveLength(2);
      expect(direct.map(withoutTime)).toEqual(viaPino.map(withoutTime));
    }
  });
});
