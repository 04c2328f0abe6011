/** Work derived from a decision is kept only for decisions the engine shares (frozen), never for one-Check decisions. */
import { perSharedDecision } from '../../src/core/shared-decision.js';
import type { Decision } from '../../src/core/types.js';

const denial = (route: string): Decision => ({ outcome: 'deny', reason: 'ERR_TOKEN_EXPIRED', status: 401, route });

describe('perSharedDecision', () => {
  it('derives once for a frozen decision and every time for one that is not', () => {
    const calls: string[] = [];
    const derive = perSharedDecision((d) => {
      calls.push(d.route ?? '');
      return { route: d.route };
    });
    const shared = Object.freeze(denial('a'));
    const first = derive(shared);
    expect(derive(shared)).toBe(first);
    const fresh = denial('b');
    expect(derive(fresh)).not.toBe(derive(fresh));
    expect(calls).toEqual(['a', 'b', 'b']);
  });

  it('keeps each shared decision its own value, an undefined one included', () => {
    const derive = perSharedDecision((d) => (d.route === 'none' ? undefined : d.route));
    const a = Object.freeze(denial('a'));
    const b = Object.freeze(denial('b'));
    const none = Object.freeze(denial('none'));
    expect([derive(a), derive(b), derive(none), derive(a), derive(none)]).toEqual([
      'a',
      'b',
      undefined,
      'a',
      undefined,
    ]);
  });
});
