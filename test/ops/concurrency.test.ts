/** server.max_concurrent_checks: past the bound, an immediate error answer; never an allow, never a transport error. */
import type { Decide } from '../../src/engine/decide.js';
import type { Decision, RequestView } from '../../src/core/types.js';
import { answerCheck, answerView } from '../../src/envoy/server.js';
import { denyDecision, INTERNAL_ERROR_DECISION } from '../../src/core/answer.js';
import { limitConcurrency } from '../../src/ops/concurrency.js';

const view: RequestView = { method: 'GET', host: 'h', path: '/', headers: new Map() };
const allow: Decision = {
  outcome: 'allow',
  reason: 'OK_AUTHENTICATED',
  route: 'r',
  headersToSet: [],
  headersToRemove: [],
};

describe('concurrency bound', () => {
  it('answers Checks past the bound with ERR_OVERLOADED (gRPC 14, 503) and decides the rest once released', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const blocking: Decide = async () => {
      await gate;
      return allow;
    };
    const limit = limitConcurrency(
      () => blocking,
      () => 3,
    );
    const pending = Array.from({ length: 5 }, () => answerCheck({}, limit.decide));
    await new Promise((r) => setImmediate(r));
    expect(limit.inFlight()).toBe(3);
    release();
    const answers = await Promise.all(pending);
    expect(answers.map((a) => a.status?.code ?? 0)).toEqual([0, 0, 0, 14, 14]);
    expect(answers[3]?.error_response?.headers?.find((h) => h.header.key === 'x-claimgate-reason')?.header.value).toBe(
      'ERR_OVERLOADED',
    );
    expect(limit.inFlight()).toBe(0);
  });

  it('counts a failing decision out again', async () => {
    const limit = limitConcurrency(
      () => async () => {
        throw new Error('boom');
      },
      () => 1,
    );
    await expect(limit.decide(view)).rejects.toThrow('boom');
    expect(limit.inFlight()).toBe(0);
    await expect(limit.decide(view)).rejects.toThrow('boom');
  });

  it('has no bound at 0', async () => {
    const limit = limitConcurrency(
      () => async () => allow,
      () => 0,
    );
    const results = await Promise.all(Array.from({ length: 100 }, async () => limit.decide(view)));
    expect(results.every((d) => d.outcome === 'allow')).toBe(true);
  });

  it('reads the current decider once per Check, so a reload applies to the next Check', async () => {
    let current: Decide = async () => allow;
    const limit = limitConcurrency(
      () => current,
      () => 10,
    );
    expect((await limit.decide(view)).outcome).toBe('allow');
    current = async () => ({ outcome: 'deny', reason: 'ERR_TOKEN_MISSING', status: 401 });
    expect((await limit.decide(view)).outcome).toBe('deny');
  });

  it('answers a decider that answers at once at once, and counts it (or its throw) out again', () => {
    let inside = -1;
    const limit = limitConcurrency(
      () => () => {
        inside = limit.inFlight();
        return allow;
      },
      () => 2,
    );
    expect(limit.decide(view)).toBe(allow);
    expect(inside).toBe(1);
    expect(limit.inFlight()).toBe(0);
    const throwing = limitConcurrency(
      () => () => {
        throw new Error('sync boom');
      },
      () => 1,
    );
    expect(() => throwing.decide(view)).toThrow('sync boom');
    expect(throwing.inFlight()).toBe(0);
  });
});

describe('answering without a promise when the decider answers at once (a token-cache hit)', () => {
  it('gives the wire answer at once for an immediate decision, and a promise only for a pending one', async () => {
    const immediate = answerView(view, () => allow);
    expect(immediate).toBeInstanceOf(Buffer);
    const pending = answerView(view, async () => allow);
    expect(pending).toBeInstanceOf(Promise);
    expect(await pending).toEqual(immediate);
  });

  it('answers a reused (frozen) decision with the same bytes as a fresh one, written once', () => {
    const denial = denyDecision('ERR_TOKEN_EXPIRED', 'claimgate', [], { route: 'r', issuer: 'idp' });
    const frozen = Object.freeze({ ...denial });
    const once = answerView(view, frozen);
    expect(once).toEqual(answerView(view, { ...denial }));
    expect(answerView(view, frozen)).toBe(once);
    const frozenAllow = Object.freeze({ ...allow, headersToSet: [{ name: 'x-user-id', value: 'alice' }] });
    expect(answerView(view, frozenAllow)).toEqual(answerView(view, { ...frozenAllow }));
    expect(answerView(view, frozenAllow)).toBe(answerView(view, frozenAllow));
  });

  it('fails closed either way: a thrown or rejected decider gives the error answer, never an exception', async () => {
    const internalError = answerView(view, INTERNAL_ERROR_DECISION);
    const thrown = answerView(view, () => {
      throw new Error('sync boom');
    });
    expect(thrown).toEqual(internalError);
    const rejected = answerView(view, () => Promise.reject(new Error('async boom')));
    expect(rejected).toBeInstanceOf(Promise);
    expect(await rejected).toEqual(internalError);
    const observed: string[] = [];
    void answerView(
      view,
      () => {
        throw new Error('sync boom');
      },
      (_v, d) => observed.push(d.reason),
    );
    expect(observed).toEqual(['ERR_INTERNAL']);
  });
});
