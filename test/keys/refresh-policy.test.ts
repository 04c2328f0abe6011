import { configSchema, type KeysPolicy } from '../../src/config/schema.js';
import {
  backoffDelayMs,
  BACKOFF_CAP_MS,
  jitter,
  parseMaxAge,
  refreshDelayMs,
  refreshTtlMs,
} from '../../src/keys/refresh-policy.js';

function policy(keys: Partial<KeysPolicy> = {}): KeysPolicy {
  const config = configSchema.parse({
    issuers: [{ name: 'a', issuer: 'https://idp.example', audiences: ['api'], keys }],
  });
  return config.issuers[0]!.keys;
}
const middle = () => 0.5;

describe('parseMaxAge', () => {
  it.each([
    [null, undefined],
    ['public', undefined],
    ['max-age=300', 300],
    ['public, Max-Age=120, must-revalidate', 120],
    ['max-age="90"', 90],
    ['no-cache', 0],
    ['no-store, max-age=600', 0],
    ['max-age=abc', undefined],
    ['max-age=-5', undefined],
    ['s-maxage=100', undefined],
  ])('%j → %j', (header, expected) => {
    expect(parseMaxAge(header)).toBe(expected);
  });
});

describe('refresh TTL', () => {
  const p = policy({ min_refresh_seconds: 60, max_refresh_seconds: 600 });
  it('uses max-age within the bounds, clamps outside them, and uses the maximum when absent', () => {
    expect(refreshTtlMs(p, 120)).toBe(120_000);
    expect(refreshTtlMs(p, 5)).toBe(60_000);
    expect(refreshTtlMs(p, 0)).toBe(60_000);
    expect(refreshTtlMs(p, 86_400)).toBe(600_000);
    expect(refreshTtlMs(p, undefined)).toBe(600_000);
  });

  it('jitters by at most ±10%', () => {
    expect(refreshDelayMs(p, undefined, () => 0)).toBe(540_000);
    expect(refreshDelayMs(p, undefined, middle)).toBe(600_000);
    expect(refreshDelayMs(p, undefined, () => 0.999_999)).toBeLessThanOrEqual(660_000);
    expect(jitter(1000, () => 0.25)).toBe(950);
  });
});

describe('backoff', () => {
  it('doubles from 1 s per consecutive failure', () => {
    const p = policy();
    expect([1, 2, 3, 4, 5].map((n) => backoffDelayMs(p, n, middle))).toEqual([1000, 2000, 4000, 8000, 16000]);
  });

  it('is capped at 5 minutes, or at the refresh TTL when that is shorter', () => {
    expect(backoffDelayMs(policy(), 40, middle)).toBe(BACKOFF_CAP_MS);
    expect(backoffDelayMs(policy({ min_refresh_seconds: 10, max_refresh_seconds: 30 }), 40, middle)).toBe(30_000);
  });

  it('is jittered so replicas that failed together retry apart', () => {
    const p = policy();
    expect(backoffDelayMs(p, 3, () => 0)).toBe(3600);
    expect(backoffDelayMs(p, 3, () => 0.999_999)).toBeLessThanOrEqual(4400);
  });
});
