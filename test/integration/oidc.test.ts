/**
 * claimgate against a real OpenID provider (`oidc-provider`, in-process on loopback): tokens come from
 * the provider's real token endpoint (client credentials, RFC 8707 resource indicators, RFC 9068 JWT
 * access tokens), keys from its real discovery and JWKS, and every decision travels over real gRPC.
 */
import type { REASONS } from '../../src/core/reasons.js';
import {
  DEFAULT_AUDIENCE,
  SHORT_TTL_SECONDS,
  startOidcProvider,
  type OidcProviderIdp,
} from '../support/oidc-provider.js';
import {
  challengeParams,
  claimsOf,
  expectNothingEchoed,
  gateConfig,
  headerOf,
  IDENTITY_HEADERS,
  OWNED_HEADERS,
  REALM,
  startGate,
  withFlippedSignatureBit,
  withPayload,
  type RunningGate,
} from './harness.js';

const OTHER_AUDIENCE = 'https://other-api.example.com';
/** No clock skew for this issuer, so the expiry test moves claimgate's clock just past the token's own `exp`. */
const CLOCK_SKEW_SECONDS = 0;
/** claimgate's clock is the wall clock plus this offset: a test moves it instead of waiting for time to pass. */
let clockOffsetMs = 0;

let op: OidcProviderIdp;
/** A second real provider that claimgate does not trust. */
let stranger: OidcProviderIdp;
let gate: RunningGate;

beforeAll(async () => {
  [op, stranger] = await Promise.all([
    startOidcProvider({ resources: [DEFAULT_AUDIENCE, OTHER_AUDIENCE] }),
    startOidcProvider(),
  ]);
  gate = await startGate(
    gateConfig([
      { name: 'op', issuer: op.issuer, audiences: [DEFAULT_AUDIENCE], clock_skew_seconds: CLOCK_SKEW_SECONDS },
    ]),
    { nowMs: () => Date.now() + clockOffsetMs },
  );
  expect(gate.gate.ready()).toBe(true);
});

afterAll(async () => {
  await gate?.close();
  await Promise.all([op?.close(), stranger?.close()]);
});

/** Expect a 401 invalid_token denial with this reason. */
function expectInvalidToken(
  summary: Awaited<ReturnType<RunningGate['check']>>,
  reason: keyof typeof REASONS,
  token: string,
): void {
  expect({ kind: summary.kind, status: summary.httpStatus, reason: summary.reason }).toEqual({
    kind: 'deny',
    status: 401,
    reason,
  });
  const { scheme, params } = challengeParams(summary.headers['www-authenticate']);
  expect(scheme).toBe('Bearer');
  expect(params.realm).toBe(REALM);
  expect(params.error).toBe('invalid_token');
  expectNothingEchoed(summary, token);
}

describe('a real OpenID provider issuing JWT access tokens', () => {
  test('issues RFC 9068 tokens for our audience (the premise of every other test)', async () => {
    const token = await op.mintClientCredentialsToken('orders:read');
    expect(headerOf(token)).toMatchObject({ alg: 'RS256', typ: 'at+jwt', kid: op.signingKey().kid });
    expect(claimsOf(token)).toMatchObject({
      iss: op.issuer,
      aud: DEFAULT_AUDIENCE,
      scope: 'orders:read',
      client_id: op.clientId,
    });
  });

  test('allowed: identity headers carry the verified claims, client copies of owned headers never survive', async () => {
    const token = await op.mintClientCredentialsToken('orders:read');
    const claims = claimsOf(token);
    const spoofed = Object.fromEntries(OWNED_HEADERS.map((h) => [h, 'spoofed-by-client']));
    const answer = await gate.check({ method: 'GET', path: '/orders/42', token, headers: spoofed });

    expect(answer.kind).toBe('allow');
    expect(answer.httpStatus).toBe(200);
    // Expected headers computed from the token: every owned header whose claim is present is set with its value.
    const expected: Record<string, string> = {};
    for (const { name, claim } of IDENTITY_HEADERS) {
      const value = claims[claim];
      if (typeof value === 'string') expected[name] = value;
    }
    expect(expected['x-auth-sub']).toBe(op.clientId); // client credentials: sub is the client
    expect(answer.headers).toEqual(expected);
    // Every owned header not set is removed, and none that is set is removed (Envoy removes after setting).
    const set = Object.keys(answer.headers);
    expect([...answer.headersToRemove].sort()).toEqual(OWNED_HEADERS.filter((h) => !set.includes(h)).sort());
    expect(answer.headersToRemove.filter((h) => set.includes(h))).toEqual([]);
    // Set so that a client copy is overwritten, not appended to.
    for (const h of answer.raw.ok_response?.headers ?? []) expect(h.append_action).toBe('OVERWRITE_IF_EXISTS_OR_ADD');
  });

  test('allowed on a write route with a token holding orders:write', async () => {
    const token = await op.mintClientCredentialsToken('orders:read orders:write');
    const answer = await gate.check({ method: 'POST', path: '/orders', token });
    expect(answer.kind).toBe('allow');
    expect(answer.headers['x-auth-scope']).toBe(claimsOf(token).scope);
  });

  test('expired token → 401 invalid_token ERR_TOKEN_EXPIRED', async () => {
    const token = await op.mintClientCredentialsToken('orders:read', { shortLived: true });
    const { exp, iat } = claimsOf(token);
    expect((exp ?? 0) - (iat ?? 0)).toBe(SHORT_TTL_SECONDS);
    // Move claimgate's clock 100 ms past exp + skew; the provider's clock (and the token) stay as they are.
    clockOffsetMs = Math.max(0, ((exp ?? 0) + CLOCK_SKEW_SECONDS) * 1000 - Date.now() + 100);
    try {
      expectInvalidToken(await gate.check({ method: 'GET', path: '/orders/1', token }), 'ERR_TOKEN_EXPIRED', token);
    } finally {
      clockOffsetMs = 0;
    }
  });

  test('token for another audience (a real token for another resource server) → 401 ERR_AUDIENCE_MISMATCH', async () => {
    const token = await op.mintClientCredentialsToken('orders:read', { resource: OTHER_AUDIENCE });
    expect(claimsOf(token).aud).toBe(OTHER_AUDIENCE);
    expectInvalidToken(await gate.check({ method: 'GET', path: '/orders/1', token }), 'ERR_AUDIENCE_MISMATCH', token);
  });

  test('wrong typ: the same claims signed by the provider key as `JWT` or as an ID token → 401 ERR_TOKEN_TYPE_INVALID', async () => {
    const real = await op.mintClientCredentialsToken('orders:read');
    const claims = claimsOf(real);
    // Control: re-signed unchanged with at+jwt it is accepted, so only `typ` differs below.
    expect((await gate.check({ method: 'GET', path: '/orders/1', token: await op.sign(claims) })).kind).toBe('allow');

    const legacyTyped = await op.sign(claims, { typ: 'JWT' });
    expectInvalidToken(
      await gate.check({ method: 'GET', path: '/orders/1', token: legacyTyped }),
      'ERR_TOKEN_TYPE_INVALID',
      legacyTyped,
    );

    // An ID token of this provider for our audience: typ JWT, as OpenID providers sign ID tokens.
    const now = Math.floor(Date.now() / 1000);
    const idToken = await op.sign(
      {
        iss: op.issuer,
        sub: 'user-1',
        aud: DEFAULT_AUDIENCE,
        iat: now,
        exp: now + 300,
        auth_time: now,
        nonce: 'n-0S6_WzA2Mj',
        at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q',
      },
      { typ: 'JWT' },
    );
    expectInvalidToken(
      await gate.check({ method: 'GET', path: '/orders/1', token: idToken }),
      'ERR_TOKEN_TYPE_INVALID',
      idToken,
    );
  });

  test('tampered token (claims changed, or one signature bit flipped) → 401 ERR_SIGNATURE_INVALID', async () => {
    const real = await op.mintClientCredentialsToken('orders:read');
    expect((await gate.check({ method: 'POST', path: '/orders', token: real })).reason).toBe('ERR_INSUFFICIENT_SCOPE');

    const escalated = withPayload(real, (c) => ({ ...c, scope: 'orders:read orders:write' }));
    expectInvalidToken(
      await gate.check({ method: 'POST', path: '/orders', token: escalated }),
      'ERR_SIGNATURE_INVALID',
      escalated,
    );

    const flipped = withFlippedSignatureBit(real);
    expect(flipped).not.toBe(real);
    expectInvalidToken(
      await gate.check({ method: 'GET', path: '/orders/1', token: flipped }),
      'ERR_SIGNATURE_INVALID',
      flipped,
    );
  });

  test('unknown issuer (a real provider claimgate does not trust) → 401 ERR_ISSUER_NOT_ALLOWED, and no request reaches it', async () => {
    const token = await stranger.mintClientCredentialsToken('orders:read');
    expect(claimsOf(token)).toMatchObject({ iss: stranger.issuer, aud: DEFAULT_AUDIENCE });
    const before = stranger.counts();
    // Only the token endpoint has been used so far: our own mint.
    expect(Object.keys(before)).toEqual(['/token']);

    const answers = await Promise.all(
      Array.from({ length: 5 }, () => gate.check({ method: 'GET', path: '/orders/1', token })),
    );
    for (const answer of answers) expectInvalidToken(answer, 'ERR_ISSUER_NOT_ALLOWED', token);
    expect(stranger.counts()).toEqual(before);
  });

  test('missing token → 401 with a bare `Bearer realm=...` challenge (no error code)', async () => {
    const answer = await gate.check({ method: 'GET', path: '/orders/1' });
    expect({ kind: answer.kind, status: answer.httpStatus, reason: answer.reason }).toEqual({
      kind: 'deny',
      status: 401,
      reason: 'ERR_TOKEN_MISSING',
    });
    expect(answer.headers['www-authenticate']).toBe(`Bearer realm="${REALM}"`);
    expect(answer.headers['www-authenticate']).not.toMatch(/error=/);
  });

  test('insufficient scope → 403 insufficient_scope naming the required scope', async () => {
    const token = await op.mintClientCredentialsToken('orders:read');
    const answer = await gate.check({ method: 'POST', path: '/orders', token });
    expect({ kind: answer.kind, status: answer.httpStatus, reason: answer.reason }).toEqual({
      kind: 'deny',
      status: 403,
      reason: 'ERR_INSUFFICIENT_SCOPE',
    });
    const { scheme, params } = challengeParams(answer.headers['www-authenticate']);
    expect(scheme).toBe('Bearer');
    expect(params).toMatchObject({ realm: REALM, error: 'insufficient_scope', scope: 'orders:write' });
    expect(JSON.parse(answer.body ?? '{}')).toMatchObject({ status: 403, code: 'ERR_INSUFFICIENT_SCOPE' });
    expectNothingEchoed(answer, token);
  });

  test('public route needs no token and still strips every owned header', async () => {
    const answer = await gate.check({ method: 'GET', path: '/healthz', headers: { 'x-auth-sub': 'spoofed' } });
    expect(answer.kind).toBe('allow');
    expect(answer.headers).toEqual({});
    expect([...answer.headersToRemove].sort()).toEqual([...OWNED_HEADERS].sort());
  });
});
