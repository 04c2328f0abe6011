/**
 * Keys from a real IdP over time: the provider rotates its signing key, a flood of unknown `kid`s
 * arrives, the IdP is down when claimgate starts. JWKS requests are counted at the provider.
 */
import { DEFAULT_AUDIENCE, startOidcProvider, type OidcProviderIdp } from '../support/oidc-provider.js';
import { gateConfig, headerOf, mapBounded, startGate, withHeader, type RunningGate } from './harness.js';
import { waitFor } from '../support/wait.js';

const COOLDOWN_SECONDS = 30;
const issuerEntry = (idp: OidcProviderIdp) => ({
  name: 'op',
  issuer: idp.issuer,
  audiences: [DEFAULT_AUDIENCE],
  keys: { cooldown_seconds: COOLDOWN_SECONDS },
});
const read = { method: 'GET', path: '/orders/9' } as const;

const running: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const r of running.reverse()) await r.close();
});

async function provider(): Promise<OidcProviderIdp> {
  const idp = await startOidcProvider();
  running.push(idp);
  return idp;
}
async function gateFor(idp: OidcProviderIdp, server: Record<string, unknown> = {}): Promise<RunningGate> {
  const gate = await startGate(gateConfig([issuerEntry(idp)], server));
  running.push(gate);
  return gate;
}

test('key rotation: tokens signed with the new key are accepted after exactly one JWKS refetch', async () => {
  const op = await provider();
  // A generous wait for keys: the assertion is about how many fetches happen, not how fast they are.
  const gate = await gateFor(op, { check_deadline_ms: 1000 });
  expect(op.jwksRequests()).toBe(1); // the prefetch at start

  const oldToken = await op.mintClientCredentialsToken('orders:read');
  expect((await gate.check({ ...read, token: oldToken })).kind).toBe('allow');
  expect(op.jwksRequests()).toBe(1);

  const oldKid = op.signingKey().kid;
  const { kid: newKid } = await op.rotateSigningKey();
  expect(newKid).not.toBe(oldKid);
  const newTokens = await Promise.all(Array.from({ length: 20 }, () => op.mintClientCredentialsToken('orders:read')));
  for (const t of newTokens) expect(headerOf(t).kid).toBe(newKid);

  // The first wave arrives at once: one shared refetch serves all of it.
  const before = op.jwksRequests();
  const answers = await Promise.all(newTokens.map((token) => gate.check({ ...read, token })));
  expect(answers.map((a) => a.kind)).toEqual(newTokens.map(() => 'allow'));
  expect(op.jwksRequests() - before).toBe(1);

  // Afterwards both keys verify from the cache: no more fetches.
  const later = [...newTokens.slice(0, 5), oldToken];
  for (const token of later) expect((await gate.check({ ...read, token })).kind).toBe('allow');
  expect(op.jwksRequests() - before).toBe(1);
});

test('1,000 tokens with unknown kids within one cooldown window cause at most one JWKS fetch', async () => {
  const op = await provider();
  // A generous wait for keys, so each answer depends only on the kid and never on the machine's load.
  const gate = await gateFor(op, { check_deadline_ms: 1000 });
  const real = await op.mintClientCredentialsToken('orders:read');
  const forged = Array.from({ length: 1000 }, () =>
    withHeader(real, (h) => ({ ...h, kid: `unknown-${crypto.randomUUID()}` })),
  );
  expect(new Set(forged.map((t) => headerOf(t).kid)).size).toBe(1000);

  const before = op.jwksRequests();
  const started = Date.now();
  const answers = await mapBounded(forged, 50, (token) => gate.check({ ...read, token }));
  const elapsedMs = Date.now() - started;
  expect(elapsedMs).toBeLessThan(COOLDOWN_SECONDS * 1000); // the premise: all inside one window

  const byReason = new Map<string, number>();
  for (const a of answers)
    byReason.set(`${a.httpStatus} ${a.reason}`, (byReason.get(`${a.httpStatus} ${a.reason}`) ?? 0) + 1);
  expect(Object.fromEntries(byReason)).toEqual({ '401 ERR_KEY_NOT_FOUND': 1000 });
  expect(op.jwksRequests() - before).toBeLessThanOrEqual(1);

  // The real key still verifies, without a fetch.
  expect((await gate.check({ ...read, token: real })).kind).toBe('allow');
  expect(op.jwksRequests() - before).toBeLessThanOrEqual(1);
});

test('an IdP that is down at start gives an error answer (503 ERR_JWKS_UNAVAILABLE), never a 401; keys arrive once it is back', async () => {
  const op = await provider();
  const token = await op.mintClientCredentialsToken('orders:read');
  await op.stop(); // connections to its port are now refused
  const gate = await gateFor(op);
  expect(gate.gate.ready()).toBe(false);

  const answers = await Promise.all(Array.from({ length: 10 }, () => gate.check({ ...read, token })));
  for (const a of answers) {
    expect({ kind: a.kind, status: a.httpStatus, reason: a.reason }).toEqual({
      kind: 'error',
      status: 503,
      reason: 'ERR_JWKS_UNAVAILABLE',
    });
    expect(a.headers['www-authenticate']).toBeUndefined();
  }

  await op.restart();
  expect(await waitFor(() => gate.gate.ready(), { what: 'the gate to become ready', timeoutMs: 10_000 })).toBe(true);
  expect((await gate.check({ ...read, token })).kind).toBe('allow');
});
