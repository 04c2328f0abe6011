/**
 * Shared pieces of the fuzz / property suites (issue 8). Every suite uses a fixed seed and a bounded
 * number of runs so CI is deterministic and fast; a longer local run only changes the environment:
 *
 *   FUZZ_RUNS=100000 npm test -- test/fuzz          # many more runs, same seed
 *   FUZZ_SEED=7 FUZZ_RUNS=20000 npm test -- test/fuzz
 *
 * A failing property prints its seed, path and shrunk counterexample; re-run with the same FUZZ_SEED.
 */
import fc from 'fast-check';
import { validateConfig } from '../../src/validation/load.js';
import type { Decide } from '../../src/engine/decide.js';
import { startSettledEngine } from '../support/gate.js';
import type { Decision, RequestView } from '../../src/core/types.js';
import type { KeySource } from '../../src/keys/key-source.js';
import {
  AUD,
  ISS_A,
  NOW_MS,
  NOW_S,
  claims,
  jwks,
  rsaKey,
  ecKey,
  signParts,
  writeJwks,
  type TestKey,
} from '../security/harness.js';

export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 424242);

/** Runs per property: `base` in CI, scaled up proportionally when FUZZ_RUNS is set (FUZZ_RUNS is the budget of a 1000-run property). */
export function runs(base: number): number {
  const budget = process.env.FUZZ_RUNS;
  if (budget === undefined || budget === '') return base;
  return Math.max(base, Math.round((Number(budget) / 1000) * base));
}

/** Call once per suite: fixed seed, no wall-clock interruption (so a run is reproducible). */
export function configureFuzz(): void {
  fc.configureGlobal({ seed: FUZZ_SEED, numRuns: runs(100), endOnFailure: true });
}

// ---- the engine under test -------------------------------------------------------------------------

export const RSA = rsaKey('fuzz-rsa');
export const EC = ecKey('fuzz-ec');

export interface FuzzGate {
  readonly decide: Decide;
  readonly sources: KeySource[];
  close(): void;
}

/**
 * The real engine (validateConfig → compileConfig → createDecider) with one `jwks_file` issuer
 * (RS256 + ES256 keys) and three routes: a public `/public/` prefix, `/admin` needing role admin,
 * everything else any valid token.
 */
export async function fuzzGate(opts: { cacheEntries?: number; adminIgnoreCase?: boolean } = {}): Promise<FuzzGate> {
  const config = validateConfig({
    issuers: [
      {
        name: 'a',
        issuer: ISS_A,
        jwks_file: writeJwks(jwks({ ...RSA.jwk, alg: 'RS256', use: 'sig' }, { ...EC.jwk, alg: 'ES256', use: 'sig' })),
        audiences: [AUD],
        algorithms: ['RS256', 'ES256'],
      },
    ],
    routes: [
      { name: 'public', match: { path: { prefix: '/public/' } }, public: true },
      {
        name: 'admin',
        match: { path: { prefix: '/admin' }, ignore_case: opts.adminIgnoreCase ?? false },
        require: { role: 'admin' },
      },
    ],
    unmatched: 'authenticated',
    upstream: { headers: [{ name: 'x-user-id', claim: 'sub' }] },
    token_cache: { max_entries: opts.cacheEntries ?? 1000 },
  });
  const engine = await startSettledEngine(config, { decider: { nowMs: () => NOW_MS } });
  return { decide: engine.decide, sources: [...engine.sources.values()], close: engine.close };
}

/** A good token of issuer A signed by `key` (RS256 or ES256), over exactly these header/payload texts. */
export function signed(
  header: Record<string, unknown> | string | Buffer,
  payload: Record<string, unknown> | string | Buffer,
  key: TestKey = RSA,
): string {
  const alg = key === EC ? 'ES256' : 'RS256';
  return signParts(alg, key.privateKey, header, payload);
}

export const goodHeader = (key: TestKey = RSA): Record<string, unknown> => ({
  alg: key === EC ? 'ES256' : 'RS256',
  typ: 'at+jwt',
  kid: key.kid,
});
export { claims, AUD, ISS_A, NOW_S };

export function viewOf(headers: Record<string, string | string[]>, path = '/api/items', method = 'GET'): RequestView {
  const map = new Map<string, string[]>();
  for (const [k, v] of Object.entries(headers)) map.set(k.toLowerCase(), Array.isArray(v) ? v : [v]);
  return { method, host: 'api.example.com', path, headers: map };
}

/** The parts of a decision that must not change between two identical requests. */
export function essence(d: Decision): unknown {
  return d.outcome === 'allow'
    ? { outcome: d.outcome, reason: d.reason, route: d.route, set: d.headersToSet, remove: d.headersToRemove }
    : { outcome: d.outcome, reason: d.reason, status: d.status, challenge: d.challenge };
}

/** Decides twice (second answer may come from the verified-token cache); both must agree. */
export async function decideTwice(decide: Decide, view: RequestView): Promise<Decision> {
  const first = await decide(view);
  const second = await decide(view);
  expectSame(first, second);
  return first;
}

export function expectSame(a: Decision, b: Decision): void {
  const ea = JSON.stringify(essence(a));
  const eb = JSON.stringify(essence(b));
  if (ea !== eb) throw new Error(`same input, different decisions:\n  ${ea}\n  ${eb}`);
}

// ---- generators ---------------------------------------------------------------------------------

/** Strings over a JOSE-ish alphabet (base64url, dots, padding, whitespace, +/), so mutants stay near the grammar. */
export const joseChar = fc.constantFrom(...'AQgw_-azAZ09.=+/ \t'.split(''), 'e', 'y', 'J');

/** Hostile JSON member names. */
export const hostileKey = fc.constantFrom(
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '',
  '\u0000',
  'iss ',
  'ISS',
  'ı',
  '\ud800x',
);
