import { isReady } from '../../src/ops/readiness.js';

const up = { ready: true, required: false };
const down = { ready: false, required: false };
const requiredUp = { ready: true, required: true };
const requiredDown = { ready: false, required: true };

describe('readiness over many issuers', () => {
  it('required_issuers: one optional partner down keeps the replica in service', () => {
    expect(isReady('required_issuers', [up, up, down])).toBe(true);
    expect(isReady('required_issuers', [requiredUp, down])).toBe(true);
  });

  it('required_issuers: a required issuer without keys, or no issuer with keys, takes it out', () => {
    expect(isReady('required_issuers', [up, requiredDown])).toBe(false);
    expect(isReady('required_issuers', [down, down])).toBe(false);
    expect(isReady('required_issuers', [])).toBe(false);
  });

  it('all_issuers and any_issuer keep their meaning', () => {
    expect(isReady('all_issuers', [up, down])).toBe(false);
    expect(isReady('all_issuers', [up, requiredUp])).toBe(true);
    expect(isReady('any_issuer', [down, requiredDown, up])).toBe(true);
    expect(isReady('any_issuer', [down, requiredDown])).toBe(false);
  });
});
