import { PROFILES } from '../../src/config/profiles.js';
import { compilePrincipalReader } from '../../src/token/principal.js';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { ReasonCode } from '../../src/core/reasons.js';
import type { KeyLookup, KeySource, VerifyKey } from '../../src/keys/key-source.js';
import type { CompiledLocation } from '../../src/token/extract.js';
import { createCachedVerifier, estimateEntryBytes, type TokenCacheResult } from '../../src/token/token-cache.js';
import type { CompiledIssuer, VerifiedToken, VerifyResult } from '../../src/token/verify.js';

function makeKey(): VerifyKey {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    kid: 'k1',
    kty: 'EC',
    key: createPublicKey(publicKey.export({ format: 'pem', type: 'spki' })),
    algorithms: new Set(['ES256']),
  };
}

const header: CompiledLocation = { id: 'header:authorization:bearer', header: 'authorization', find: () => [] };
const cookie: CompiledLocation = { id: 'cookie:at', header: 'cookie', find: () => [] };

/** An issuer whose live key set the test controls. */
function issuerWith(live: { key: VerifyKey | undefined }): CompiledIssuer {
  const keys = {
    lookup: (): KeyLookup => (live.key ? { ok: true, key: live.key } : { ok: false, reason: 'ERR_KEY_NOT_FOUND' }),
  } as unknown as KeySource;
  return { name: 'idp', locationIds: new Set([header.id]), keys } as unknown as CompiledIssuer;
}

function harness(
  outcome: (raw: string) => VerifyResult,
  limits: Partial<Parameters<typeof createCachedVerifier>[1]> = {},
) {
  const clock = { now: 1_000_000 };
  const calls: string[] = [];
  const results: TokenCacheResult[] = [];
  const verify = createCachedVerifier(
    async (raw) => {
      calls.push(raw);
      return outcome(raw);
    },
    { maxEntries: 100, maxBytes: 1024 * 1024, negativeTtlMs: 10_000, maxNegativeEntries: 100, ...limits },
    () => clock.now,
    (r) => results.push(r),
  );
  return { verify, calls, results, clock };
}

function verified(issuer: CompiledIssuer, key: VerifyKey, validUntilMs: number): VerifyResult {
  const token: VerifiedToken = {
    issuer,
    claims: { sub: 'alice' },
    subject: 'alice',
    payloadSegment: 'e30',
    principal: compilePrincipalReader('idp', PROFILES.rfc9068.claims)({ sub: 'alice' }, 'alice', undefined),
    location: header,
    validUntilMs,
    kid: 'k1',
    alg: 'ES256',
    key,
  };
  return { ok: true, token };
}

const failed = (reason: ReasonCode): VerifyResult => ({ ok: false, reason });

describe('verified-token cache', () => {
  it('answers a repeated valid token without verifying it again', async () => {
    const live = { key: makeKey() };
    const issuer = issuerWith(live);
    const h = harness(() => verified(issuer, live.key, 2_000_000));
    const first = await h.verify('tok', header);
    const second = await h.verify('tok', header);
    expect(h.calls).toEqual(['tok']);
    expect(h.results).toEqual(['miss', 'hit']);
    expect(second).toEqual(first);
  });

  it('never serves an entry past the token validity (exp / max age, with skew)', async () => {
    const live = { key: makeKey() };
    const issuer = issuerWith(live);
    const h = harness(() => verified(issuer, live.key, 1_500_000));
    await h.verify('tok', header);
    h.clock.now = 1_499_999;
    await h.verify('tok', header);
    h.clock.now = 1_500_000;
    await h.verify('tok', header);
    expect(h.results).toEqual(['miss', 'hit', 'miss']);
    expect(h.calls).toHaveLength(2);
  });

  it('stops serving an entry once its key is gone from the live key set, or replaced', async () => {
    const live: { key: VerifyKey | undefined } = { key: makeKey() };
    const issuer = issuerWith(live);
    const original = live.key!;
    const h = harness(() => verified(issuer, original, 2_000_000));
    await h.verify('tok', header);
    live.key = undefined;
    await h.verify('tok', header);
    live.key = makeKey();
    await h.verify('tok', header);
    expect(h.results).toEqual(['miss', 'miss', 'miss']);
  });

  it('never answers one token from the entry of another that ends the same way (entries are found by their end)', async () => {
    const live = { key: makeKey() };
    const issuer = issuerWith(live);
    const signature = 'S'.repeat(64);
    const good = `hdr.good-payload.${signature}`;
    const forged = `hdr.forged-payload.${signature}`;
    const h = harness((raw) => (raw === good ? verified(issuer, live.key, 2_000_000) : failed('ERR_TOKEN_MALFORMED')));
    expect(await h.verify(good, header)).toMatchObject({ ok: true });
    expect(await h.verify(forged, header)).toMatchObject({ ok: false, reason: 'ERR_TOKEN_MALFORMED' });
    // The forged token's negative entry does not shadow the good one, nor the good one's entry the forged.
    expect(await h.verify(good, header)).toMatchObject({ ok: true });
    expect(await h.verify(forged, header)).toMatchObject({ ok: false, reason: 'ERR_TOKEN_MALFORMED' });
    expect(h.calls).toEqual([good, forged]);
    expect(h.results).toEqual(['miss', 'miss', 'hit', 'negative_hit']);
    // A short token is its own key.
    expect(await h.verify('a.b.c', header)).toMatchObject({ ok: false });
    expect(await h.verify('a.b.c', header)).toMatchObject({ ok: false });
    expect(h.calls).toEqual([good, forged, 'a.b.c']);
  });

  it('re-checks the token location on a hit', async () => {
    const live = { key: makeKey() };
    const issuer = issuerWith(live);
    const h = harness(() => verified(issuer, live.key, 2_000_000));
    await h.verify('tok', header);
    expect(await h.verify('tok', cookie)).toMatchObject({ ok: false, reason: 'ERR_TOKEN_LOCATION_NOT_ALLOWED' });
  });

  it('answers a repeated bad token from the negative cache for negative_ttl, then verifies again', async () => {
    const h = harness(() => failed('ERR_TOKEN_MALFORMED'));
    for (let i = 0; i < 5; i++)
      expect(await h.verify('bad', header)).toMatchObject({ ok: false, reason: 'ERR_TOKEN_MALFORMED' });
    expect(h.calls).toHaveLength(1);
    h.clock.now += 10_000;
    await h.verify('bad', header);
    expect(h.calls).toHaveLength(2);
    expect(h.results).toEqual(['miss', 'negative_hit', 'negative_hit', 'negative_hit', 'negative_hit', 'miss']);
  });

  it.each<ReasonCode>([
    'ERR_JWKS_UNAVAILABLE',
    'ERR_KEY_NOT_FOUND',
    // The IdP may replace the key behind a kid: the same token can verify after a refetch (P19).
    'ERR_SIGNATURE_INVALID',
    'ERR_TOKEN_NOT_YET_VALID',
    'ERR_TOKEN_ISSUED_IN_FUTURE',
    'ERR_TOKEN_LOCATION_NOT_ALLOWED',
    'ERR_TOKEN_TOO_LARGE',
  ])('does not cache %s, which may change for the same token', async (reason) => {
    const h = harness(() => failed(reason));
    await h.verify('t', header);
    await h.verify('t', header);
    expect(h.calls).toHaveLength(2);
  });

  it('holds at most max_entries verified tokens', async () => {
    const live = { key: makeKey() };
    const issuer = issuerWith(live);
    const h = harness(() => verified(issuer, live.key, 2_000_000), { maxEntries: 10 });
    for (let i = 0; i < 50; i++) await h.verify(`tok${i}`, header);
    for (let i = 0; i < 50; i++) await h.verify(`tok${i}`, header);
    // Oldest-first refill of an LRU of 10 evicts every entry before it is asked for again.
    expect(h.calls).toHaveLength(100);
  });

  it('grows entry by entry to exactly max_entries, then evicts the least recently used one', async () => {
    const live = { key: makeKey() };
    const issuer = issuerWith(live);
    const h = harness(() => verified(issuer, live.key, 2_000_000), { maxEntries: 10 });
    const tok = (i: number) => `tok${String(i).padStart(2, '0')}`;
    const perEntry = estimateEntryBytes(tok(0));
    for (let i = 0; i < 10; i++) {
      await h.verify(tok(i), header);
      expect(h.verify.stats()).toMatchObject({ entries: i + 1, bytes: (i + 1) * perEntry });
    }
    await h.verify(tok(0), header); // a hit: tok00 is now the most recently used
    await h.verify(tok(10), header); // evicts tok01, the least recently used
    expect(h.verify.stats()).toMatchObject({ entries: 10, bytes: 10 * perEntry });
    const before = h.calls.length;
    await h.verify(tok(0), header);
    expect(h.calls.length).toBe(before);
    await h.verify(tok(1), header);
    expect(h.calls.length).toBe(before + 1);
    expect(h.verify.stats()).toMatchObject({ entries: 10, bytes: 10 * perEntry });
  });

  it('reports its entries and estimated bytes, and keeps that estimate under max_bytes', async () => {
    const live = { key: makeKey() };
    const issuer = issuerWith(live);
    const token = (i: number) => `${'t'.repeat(1000)}${i}`;
    const perEntry = estimateEntryBytes(token(10));
    // Room for exactly 5 entries of this size.
    const h = harness(() => verified(issuer, live.key, 2_000_000), { maxEntries: 100, maxBytes: perEntry * 5 });
    expect(h.verify.stats()).toEqual({ entries: 0, bytes: 0, negativeEntries: 0, negativeBytes: 0 });
    for (let i = 10; i < 13; i++) await h.verify(token(i), header);
    expect(h.verify.stats()).toMatchObject({ entries: 3, bytes: 3 * perEntry });
    for (let i = 13; i < 40; i++) await h.verify(token(i), header);
    expect(h.verify.stats()).toMatchObject({ entries: 5, bytes: 5 * perEntry });
    // The estimate covers the token text and the entry's measured overhead, twice (resident memory).
    expect(perEntry).toBeGreaterThanOrEqual(2 * token(10).length);
  });

  it('answers a hit for a token sliced out of a larger header with the same payload segment', async () => {
    const live = { key: makeKey() };
    const issuer = issuerWith(live);
    const cookie = `other=${'x'.repeat(4000)}; session=aGVhZA.eyJzdWIiOiJhbGljZSJ9.c2ln`;
    const raw = cookie.slice(cookie.indexOf('session=') + 8);
    const h = harness(() => ({
      ok: true,
      token: {
        ...(verified(issuer, live.key, 2_000_000) as { token: VerifiedToken }).token,
        payloadSegment: raw.split('.')[1]!,
      },
    }));
    await h.verify(raw, header);
    const hit = await h.verify(raw, header);
    expect(h.calls).toHaveLength(1);
    expect(hit.ok && hit.token.payloadSegment).toBe('eyJzdWIiOiJhbGljZSJ9');
  });

  it('reports failed tokens held by the negative cache', async () => {
    const h = harness(() => failed('ERR_TOKEN_MALFORMED'));
    await h.verify('bad-a', header);
    await h.verify('bad-b', header);
    expect(h.verify.stats()).toMatchObject({ entries: 0, negativeEntries: 2 });
    expect(h.verify.stats().negativeBytes).toBeGreaterThan('bad-a'.length + 'bad-b'.length);
  });

  it('holds at most max_negative_entries failed tokens', async () => {
    const h = harness(() => failed('ERR_TOKEN_MALFORMED'), { maxNegativeEntries: 10 });
    for (let i = 0; i < 20; i++) await h.verify(`bad${i}`, header);
    expect(h.verify.stats().negativeEntries).toBe(10);
    await h.verify('bad19', header);
    await h.verify('bad0', header);
    expect(h.results.slice(-2)).toEqual(['negative_hit', 'miss']);
  });

  it('has no negative cache when max_negative_entries is 0', async () => {
    const h = harness(() => failed('ERR_TOKEN_MALFORMED'), { maxNegativeEntries: 0 });
    await h.verify('bad', header);
    await h.verify('bad', header);
    expect(h.calls).toHaveLength(2);
  });

  it('is a plain pass-through when max_entries is 0', async () => {
    const h = harness(() => failed('ERR_TOKEN_MALFORMED'), { maxEntries: 0 });
    await h.verify('bad', header);
    await h.verify('bad', header);
    expect(h.calls).toHaveLength(2);
    expect(h.results).toEqual([]);
    expect(h.verify.stats()).toEqual({ entries: 0, bytes: 0, negativeEntries: 0, negativeBytes: 0 });
  });
});

describe('verified-token cache: bad signatures (P19 rotation kept)', () => {
  /** An issuer whose live key and recheck cooldown the test controls, as a key source reports them. */
  function signingIssuer() {
    const state = { key: makeKey() as VerifyKey | undefined, blockedForMs: 5_000 };
    const keys = {
      lookup: (): KeyLookup => (state.key ? { ok: true, key: state.key } : { ok: false, reason: 'ERR_KEY_NOT_FOUND' }),
      recheckBlockedForMs: () => state.blockedForMs,
    } as unknown as KeySource;
    const issuer = { name: 'idp', locationIds: new Set([header.id]), keys } as unknown as CompiledIssuer;
    const badSignature = (): VerifyResult => ({
      ok: false,
      reason: 'ERR_SIGNATURE_INVALID',
      issuer,
      failedUnder: { kid: 'k1', alg: 'ES256', key: state.key! },
    });
    return { state, issuer, badSignature };
  }

  it('answers a repeated bad signature from the cache while the key it failed under is live', async () => {
    const { badSignature } = signingIssuer();
    const h = harness(badSignature);
    for (let i = 0; i < 4; i++)
      expect(await h.verify('forged', header)).toMatchObject({ ok: false, reason: 'ERR_SIGNATURE_INVALID' });
    expect(h.calls).toEqual(['forged']);
    expect(h.results).toEqual(['miss', 'negative_hit', 'negative_hit', 'negative_hit']);
  });

  it('verifies again as soon as the live key behind the kid changes (a rotation is never missed)', async () => {
    const { state, badSignature } = signingIssuer();
    const h = harness(badSignature);
    await h.verify('forged', header);
    state.key = makeKey(); // a refresh brought another key under the same kid
    await h.verify('forged', header);
    expect(h.calls).toHaveLength(2);
    state.key = undefined; // the kid is gone: the answer is the key lookup's, not the cached one
    await h.verify('forged', header);
    expect(h.calls).toHaveLength(3);
  });

  it('remembers it only while the key source could not refetch for the kid, and never past negative_ttl', async () => {
    const { state, badSignature } = signingIssuer();
    const h = harness(badSignature, { negativeTtlMs: 10_000 });
    state.blockedForMs = 3_000;
    await h.verify('forged', header);
    h.clock.now += 2_999;
    await h.verify('forged', header);
    h.clock.now += 1; // the kid's recheck cooldown is over: verifying again may refetch and succeed
    await h.verify('forged', header);
    expect(h.results).toEqual(['miss', 'negative_hit', 'miss']);

    state.blockedForMs = Infinity; // a jwks_file issuer: its keys change only with a reload
    await h.verify('other', header);
    h.clock.now += 9_999;
    await h.verify('other', header);
    h.clock.now += 1;
    await h.verify('other', header);
    expect(h.results.slice(3)).toEqual(['miss', 'negative_hit', 'miss']);
  });

  it('does not remember it when a recheck could refetch right away, or the failure names no key', async () => {
    const { state, issuer, badSignature } = signingIssuer();
    state.blockedForMs = 0;
    const h = harness(badSignature);
    await h.verify('forged', header);
    await h.verify('forged', header);
    expect(h.calls).toHaveLength(2);
    const noKey = harness(() => ({ ok: false, reason: 'ERR_SIGNATURE_INVALID', issuer }));
    await noKey.verify('forged', header);
    await noKey.verify('forged', header);
    expect(noKey.calls).toHaveLength(2);
  });

  it('verifies again once a fetch has started that a recheck would join (a scheduled refresh)', async () => {
    const { state, badSignature } = signingIssuer();
    const h = harness(badSignature);
    await h.verify('forged', header);
    await h.verify('forged', header);
    state.blockedForMs = 0; // the key source now has a fetch in flight
    await h.verify('forged', header);
    expect(h.results).toEqual(['miss', 'negative_hit', 'miss']);
  });

  it('does not answer it for a location the issuer does not accept tokens from', async () => {
    const { badSignature } = signingIssuer();
    const h = harness(badSignature);
    await h.verify('forged', header);
    await h.verify('forged', cookie);
    expect(h.calls).toHaveLength(2);
  });
});
