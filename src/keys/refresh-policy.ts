/**
 * When to refresh next: after a success from the IdP's `Cache-Control`, clamped into the issuer's
 * bounds; after failures with exponential backoff. Both are jittered so replicas that started, or
 * failed, together do not hit the IdP in step.
 */
import type { KeysPolicy } from '../config/schema.js';

/** Relative spread applied to every delay: ±10 %. */
export const JITTER_FRACTION = 0.1;
/** First retry delay after a failure; doubles per consecutive failure. */
export const BACKOFF_BASE_MS = 1000;
/** Backoff never waits longer than this (nor longer than the normal refresh TTL). */
export const BACKOFF_CAP_MS = 5 * 60 * 1000;

/**
 * `max-age` of a Cache-Control header in seconds; `no-store` and `no-cache` count as 0 (refresh as
 * soon as the lower bound allows). Undefined when the header says nothing about freshness.
 */
export function parseMaxAge(cacheControl: string | null): number | undefined {
  if (cacheControl === null) return undefined;
  let result: number | undefined;
  for (const part of cacheControl.split(',')) {
    const directive = part.trim().toLowerCase();
    let seconds: number | undefined;
    if (directive === 'no-store' || directive === 'no-cache') seconds = 0;
    else {
      const match = /^max-age\s*=\s*"?(\d{1,10})"?$/.exec(directive);
      if (match) seconds = Number(match[1]);
    }
    if (seconds !== undefined) result = result === undefined ? seconds : Math.min(result, seconds);
  }
  return result;
}

/** Scale `ms` by a random factor in [1 − JITTER_FRACTION, 1 + JITTER_FRACTION). */
export function jitter(ms: number, random: () => number): number {
  return Math.round(ms * (1 + JITTER_FRACTION * (2 * random() - 1)));
}

/** The key set's TTL in ms before jitter: max-age clamped to [min, max]; max when the IdP gives none. */
export function refreshTtlMs(policy: KeysPolicy, maxAgeSeconds: number | undefined): number {
  const seconds = maxAgeSeconds ?? policy.max_refresh_seconds;
  return Math.min(policy.max_refresh_seconds, Math.max(policy.min_refresh_seconds, seconds)) * 1000;
}

/** Delay before the next refresh after a success. */
export function refreshDelayMs(policy: KeysPolicy, maxAgeSeconds: number | undefined, random: () => number): number {
  return jitter(refreshTtlMs(policy, maxAgeSeconds), random);
}

/** Delay before the next attempt after `consecutiveFailures` (≥ 1) failures in a row: 1 s, 2 s, 4 s … capped. */
export function backoffDelayMs(policy: KeysPolicy, consecutiveFailures: number, random: () => number): number {
  const cap = Math.min(BACKOFF_CAP_MS, policy.max_refresh_seconds * 1000);
  const exponent = Math.min(Math.max(consecutiveFailures, 1) - 1, 30);
  return jitter(Math.min(cap, BACKOFF_BASE_MS * 2 ** exponent), random);
}
