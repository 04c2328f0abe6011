import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema, type IssuerConfig, type KeysPolicy } from '../../src/config/schema.js';
import { createKeySource, type KeyLookup, type KeySource, type KeySourceDeps } from '../../src/keys/key-source.js';
import { FakeIdp, generateSigningKey, type SigningKey } from '../support/fake-idp.js';
import { FakeClock, flushMicrotasks } from './fake-clock.js';

const JWKS = '/jwks';
const DEADLINE_MS = 150;
const MINUTE = 60_000;

// One key of each type the tests need, generated once (RSA generation is slow).
const k1 = generateSigningKey('ES256', 'k1');
const k2 = generateSigningKey('ES256', 'k2');
const k3 = generateSigningKey('ES256', 'k3');
const rsa = generateSigningKey('RS256', 'rsa-1');

function issuerConfig(fields: Record<string, unknown>): IssuerConfig {
  const config = configSchema.parse({
    issuers: [
      { name: 'test-idp', audiences: ['api'], allow_insecure_http: true, algorithms: ['ES256', 'RS256'], ...fields },
    ],
  });
  return config.issuers[0]!;
}

interface Harness {
  idp: FakeIdp;
  clock: FakeClock;
  source: KeySource;
  logs: { level: string; msg: string; fields?: Record<string, unknown> }[];
  fetchEvents: string[];
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function harness(
  options: {
    keys?: SigningKey[];
    policy?: Partial<KeysPolicy>;
    via?: 'discovery' | 'jwks_uri';
    issuerPath?: string;
    deps?: KeySourceDeps;
    start?: boolean;
  } = {},
): Promise<Harness> {
  const idp = await FakeIdp.start({
    keys: (options.keys ?? [k1]).map((k) => k.jwk),
    ...(options.issuerPath === undefined ? {} : { issuerPath: options.issuerPath }),
  });
  cleanups.push(() => idp.close());
  const clock = new FakeClock();
  const logs: Harness['logs'] = [];
  const fetchEvents: string[] = [];
  const config = issuerConfig({
    issuer: idp.issuer,
    ...(options.via === 'jwks_uri' ? { jwks_uri: idp.jwksUri } : {}),
    keys: options.policy ?? {},
  });
  const source = createKeySource(config, {
    now: clock.now,
    setTimer: clock.setTimer,
    random: () => 0.5, // no jitter: delays are exact
    log: (level, msg, fields) => logs.push({ level, msg, ...(fields ? { fields } : {}) }),
    onFetch: (result, kind) => fetchEvents.push(`${kind}:${result}`),
    ...options.deps,
  });
  cleanups.push(() => source.close());
  if (options.start !== false) {
    source.start();
    await source.whenSettled();
  }
  return { idp, clock, source, logs, fetchEvents };
}

/** Await a lookup whether it answered synchronously or not. */
async function settle(result: KeyLookup | Promise<KeyLookup>): Promise<KeyLookup> {
  return result;
}

function isSync(result: KeyLookup | Promise<KeyLookup>): result is KeyLookup {
  return !(result instanceof Promise);
}

/** Run the source's own refresh timers until the clock reaches `at`, letting each fetch finish. */
async function runUntil(h: Harness, at: number): Promise<void> {
  while (h.clock.now() < at) {
    const next = h.source.state().nextRefreshAt;
    await h.clock.advanceTo(next === undefined || next > at ? at : next);
    await h.source.whenSettled();
  }
}

/** Advance to the next scheduled refresh and wait for it to finish. */
async function nextRefresh(h: Harness): Promise<void> {
  const at = h.source.state().nextRefreshAt;
  if (at === undefined) throw new Error('no refresh scheduled');
  await h.clock.advanceTo(at);
  await h.source.whenSettled();
}

const NOT_FOUND = { ok: false, reason: 'ERR_KEY_NOT_FOUND' };
const UNAVAILABLE = { ok: false, reason: 'ERR_JWKS_UNAVAILABLE' };

describe('key source: start-up and the hot path', () => {
  it('prefetches through discovery and answers lookups synchronously', async () => {
    const h = await harness();
    expect(h.source.ready()).toBe(true);
    const result = h.source.lookup('k1', 'ES256', DEADLINE_MS);
    expect(isSync(result)).toBe(true);
    expect(result).toMatchObject({ ok: true, key: { kid: 'k1', kty: 'EC' } });
    expect(h.idp.count(h.idp.discoveryPath)).toBe(1);
    expect(h.idp.count(JWKS)).toBe(1);
    expect(h.fetchEvents).toEqual(['discovery:ok', 'jwks:ok']);
    expect(h.source.state()).toEqual({
      issuer: 'test-idp',
      keyCount: 1,
      usable: true,
      lastSuccessAt: h.clock.now(),
      consecutiveFailures: 0,
      staleSeconds: 0,
      nextRefreshAt: h.clock.now() + 10 * MINUTE,
      skippedKeys: 0,
      fetches: { ok: 2, error: 0 },
      jwksUri: h.idp.jwksUri,
    });
  });

  it('returns the same result object for repeated lookups (no allocation on the hot path)', async () => {
    const h = await harness();
    expect(h.source.lookup('k1', 'ES256', DEADLINE_MS)).toBe(h.source.lookup('k1', 'ES256', DEADLINE_MS));
  });

  it.each([
    ['an Auth0-style issuer ending in /', '/'],
    ['an issuer with a path', '/realms/demo'],
  ])('finds the discovery document of %s without a doubled slash', async (_label, issuerPath) => {
    const h = await harness({ issuerPath });
    expect(h.idp.count(h.idp.discoveryPath)).toBe(1);
    expect(h.idp.discoveryPath).not.toContain('//');
    expect(h.source.ready()).toBe(true);
  });

  it('uses a configured jwks_uri without discovery', async () => {
    const h = await harness({ via: 'jwks_uri' });
    expect(h.idp.count(h.idp.discoveryPath)).toBe(0);
    expect(h.source.lookup('k1', 'ES256', DEADLINE_MS)).toMatchObject({ ok: true });
  });

  it('rejects a discovery document that names another issuer, and never fetches its jwks_uri', async () => {
    const h = await harness({ start: false });
    h.idp.discoveryIssuer = `${h.idp.issuer}/`;
    h.source.start();
    await h.source.whenSettled();
    expect(h.source.ready()).toBe(false);
    expect(h.source.state().lastError).toMatch(/^discovery\/issuer_mismatch/);
    expect(await settle(h.source.lookup('k1', 'ES256', DEADLINE_MS))).toEqual(UNAVAILABLE);
    expect(h.idp.count(JWKS)).toBe(0);
  });

  it('is not ready and answers unavailable before start()', async () => {
    const h = await harness({ start: false });
    expect(h.source.ready()).toBe(false);
    expect(h.source.lookup('k1', 'ES256', DEADLINE_MS)).toEqual(UNAVAILABLE);
    expect(h.idp.count(h.idp.discoveryPath)).toBe(0);
  });
});

describe('key source: lookup rules', () => {
  it('tells duplicate kids apart by algorithm', async () => {
    const sameKidEc = { ...k2.jwk, kid: 'dup' };
    const sameKidRsa = { ...rsa.jwk, kid: 'dup' };
    const h = await harness({ keys: [], start: false });
    h.idp.keys = [sameKidRsa, sameKidEc];
    h.source.start();
    await h.source.whenSettled();
    expect(h.source.lookup('dup', 'ES256', DEADLINE_MS)).toMatchObject({ ok: true, key: { kty: 'EC' } });
    expect(h.source.lookup('dup', 'RS256', DEADLINE_MS)).toMatchObject({ ok: true, key: { kty: 'RSA' } });
  });

  it('a token without kid gets the single key for its algorithm, never a guess among several', async () => {
    const h = await harness({ keys: [k1, rsa] });
    expect(h.source.lookup(undefined, 'RS256', DEADLINE_MS)).toMatchObject({ ok: true, key: { kid: 'rsa-1' } });
    const h2 = await harness({ keys: [k1, k2] });
    expect(await settle(h2.source.lookup(undefined, 'ES256', DEADLINE_MS))).toEqual(NOT_FOUND);
  });

  it('a key is found only for the algorithms it may verify', async () => {
    const h = await harness({ keys: [k1] });
    expect(await settle(h.source.lookup('k1', 'RS256', DEADLINE_MS))).toEqual(NOT_FOUND);
  });

  it("keys are bound to their issuer: one issuer's kid is unknown to another (principle 3)", async () => {
    const a = await harness({ keys: [k1] });
    const b = await harness({ keys: [k2] });
    expect(a.source.lookup('k1', 'ES256', DEADLINE_MS)).toMatchObject({ ok: true });
    expect(await settle(b.source.lookup('k1', 'ES256', DEADLINE_MS))).toEqual(NOT_FOUND);
  });

  it('refuses absurdly long kids at once, without a fetch', async () => {
    const h = await harness();
    expect(h.source.lookup('x'.repeat(257), 'ES256', DEADLINE_MS)).toEqual(NOT_FOUND);
    expect(h.idp.count(JWKS)).toBe(1);
  });
});

describe('key source: rotation and removal', () => {
  it('accepts a rotated-in key after exactly one refetch', async () => {
    const h = await harness({ keys: [k1] });
    h.idp.addKey(k2.jwk);
    const pending = h.source.lookup('k2', 'ES256', DEADLINE_MS);
    expect(isSync(pending)).toBe(false);
    expect(await settle(pending)).toMatchObject({ ok: true, key: { kid: 'k2' } });
    expect(h.idp.count(JWKS)).toBe(2);
    expect(h.idp.count(h.idp.discoveryPath)).toBe(1); // an unknown kid refetches the JWKS only
    expect(h.source.lookup('k2', 'ES256', DEADLINE_MS)).toMatchObject({ ok: true });
    expect(h.source.lookup('k1', 'ES256', DEADLINE_MS)).toMatchObject({ ok: true });
  });

  it('keeps verifying with a removed key until the next refresh, then refuses it', async () => {
    const h = await harness({ keys: [k1, k2] });
    h.idp.removeKey('k1');
    expect(h.source.lookup('k1', 'ES256', DEADLINE_MS)).toMatchObject({ ok: true });
    await nextRefresh(h);
    expect(h.idp.count(JWKS)).toBe(2);
    expect(h.source.state().keyCount).toBe(1);
    expect(await settle(h.source.lookup('k1', 'ES256', DEADLINE_MS))).toEqual(NOT_FOUND);
    expect(h.source.lookup('k2', 'ES256', DEADLINE_MS)).toMatchObject({ ok: true });
  });

  it('follows a jwks_uri that moved, at the next refresh', async () => {
    const h = await harness({ keys: [k1] });
    h.idp.moveJwks('/keys/v2', [k3.jwk]);
    await nextRefresh(h);
    expect(h.source.state().jwksUri).toBe(`${h.idp.origin}/keys/v2`);
    expect(h.source.lookup('k3', 'ES256', DEADLINE_MS)).toMatchObject({ ok: true });
    expect(h.idp.count('/keys/v2')).toBe(1);
    expect(h.logs.some((l) => l.msg === 'jwks_uri changed')).toBe(true);
  });
});

describe('key source: unknown kids are rate-limited (principle 11)', () => {
  it('1,000 concurrent lookups of unknown kids cause one JWKS fetch; repeats within the cooldown none', async () => {
    const h = await harness({ policy: { cooldown_seconds: 30 } });
    const first = Array.from({ length: 1000 }, (_, i) => h.source.lookup(`unknown-${i}`, 'ES256', DEADLINE_MS));
    expect(
      (await Promise.all(first.map(settle))).every((r) => r.ok === false && r.reason === 'ERR_KEY_NOT_FOUND'),
    ).toBe(true);
    expect(h.idp.count(JWKS)).toBe(2);

    // Within the cooldown: the same kids and new ones are answered at once, without fetching.
    await h.clock.advance(29_000);
    const again = Array.from({ length: 1000 }, (_, i) =>
      h.source.lookup(`unknown-${i % 2 === 0 ? i : i + 5000}`, 'ES256', DEADLINE_MS),
    );
    expect(again.every((r) => isSync(r) && !r.ok && r.reason === 'ERR_KEY_NOT_FOUND')).toBe(true);
    expect(h.idp.count(JWKS)).toBe(2);

    // After the cooldown, one more refetch is allowed.
    await h.clock.advance(1_000);
    expect(await settle(h.source.lookup('unknown-new', 'ES256', DEADLINE_MS))).toEqual(NOT_FOUND);
    expect(h.idp.count(JWKS)).toBe(3);
  });

  it('a kid found missing is answered from the negative cache, without waiting, even while a refresh runs', async () => {
    const h = await harness({
      policy: { cooldown_seconds: 30, kid_cooldown_seconds: 30, min_refresh_seconds: 10, max_refresh_seconds: 10 },
    });
    await h.clock.advance(5_000);
    expect(await settle(h.source.lookup('nope', 'ES256', DEADLINE_MS))).toEqual(NOT_FOUND);
    h.idp.misbehave(JWKS, { kind: 'hang' });
    await h.clock.advanceTo(h.source.state().nextRefreshAt!); // a scheduled refresh is now in flight, hanging
    expect(h.source.lookup('nope', 'ES256', DEADLINE_MS)).toEqual(NOT_FOUND);
    expect(h.source.lookup('k1', 'ES256', DEADLINE_MS)).toMatchObject({ ok: true });
    // A kid never seen before joins the running refresh (it may bring the key), bounded by the deadline.
    expect(isSync(h.source.lookup('fresh', 'ES256', DEADLINE_MS))).toBe(false);
  });
});

describe('key source: outages are errors, not invalid tokens', () => {
  it('IdP down at start: unavailable until it comes back, then keys without a restart', async () => {
    const h = await harness({ start: false, policy: { cooldown_seconds: 30 } });
    await h.idp.refuse();
    h.source.start();
    await h.source.whenSettled();
    expect(h.source.ready()).toBe(false);
    expect(h.source.state()).toMatchObject({ consecutiveFailures: 1, keyCount: 0, fetches: { ok: 0, error: 1 } });
    expect(h.source.state().lastError).toMatch(/^discovery\/network/);
    expect(await settle(h.source.lookup('k1', 'ES256', DEADLINE_MS))).toEqual(UNAVAILABLE); // one on-demand retry, failed
    expect(h.source.lookup('k1', 'ES256', DEADLINE_MS)).toEqual(UNAVAILABLE); // within the cooldown: at once
    expect(h.source.state().consecutiveFailures).toBe(2);

    await runUntil(h, h.clock.now() + 20_000); // backoff retries keep failing
    const failures = h.source.state().consecutiveFailures;
    expect(failures).toBeGreaterThan(2);
    expect(h.source.lookup('k1', 'ES256', DEADLINE_MS)).toEqual(UNAVAILABLE);

    await h.idp.recover();
    await nextRefresh(h);
    expect(h.source.ready()).toBe(true);
    expect(h.source.lookup('k1', 'ES256', DEADLINE_MS)).toMatchObject({ ok: true });
    expect(h.source.state()).toMatchObject({ consecutiveFailures: 0, keyCount: 1 });
    expect(h.source.state().lastError).toBeUndefined();
    expect(h.logs.some((l) => l.level === 'info' && l.msg === 'keys fetched again after failures')).toBe(true);
  });

  it('retries with exponential backoff: 1 s, 2 s, 4 s, 8 s', async () => {
    const h = await harness({ start: false });
    h.idp.misbehave('all', { kind: 'status', status: 500 });
    h.source.start();
    await h.source.whenSettled();
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const state = h.source.state();
      delays.push(state.nextRefreshAt! - h.clock.now());
      await nextRefresh(h);
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000]);
    expect(h.source.state().lastError).toMatch(/^discovery\/http_status/);
    expect(h.fetchEvents.every((e) => e === 'discovery:error')).toBe(true);
  });

  it('IdP down after a good fetch: last good keys until max_stale, then unavailable, then healed', async () => {
    const h = await harness({ policy: { min_refresh_seconds: 60, max_refresh_seconds: 60, max_stale_seconds: 600 } });
    const lastSuccess = h.clock.now();
    h.idp.misbehave('all', { kind: 'status', status: 500 });

    await runUntil(h, lastSuccess + 600_000);
    expect(h.source.lookup('k1', 'ES256', DEADLINE_MS)).toMatchObject({ ok: true });
    const stale = h.source.state();
    expect(stale).toMatchObject({ usable: true, staleSeconds: 540, lastSuccessAt: lastSuccess });
    expect(stale.consecutiveFailures).toBeGreaterThanOrEqual(5);
    expect(stale.fetches.error).toBeGreaterThanOrEqual(stale.consecutiveFailures);

    await h.clock.advance(1);
    expect(h.source.ready()).toBe(false);
    expect(await settle(h.source.lookup('k1', 'ES256', DEADLINE_MS))).toEqual(UNAVAILABLE);
    expect(h.source.state()).toMatchObject({ usable: false, keyCount: 1 });
    expect(h.logs.filter((l) => l.level === 'error')).toHaveLength(1);

    h.idp.heal();
    await nextRefresh(h);
    expect(h.source.lookup('k1', 'ES256', DEADLINE_MS)).toMatchObject({ ok: true });
    expect(h.source.state()).toMatchObject({ usable: true, staleSeconds: 0, consecutiveFailures: 0 });
  });

  it('keeps the last good keys when the IdP answers garbage, non-JWKS JSON or a set of only bad keys', async () => {
    const h = await harness({ policy: { min_refresh_seconds: 60, max_refresh_seconds: 60 } });
    const cases: [Parameters<FakeIdp['misbehave']>[1], string][] = [
      [{ kind: 'garbage' }, 'jwks/bad_json'],
      [{ kind: 'json', body: { issuer: 'not a jwks' } }, 'jwks/not_jwks'],
      [{ kind: 'json', body: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }, 'jwks/no_usable_keys'],
      [{ kind: 'json', body: { keys: [] } }, 'jwks/no_usable_keys'],
      [{ kind: 'status', status: 503 }, 'jwks/http_status'],
    ];
    for (const [behavior, error] of cases) {
      h.idp.misbehave(JWKS, behavior);
      await nextRefresh(h);
      expect(h.source.state().lastError).toMatch(new RegExp(`^${error}`));
      expect(h.source.lookup('k1', 'ES256', DEADLINE_MS)).toMatchObject({ ok: true });
    }
    expect(h.source.state()).toMatchObject({ consecutiveFailures: 5, fetches: { ok: 2 + 5, error: 5 } }); // discovery keeps answering
  });

  it('refuses a cross-origin redirect and never contacts the other origin', async () => {
    const elsewhere = await FakeIdp.start({ keys: [k1.jwk] });
    cleanups.push(() => elsewhere.close());
    const h = await harness({ via: 'jwks_uri', start: false });
    h.idp.misbehave(JWKS, { kind: 'redirect', location: elsewhere.jwksUri });
    h.source.start();
    await h.source.whenSettled();
    expect(h.source.ready()).toBe(false);
    expect(h.source.state().lastError).toMatch(/^jwks\/redirect_cross_origin/);
    expect(elsewhere.count(JWKS)).toBe(0);
  });

  it('refuses an oversize JWKS', async () => {
    const h = await harness({ via: 'jwks_uri', start: false, policy: { max_response_bytes: 2048 } });
    h.idp.misbehave(JWKS, { kind: 'huge', bytes: 10 * 1024 * 1024, declareLength: false });
    h.source.start();
    await h.source.whenSettled();
    expect(h.source.ready()).toBe(false);
    expect(h.source.state().lastError).toMatch(/^jwks\/too_large/);
  });
});

describe('key source: deadlines', () => {
  it('a hanging IdP never holds a lookup beyond its deadline (warm: unknown kid)', async () => {
    const h = await harness();
    h.idp.misbehave(JWKS, { kind: 'hang' });
    let answer: KeyLookup | undefined;
    void settle(h.source.lookup('k9', 'ES256', DEADLINE_MS)).then((r) => (answer = r));
    await h.clock.advance(DEADLINE_MS - 1);
    await flushMicrotasks();
    expect(answer).toBeUndefined();
    expect(h.source.lookup('k1', 'ES256', DEADLINE_MS)).toMatchObject({ ok: true }); // known keys are unaffected
    await h.clock.advance(1);
    expect(answer).toEqual(UNAVAILABLE);

    await h.clock.advance(2000); // fetch_timeout_ms
    await h.source.whenSettled();
    expect(h.source.state().lastError).toMatch(/^jwks\/timeout/);
  });

  it('a hanging IdP never holds a lookup beyond its deadline (cold start)', async () => {
    const h = await harness({ start: false });
    h.idp.misbehave('all', { kind: 'hang' });
    h.source.start();
    const answers: KeyLookup[] = [];
    for (const kid of ['k1', 'k2', undefined])
      void settle(h.source.lookup(kid, 'ES256', DEADLINE_MS)).then((r) => answers.push(r));
    await h.clock.advance(DEADLINE_MS);
    expect(answers).toEqual([UNAVAILABLE, UNAVAILABLE, UNAVAILABLE]);
    expect(h.source.lookup('k1', 'ES256', 0)).toEqual(UNAVAILABLE);
  });

  it('with real timers too: a lookup against a hanging IdP settles near its deadline', async () => {
    const idp = await FakeIdp.start({ keys: [k1.jwk] });
    cleanups.push(() => idp.close());
    idp.misbehave('all', { kind: 'hang' });
    const source = createKeySource(issuerConfig({ issuer: idp.issuer }));
    cleanups.push(() => source.close());
    source.start();
    const started = performance.now();
    expect(await settle(source.lookup('k1', 'ES256', 100))).toEqual(UNAVAILABLE);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(90);
    expect(elapsed).toBeLessThan(1500);
  });
});

describe('key source: refresh schedule', () => {
  it('honours Cache-Control max-age within the configured bounds', async () => {
    const h = await harness({ start: false });
    h.idp.cacheControl = 'public, max-age=120';
    h.source.start();
    await h.source.whenSettled();
    expect(h.source.state().nextRefreshAt! - h.clock.now()).toBe(120_000);
    h.idp.cacheControl = 'max-age=5';
    await nextRefresh(h);
    expect(h.source.state().nextRefreshAt! - h.clock.now()).toBe(60_000); // min_refresh_seconds
  });

  it('jitters the refresh by ±10%', async () => {
    const low = await harness({ deps: { random: () => 0 } });
    expect(low.source.state().nextRefreshAt! - low.clock.now()).toBe(540_000);
  });
});

describe('key source: how long a bad signature under a known kid stands (token cache, P19)', () => {
  it('is 0 until a recheck ran, 0 while its refetch runs, then the longer of the kid and issuer cooldowns', async () => {
    const h = await harness({ policy: { cooldown_seconds: 2, kid_cooldown_seconds: 5 } });
    const live = h.source.lookup('k1', 'ES256', DEADLINE_MS);
    if (!isSync(live) || !live.ok) throw new Error('k1 not loaded');
    expect(h.source.recheckBlockedForMs!('k1', 'ES256')).toBe(0);
    const recheck = h.source.recheck!('k1', 'ES256', live.key, DEADLINE_MS);
    expect(h.source.recheckBlockedForMs!('k1', 'ES256')).toBe(0); // a recheck now would join that fetch
    expect(await recheck).toBeUndefined(); // the IdP still publishes the same key
    expect(h.source.recheckBlockedForMs!('k1', 'ES256')).toBe(5_000);
    // Another kid is held back only by the issuer-wide cooldown.
    expect(h.source.recheckBlockedForMs!('k2', 'ES256')).toBe(2_000);
    await h.clock.advance(4_999);
    expect(h.source.recheckBlockedForMs!('k1', 'ES256')).toBe(1);
    await h.clock.advance(1);
    expect(h.source.recheckBlockedForMs!('k1', 'ES256')).toBe(0);
    expect(h.source.recheck!('k1', 'ES256', live.key, DEADLINE_MS)).toBeInstanceOf(Promise);
  });

  it('is unbounded for a jwks_file issuer, whose keys change only with a reload', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'claimgate-keys-'));
    const path = join(dir, 'jwks.json');
    writeFileSync(path, JSON.stringify({ keys: [k1.jwk] }));
    const clock = new FakeClock();
    const source = createKeySource(issuerConfig({ issuer: 'https://file.example', jwks_file: path }), {
      now: clock.now,
      setTimer: clock.setTimer,
    });
    cleanups.push(() => source.close());
    source.start();
    await source.whenSettled();
    expect(source.recheckBlockedForMs!('k1', 'ES256')).toBe(Infinity);
  });
});

describe('key source: local JWKS file', () => {
  function fileConfig(path: string): IssuerConfig {
    return issuerConfig({ issuer: 'https://file.example', jwks_file: path });
  }

  it('reads the file once, skips bad keys, never refetches', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'claimgate-keys-'));
    const path = join(dir, 'jwks.json');
    writeFileSync(path, JSON.stringify({ keys: [k1.jwk, { kty: 'oct', k: 'c2VjcmV0', kid: 'hmac' }] }));
    const clock = new FakeClock();
    const source = createKeySource(fileConfig(path), { now: clock.now, setTimer: clock.setTimer });
    cleanups.push(() => source.close());
    source.start();
    await source.whenSettled();
    expect(source.lookup('k1', 'ES256', DEADLINE_MS)).toMatchObject({ ok: true });
    expect(source.lookup('other', 'ES256', DEADLINE_MS)).toEqual(NOT_FOUND);
    expect(source.state()).toMatchObject({ keyCount: 1, skippedKeys: 1, fetches: { ok: 1, error: 0 } });
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(365 * 24 * 3600 * 1000);
    expect(source.ready()).toBe(true);
  });

  it('a missing file leaves the issuer unavailable', async () => {
    const source = createKeySource(fileConfig('/nonexistent/claimgate/jwks.json'));
    cleanups.push(() => source.close());
    source.start();
    await source.whenSettled();
    expect(source.ready()).toBe(false);
    expect(source.lookup('k1', 'ES256', DEADLINE_MS)).toEqual(UNAVAILABLE);
    expect(source.state().lastError).toMatch(/^jwks\/file_unreadable/);
  });
});

describe('key source: close', () => {
  it('resolves pending lookups as unavailable and leaves no timers behind', async () => {
    const h = await harness();
    h.idp.misbehave(JWKS, { kind: 'hang' });
    const pending = settle(h.source.lookup('k9', 'ES256', DEADLINE_MS));
    h.source.close();
    expect(await pending).toEqual(UNAVAILABLE);
    await h.source.whenSettled();
    await flushMicrotasks();
    expect(h.clock.pendingTimers).toBe(0);
    expect(h.source.lookup('k9', 'ES256', DEADLINE_MS)).toEqual(NOT_FOUND);
    expect(h.source.state().consecutiveFailures).toBe(0); // an abort on close is not an IdP failure
  });
});

describe('outage vs unknown key (review fixes)', () => {
  it('answers an unknown kid with ERR_JWKS_UNAVAILABLE when the refetch fails, and does not remember it as unknown', async () => {
    const h = await harness({ keys: [k1] });
    h.idp.misbehave('all', { kind: 'status', status: 503 });
    // The IdP may have rotated to k2 while it is down: the refetch fails, so this is an outage, not a bad token.
    expect(await settle(h.source.lookup('k2', 'ES256', DEADLINE_MS))).toEqual({
      ok: false,
      reason: 'ERR_JWKS_UNAVAILABLE',
    });
    // Within the cooldown, still an outage (no fetch is possible yet), never a remembered "not found".
    expect(await settle(h.source.lookup('k2', 'ES256', DEADLINE_MS))).toEqual({
      ok: false,
      reason: 'ERR_JWKS_UNAVAILABLE',
    });
    // The held key keeps verifying meanwhile.
    expect((await settle(h.source.lookup('k1', 'ES256', DEADLINE_MS))).ok).toBe(true);
    // The IdP recovers with k2 published: after the cooldown k2 is found.
    h.idp.heal();
    h.idp.addKey(k2.jwk);
    await h.clock.advance(31_000);
    expect((await settle(h.source.lookup('k2', 'ES256', DEADLINE_MS))).ok).toBe(true);
  });

  it('keeps the same key objects across a refresh that changed nothing, so cached verifications survive it', async () => {
    const h = await harness({ keys: [k1, k2] });
    const before = await settle(h.source.lookup('k1', 'ES256', DEADLINE_MS));
    await runUntil(h, h.clock.now() + 11 * MINUTE);
    expect(h.idp.count(JWKS)).toBeGreaterThanOrEqual(2);
    const after = await settle(h.source.lookup('k1', 'ES256', DEADLINE_MS));
    expect(before.ok && after.ok && after.key === before.key).toBe(true);
    // A key whose material changed under the same kid is a new object.
    h.idp.keys = [{ ...k3.jwk, kid: 'k1' }, k2.jwk];
    await runUntil(h, h.clock.now() + 11 * MINUTE);
    const replaced = await settle(h.source.lookup('k1', 'ES256', DEADLINE_MS));
    expect(replaced.ok && before.ok && replaced.key !== before.key).toBe(true);
  });
});
