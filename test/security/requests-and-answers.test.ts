/**
 * SECURITY.md principles 12-15: explicit token locations, server-owned identity headers, exact
 * authorization, RFC 6750 answers that never echo token contents (nor do logs).
 */
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { startClaimgate } from '../../src/app/claimgate.js';
import { createCheckClient } from '../../src/cli/check-client.js';
import { validateConfig } from '../../src/validation/load.js';
import { PRINCIPAL_FIELDS } from '../../src/config/profiles.js';
import { bearerChallenge, dpopChallenge } from '../../src/core/answer.js';
import { REASON_CODES, REASONS, type ReasonInfo } from '../../src/core/reasons.js';
import type { AllowDecision, Decision } from '../../src/core/types.js';
import type { CheckRequestMessage } from '../../src/envoy/messages.js';
import { RpcCode, toCheckResponse } from '../../src/envoy/response.js';
import { answerCheck } from '../../src/envoy/server.js';
import { toHttpAnswer } from '../../src/http/response.js';
import { createLogger } from '../../src/core/log.js';
import {
  AUD,
  b64json,
  bearer,
  buildGate,
  claims,
  cleanupTmp,
  denied,
  fileIssuer,
  type Gate,
  type GateOptions,
  ISS_A,
  ISS_B,
  mint,
  NOW_MS,
  NOW_S,
  rsaKey,
  signParts,
  view,
} from './harness.js';

afterAll(() => cleanupTmp());

const keyA = rsaKey('a-1');
const keyB = rsaKey('b-1');
const outcomeOf = (d: Decision) => (d.outcome === 'allow' ? 'allow' : d.reason);

describe('P12 explicit token locations', () => {
  let gate: Gate;
  let multi: Gate;
  let split: Gate;
  beforeAll(async () => {
    gate = await buildGate({ issuers: [fileIssuer('a', ISS_A, [keyA.jwk])] });
    multi = await buildGate({
      issuers: [
        fileIssuer('a', ISS_A, [keyA.jwk], {
          token_locations: [
            { header: 'authorization', scheme: 'Bearer' },
            { cookie: 'at' },
            { header: 'x-access-token' },
          ],
        }),
      ],
    });
    split = await buildGate({
      issuers: [
        fileIssuer('a', ISS_A, [keyA.jwk]),
        fileIssuer('b', ISS_B, [keyB.jwk], { token_locations: [{ cookie: 'at' }] }),
      ],
    });
  });
  afterAll(() => {
    gate.close();
    multi.close();
    split.close();
  });

  const t1 = () => mint(keyA);
  const t2 = () => mint(keyA, { jti: 'jti-2' });

  it.each([['Bearer'], ['bearer'], ['BEARER'], ['bEaReR']])('the scheme is case-insensitive: %s', async (scheme) => {
    expect(outcomeOf(await gate.decide(view({ authorization: `${scheme} ${t1()}` })))).toBe('allow');
  });

  it('two Authorization headers are rejected (400 ERR_MULTIPLE_TOKENS), never one picked', async () => {
    for (const values of [
      [`Bearer ${t1()}`, `Bearer ${t2()}`],
      [`Bearer ${t1()}`, `Bearer ${t1()}`],
      [`Bearer ${t1()}`, `bearer ${t2()}`],
    ]) {
      const d = denied(await gate.decide(view({ authorization: values })));
      expect(d).toMatchObject({ reason: 'ERR_MULTIPLE_TOKENS', status: 400 });
      expect(d.challenge).toContain('error="invalid_request"');
    }
  });

  it("Envoy's comma-merged form (Bearer a,Bearer b) is a 400, never a verified first token", async () => {
    for (const merged of [
      `Bearer ${t1()},Bearer ${t2()}`,
      `Bearer ${t1()}, Bearer ${t2()}`,
      `Bearer ${t1()},${t2()}`,
      `Bearer ${t1()}, Basic dXNlcjpwYXNz`,
    ]) {
      const d = denied(await gate.decide(view({ authorization: merged })));
      expect(d.status).toBe(400);
      expect(d.challenge).toContain('error="invalid_request"');
    }
  });

  it('a bearer token next to other credentials in a second Authorization line is a 400, never one picked', async () => {
    // Envoy's header_map keeps repeated field lines apart; Authorization is a singleton field
    // (RFC 9110 §11.6.2), and an upstream could act on the Basic identity while we checked the bearer one.
    for (const values of [
      [`Bearer ${t1()}`, 'Basic dXNlcjpwYXNz'],
      ['Basic dXNlcjpwYXNz', `Bearer ${t1()}`],
      [`Bearer ${t1()}`, 'DPoP abc'],
    ]) {
      const d = denied(await gate.decide(view({ authorization: values })));
      expect(d.status).toBe(400);
      expect(d.challenge).toContain('error="invalid_request"');
    }
  });

  it.each([['abc!def'], ['to"ken'], ['tok en'], [''], ['a=b.c.d'], ['tökén'], ['a.b.c;'], ['a\tb']])(
    'a token outside the b64token grammar (%j) is a 400',
    async (token) => {
      const d = denied(await gate.decide(view({ authorization: `Bearer ${token}` })));
      expect(d).toMatchObject({ reason: 'ERR_REQUEST_MALFORMED', status: 400 });
    },
  );

  it('other schemes and unconfigured locations are not tokens: 401 with a bare challenge', async () => {
    const token = t1();
    const views = [
      view({ authorization: 'Basic dXNlcjpwYXNz' }),
      view({ cookie: `at=${token}` }),
      view({ cookie: `access_token=${token}; session=x` }),
      view({ 'x-access-token': token }),
      view({ 'x-forwarded-authorization': `Bearer ${token}` }),
      view({}, `/api/items?access_token=${token}`),
      view({ authorization: `Token ${token}` }),
      view({ authorization: `DPoP ${token}` }),
    ];
    for (const v of views) {
      const d = denied(await gate.decide(v));
      expect(d).toMatchObject({ reason: 'ERR_TOKEN_MISSING', status: 401 });
      expect(d.challenge).toBe('Bearer realm="claimgate"');
    }
  });

  it('a configured cookie or custom header works alone, and together with another location is a 400', async () => {
    const token = t1();
    expect(outcomeOf(await multi.decide(view({ cookie: `theme=dark; at=${token}` })))).toBe('allow');
    expect(outcomeOf(await multi.decide(view({ 'x-access-token': token })))).toBe('allow');
    const pairs: Array<Record<string, string | string[]>> = [
      { authorization: `Bearer ${token}`, cookie: `at=${token}` },
      { authorization: `Bearer ${token}`, 'x-access-token': token },
      { cookie: `at=${token}`, 'x-access-token': t2() },
      { cookie: `at=${token}; at=${t2()}` },
      { cookie: [`at=${token}`, `at=${t2()}`] },
      { 'x-access-token': [token, t2()] },
    ];
    for (const headers of pairs) {
      expect(denied(await multi.decide(view(headers)))).toMatchObject({ reason: 'ERR_MULTIPLE_TOKENS', status: 400 });
    }
    expect(denied(await multi.decide(view({ cookie: 'at=abc!def' })))).toMatchObject({ status: 400 });
  });

  it("a token is accepted only in its own issuer's locations", async () => {
    expect(outcomeOf(await split.decide(view({ cookie: `at=${mint(keyB, { iss: ISS_B })}` })))).toBe('allow');
    expect(outcomeOf(await split.decide(view({ cookie: `at=${t1()}` })))).toBe('ERR_TOKEN_LOCATION_NOT_ALLOWED');
    expect(outcomeOf(await split.decide(bearer(mint(keyB, { iss: ISS_B }))))).toBe('ERR_TOKEN_LOCATION_NOT_ALLOWED');
  });
});

describe('P13 server-owned identity headers', () => {
  const OWNED = ['x-user-id', 'x-user-email', 'x-tenant', 'x-groups', 'x-jwt-payload'];
  let gate: Gate;
  let gateOptions: GateOptions;
  beforeAll(async () => {
    gateOptions = {
      issuers: [fileIssuer('a', ISS_A, [keyA.jwk])],
      routes: [
        { name: 'public', match: { path: { prefix: '/public' } }, public: true },
        { name: 'api', match: { path: { prefix: '/' } } },
      ],
      upstream: {
        headers: [
          { name: 'X-User-Id', claim: 'sub' },
          { name: 'x-user-email', claim: 'email' },
          { name: 'x-tenant', claim: 'tenant' },
          { name: 'x-groups', claim: 'groups' },
        ],
        payload_header: 'x-jwt-payload',
        strip_token: true,
        max_header_bytes: 256,
      },
    };
    gate = await buildGate(gateOptions);
  });
  afterAll(() => gate.close());

  const spoofed = (token?: string, path = '/api/items') =>
    view(
      {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        'x-user-id': 'admin',
        'x-user-email': 'root@example.com',
        'x-tenant': 'all',
        'x-groups': 'admins',
        'x-jwt-payload': b64json({ sub: 'admin' }),
      },
      path,
    );

  /** Every owned header is set or removed, never both, never twice; set values are safe. */
  function assertOwned(d: Decision): AllowDecision {
    expect(d.outcome).toBe('allow');
    const allow = d as AllowDecision;
    const set = allow.headersToSet.map((h) => h.name.toLowerCase());
    const removed = allow.headersToRemove.map((h) => h.toLowerCase());
    expect(new Set(set).size).toBe(set.length);
    for (const name of OWNED) {
      expect([name, Number(set.includes(name)) + Number(removed.includes(name))]).toEqual([name, 1]);
    }
    for (const h of allow.headersToSet) {
      expect(h.value).not.toMatch(/[\r\n\0\u0001-\u0008\u000b-\u001f\u007f\u0080-\u009f]/);
      expect(Buffer.byteLength(h.value)).toBeLessThanOrEqual(256);
    }
    const response = toCheckResponse(d);
    const sent = (response.ok_response?.headers ?? []).map((h) => h.header.key.toLowerCase());
    const dropped = response.ok_response?.headers_to_remove ?? [];
    for (const name of dropped) expect(sent).not.toContain(name);
    for (const h of response.ok_response?.headers ?? []) expect(h.append_action).toBe('OVERWRITE_IF_EXISTS_OR_ADD');
    for (const name of OWNED) expect(Number(sent.includes(name)) + Number(dropped.includes(name))).toBe(1);
    return allow;
  }

  const valueOf = (d: AllowDecision, name: string) => d.headersToSet.find((h) => h.name.toLowerCase() === name)?.value;

  it('in whole-config shadow mode, a refused request is allowed with every owned header removed and none set', async () => {
    const shadow = await buildGate({
      issuers: [fileIssuer('a', ISS_A, [keyA.jwk])],
      routes: [{ name: 'admin', match: { path: { prefix: '/' } }, require: { role: 'admin' } }],
      upstream: gate.config.upstream,
      unmatched: 'deny',
      shadowMode: true,
    });
    try {
      const refused = [
        undefined, // no token
        mint(keyA, { sub: 'user-1', roles: ['viewer'] }), // requirement fails
        mint(keyB, { sub: 'admin', roles: ['admin'] }), // signed by a key the issuer does not have
        'not-a-jwt',
      ];
      for (const token of refused) {
        const d = assertOwned(await shadow.decide(spoofed(token)));
        expect(d).toMatchObject({ reason: 'OK_SHADOW_MODE', headersToSet: [] });
        expect(d.wouldDeny).toBeDefined();
      }
      // A token the policy allows still carries its own identity, never the client's copy.
      const allowed = assertOwned(await shadow.decide(spoofed(mint(keyA, { sub: 'user-1', roles: ['admin'] }))));
      expect(allowed.reason).toBe('OK_AUTHENTICATED');
      expect(valueOf(allowed, 'x-user-id')).toBe('user-1');
    } finally {
      shadow.close();
    }
  });

  it("client copies are overwritten by the claim's value, or removed when the claim is absent", async () => {
    const token = mint(keyA, { sub: 'user-1', groups: ['eng', 'ops'] });
    const d = assertOwned(await gate.decide(spoofed(token)));
    expect(valueOf(d, 'x-user-id')).toBe('user-1');
    expect(valueOf(d, 'x-groups')).toBe('eng,ops');
    expect(valueOf(d, 'x-jwt-payload')).toBe(token.split('.')[1]);
    expect(d.headersToRemove).toEqual(expect.arrayContaining(['x-user-email', 'x-tenant', 'authorization']));
  });

  it('a public route removes every owned header (no token, no identity)', async () => {
    const d = assertOwned(await gate.decide(spoofed(undefined, '/public/page')));
    expect(d.headersToSet).toEqual([]);
    expect(d.headersToRemove).toEqual(expect.arrayContaining(OWNED));
  });

  const unsafe: Array<[string, unknown]> = [
    ['CR LF header injection', 'acme\r\nx-admin: true'],
    ['bare LF', 'acme\nx'],
    ['bare CR', 'acme\rx'],
    ['NUL', 'acme\u0000x'],
    ['other C0 control', 'acme\u001bx'],
    ['DEL', 'acme\u007f'],
    ['C1 NEL', 'acme\u0085x'],
    ['lone surrogate', 'acme\ud800'],
    ['leading space', ' acme'],
    ['trailing tab', 'acme\t'],
    ['empty', ''],
    ['over the size cap', 'x'.repeat(257)],
    ['array element containing the separator', ['a,b']],
    ['array element with CRLF', ['a', 'b\r\nx: y']],
    ['null', null],
  ];
  it.each(unsafe)('a claim value with %s is never forwarded, and the client copy is removed', async (_name, tenant) => {
    const d = assertOwned(await gate.decide(spoofed(mint(keyA, { tenant, groups: tenant }))));
    expect(d.headersToSet.map((h) => h.name.toLowerCase())).not.toContain('x-tenant');
    expect(d.headersToRemove).toContain('x-tenant');
    expect(d.headersToRemove).toContain('x-groups');
  });

  it('an object claim is forwarded as JSON, with CR/LF escaped (never raw)', async () => {
    const d = assertOwned(await gate.decide(spoofed(mint(keyA, { tenant: { t: 'a\r\nb' } }))));
    expect(valueOf(d, 'x-tenant')).toBe('{"t":"a\\r\\nb"}');
  });

  it('an unsafe sub never reaches the upstream (the id header is removed, not kept from the client)', async () => {
    const d = assertOwned(await gate.decide(spoofed(mint(keyA, { sub: 'user-1\r\nx-user-id: admin' }))));
    expect(d.headersToRemove).toContain('x-user-id');
  });

  it('the invariant holds for arbitrary claim values (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.string({ unit: 'binary' }),
          fc.array(fc.string(), { maxLength: 3 }),
          fc.integer(),
          fc.boolean(),
        ),
        async (tenant) => {
          const d = assertOwned(await gate.decide(spoofed(mint(keyA, { tenant, email: tenant }))));
          for (const h of d.headersToSet) expect(h.value).not.toMatch(/[\r\n\0]/);
        },
      ),
      { numRuns: 150, seed: 1306 },
    );
  });

  it('the RFC 9728 metadata path: never an allow over gRPC; through an HTTP door every owned header is removed', async () => {
    const withMetadata = await buildGate({
      ...gateOptions,
      resourceMetadata: { resource: 'https://api.example.com' },
    });
    try {
      const d = await withMetadata.decide(spoofed(undefined, '/.well-known/oauth-protected-resource'));
      const doc = denied(d);
      expect(doc.reason).toBe('OK_RESOURCE_METADATA');
      // gRPC: a non-OK status, so Envoy answers the client itself and nothing reaches the upstream.
      const response = toCheckResponse(d);
      expect(response.status.code).not.toBe(RpcCode.OK);
      expect(response.ok_response).toBeUndefined();
      // HTTP doors read 2xx as allow: the same decision then strips every owned header.
      expect(doc.headersToRemove).toEqual(expect.arrayContaining(OWNED));
      const door = toHttpAnswer(d, 'envoy');
      expect(door.headers.find(([n]) => n === 'x-envoy-auth-headers-to-remove')?.[1].split(', ')).toEqual(
        expect.arrayContaining(OWNED),
      );
      for (const name of OWNED) expect(door.headers.map(([n]) => n)).not.toContain(name);
    } finally {
      withMetadata.close();
    }
  });

  it("whole-config shadow mode keeps the RFC 9728 metadata answer (claimgate's own reply, not a refusal)", async () => {
    const shadow = await buildGate({
      ...gateOptions,
      resourceMetadata: { resource: 'https://api.example.com' },
      shadowMode: true,
    });
    try {
      const d = await shadow.decide(spoofed(undefined, '/.well-known/oauth-protected-resource'));
      expect(denied(d).reason).toBe('OK_RESOURCE_METADATA');
      expect(toCheckResponse(d).status.code).not.toBe(RpcCode.OK);
    } finally {
      shadow.close();
    }
  });

  it('denials carry no upstream headers at all', async () => {
    const d = denied(await gate.decide(spoofed(mint(keyA, { exp: NOW_S - 3600 }))));
    const response = toCheckResponse(d);
    expect(response.ok_response).toBeUndefined();
  });

  describe('principal headers, under both Envoy header semantics', () => {
    const headerFor = (field: string) => `x-principal-${field.replace('_', '-')}`;
    const PRINCIPAL_HEADERS = PRINCIPAL_FIELDS.map(headerFor);
    let principalGate: Gate;
    beforeAll(async () => {
      principalGate = await buildGate({
        issuers: [
          fileIssuer('a', ISS_A, [keyA.jwk]),
          fileIssuer('b', ISS_B, [keyB.jwk], { profile: 'keycloak', token_type: 'at+jwt' }),
        ],
        routes: [
          { name: 'public', match: { path: { prefix: '/public' } }, public: true },
          { name: 'api', match: { path: { prefix: '/' } } },
        ],
        upstream: { headers: PRINCIPAL_FIELDS.map((f) => ({ name: headerFor(f), principal: f })) },
      });
    });
    afterAll(() => principalGate.close());

    /** The same request as Envoy sends it with the `headers` map, or with `header_map` (raw bytes). */
    function checkRequests(token: string | undefined, path: string): CheckRequestMessage[] {
      const headers: Record<string, string> = { ':method': 'GET', ':path': path, ':authority': 'api.example.com' };
      if (token !== undefined) headers.authorization = `Bearer ${token}`;
      for (const name of PRINCIPAL_HEADERS) headers[name] = 'spoofed-by-client';
      const entries = Object.entries(headers).map(([key, value]) => ({ key, raw_value: Buffer.from(value) }));
      return [
        { attributes: { request: { http: { headers } } } },
        { attributes: { request: { http: { header_map: { headers: entries } } } } },
      ] as unknown as CheckRequestMessage[];
    }

    /** What reaches the upstream for each principal header: claimgate's value, or nothing. */
    async function upstreamCopies(token: string | undefined, path = '/api/items') {
      const results = [];
      for (const request of checkRequests(token, path)) {
        const response = await answerCheck(request, principalGate.decide);
        expect(response.status.code ?? RpcCode.OK).toBe(RpcCode.OK); // proto3: zero may be left out
        expect(response.ok_response).toBeDefined();
        const set = new Map(
          (response.ok_response?.headers ?? []).map((h) => [h.header.key.toLowerCase(), h.header.value]),
        );
        const removed = response.ok_response?.headers_to_remove ?? [];
        for (const name of PRINCIPAL_HEADERS) {
          // Exactly one of: overwritten with claimgate's value, or removed.
          expect([name, Number(set.has(name)) + Number(removed.includes(name))]).toEqual([name, 1]);
          expect(set.get(name)).not.toBe('spoofed-by-client');
        }
        for (const h of response.ok_response?.headers ?? []) expect(h.append_action).toBe('OVERWRITE_IF_EXISTS_OR_ADD');
        results.push(Object.fromEntries(set));
      }
      expect(results[0]).toEqual(results[1]);
      return results[0]!;
    }

    it('a client-sent copy of every principal header never reaches the upstream', async () => {
      const rich = mint(keyA, {
        sub: '1234',
        scope: 'a b',
        roles: ['r'],
        permissions: ['p'],
        groups: ['g'],
        email: 'e@x',
        client_id: 'c',
      });
      const full = await upstreamCopies(rich);
      expect(full[headerFor('qualified_subject')]).toBe('a|1234');
      expect(full[headerFor('roles')]).toBe('r');
      // A bare token: the fields it lacks are removed, not left to the client.
      const bare = await upstreamCopies(mint(keyA, { sub: '1234', scope: undefined }));
      expect(bare[headerFor('scopes')]).toBeUndefined();
      expect(bare[headerFor('tenant')]).toBeUndefined();
      // Public route: no token, every principal header removed.
      expect(await upstreamCopies(undefined, '/public/x')).toEqual({});
    });

    it('the same sub from two issuers reaches the upstream as two different qualified subjects', async () => {
      const fromA = await upstreamCopies(mint(keyA, { sub: '1234' }));
      const fromB = await upstreamCopies(mint(keyB, { iss: ISS_B, sub: '1234', typ: 'Bearer' }));
      expect(fromA[headerFor('subject')]).toBe(fromB[headerFor('subject')]);
      expect(fromA[headerFor('qualified_subject')]).not.toBe(fromB[headerFor('qualified_subject')]);
    });
  });
});

describe('P14 exact authorization', () => {
  let gate: Gate;
  beforeAll(async () => {
    gate = await buildGate({
      issuers: [fileIssuer('a', ISS_A, [keyA.jwk])],
      unmatched: 'deny',
      routes: [
        { name: 'orders', match: { path: { prefix: '/orders' } }, require: { scope: 'orders' } },
        {
          name: 'both',
          match: { path: { prefix: '/both' } },
          require: { all: [{ scope: 'orders' }, { scope: 'billing' }] },
        },
        { name: 'admin', match: { path: { prefix: '/admin' } }, require: { role: 'admin' } },
        { name: 'perm', match: { path: { prefix: '/perm' } }, require: { permission: 'orders:write' } },
        { name: 'gold', match: { path: { prefix: '/gold' } }, require: { claim: { path: 'tier', equals: 'gold' } } },
        {
          name: 'ctor',
          match: { path: { prefix: '/ctor' } },
          require: { claim: { path: 'constructor.name', equals: 'Object' } },
        },
        {
          name: 'tostring',
          match: { path: { prefix: '/tostring' } },
          require: { claim: { path: 'toString', exists: true } },
        },
        {
          name: 'proto',
          match: { path: { prefix: '/proto' } },
          require: { claim: { path: ['__proto__', 'tier'], equals: 'gold' } },
        },
        {
          name: 'notbanned',
          match: { path: { prefix: '/notbanned' } },
          require: { not: { claim: { path: 'constructor', exists: true } } },
        },
      ],
    });
  });
  afterAll(() => gate.close());

  const at = async (path: string, overrides: Record<string, unknown>) =>
    outcomeOf(await gate.decide(bearer(mint(keyA, overrides), path)));
  /** A token whose payload is raw JSON text (so `__proto__` is a real member, as JSON.parse makes it). */
  const rawAt = async (path: string, extraJson: string) => {
    const payload = `${JSON.stringify(claims({ scope: undefined }))}`.slice(0, -1) + `,${extraJson}}`;
    const token = signParts('RS256', keyA.privateKey, { alg: 'RS256', typ: 'at+jwt', kid: 'a-1' }, payload);
    return outcomeOf(await gate.decide(bearer(token, path)));
  };

  it.each([['orders'], ['profile orders'], ['orders profile'], ['a orders b']])(
    'scope %j grants orders',
    async (scope) => {
      expect(await at('/orders', { scope })).toBe('allow');
    },
  );

  it.each([
    ['orders:read'],
    ['ORDERS'],
    ['Orders'],
    ['xorders'],
    ['orders-admin'],
    ['orders,profile'],
    ['profile\torders'],
    ['order'],
    [''],
    ['*'],
  ])('scope %j does not grant orders (whole, case-sensitive tokens)', async (scope) => {
    expect(await at('/orders', { scope })).toBe('ERR_INSUFFICIENT_SCOPE');
  });

  it('scope of the wrong type grants nothing (and is not overridden by scp)', async () => {
    expect(await at('/orders', { scope: ['orders'] })).toBe('ERR_INSUFFICIENT_SCOPE');
    expect(await at('/orders', { scope: { orders: true } })).toBe('ERR_INSUFFICIENT_SCOPE');
    expect(await at('/orders', { scope: ['orders'], scp: ['orders'] })).toBe('ERR_INSUFFICIENT_SCOPE');
  });

  it('roles, permissions and claim values are compared exactly', async () => {
    expect(await at('/admin', { roles: ['admin'] })).toBe('allow');
    for (const roles of [['Admin'], ['administrator'], 'admins', 'admin user', [['admin']], { admin: true }]) {
      expect([roles, await at('/admin', { roles })]).toEqual([roles, 'ERR_ROLE_MISSING']);
    }
    expect(await at('/perm', { permissions: ['orders:write'] })).toBe('allow');
    for (const permissions of [['Orders:Write'], ['orders:write '], 'orders:write', ['orders']]) {
      expect(await at('/perm', { permissions })).toBe('ERR_PERMISSION_MISSING');
    }
    expect(await at('/gold', { tier: 'gold' })).toBe('allow');
    for (const tier of ['GOLD', 'gold ', 'golden', true, 1])
      expect(await at('/gold', { tier })).toBe('ERR_CLAIM_CONDITION_FAILED');
  });

  it('inherited properties (constructor, toString) never satisfy a requirement', async () => {
    expect(await at('/ctor', {})).toBe('ERR_CLAIM_CONDITION_FAILED');
    expect(await at('/tostring', {})).toBe('ERR_CLAIM_CONDITION_FAILED');
    expect(await at('/notbanned', {})).toBe('allow');
  });

  it('a "__proto__" member grants nothing through the prototype chain', async () => {
    const proto = '"__proto__":{"scope":"orders","roles":["admin"],"permissions":["orders:write"],"tier":"gold"}';
    expect(await rawAt('/orders', proto)).toBe('ERR_INSUFFICIENT_SCOPE');
    expect(await rawAt('/admin', proto)).toBe('ERR_ROLE_MISSING');
    expect(await rawAt('/perm', proto)).toBe('ERR_PERMISSION_MISSING');
    expect(await rawAt('/gold', proto)).toBe('ERR_CLAIM_CONDITION_FAILED');
    // It is an ordinary own member: readable exactly where a path names it.
    expect(await rawAt('/proto', proto)).toBe('allow');
    expect(await rawAt('/proto', '"x":1')).toBe('ERR_CLAIM_CONDITION_FAILED');
    // And it has not polluted anything global.
    expect(({} as Record<string, unknown>).tier).toBeUndefined();
  });

  it('a "constructor" claim that is really in the token is read as a plain value', async () => {
    expect(await rawAt('/ctor', '"constructor":{"name":"Object"}')).toBe('allow');
    expect(await rawAt('/notbanned', '"constructor":"x"')).toBe('ERR_CLAIM_CONDITION_FAILED');
  });

  it('an unmatched route is denied by default', async () => {
    expect(await at('/elsewhere', {})).toBe('ERR_ROUTE_NOT_FOUND');
  });
});

describe('P15 RFC 6750 answers', () => {
  const REALM = 'api.example.com';
  let gate: Gate;
  beforeAll(async () => {
    gate = await buildGate({
      realm: REALM,
      issuers: [fileIssuer('a', ISS_A, [keyA.jwk])],
      routes: [
        { name: 'orders', match: { path: { prefix: '/orders' } }, require: { scope: 'orders' } },
        {
          name: 'both',
          match: { path: { prefix: '/both' } },
          require: { all: [{ scope: 'orders' }, { scope: 'billing' }] },
        },
      ],
      upstream: { headers: [{ name: 'x-user-id', claim: 'sub' }] },
    });
  });
  afterAll(() => gate.close());

  const wwwAuthenticate = (d: Decision) => {
    const r = toCheckResponse(d);
    const http = r.denied_response ?? r.error_response;
    return http?.headers.filter((h) => h.header.key.toLowerCase() === 'www-authenticate').map((h) => h.header.value);
  };

  it('with resource_metadata, each challenge is the RFC 6750 one plus a final resource_metadata auth-param (RFC 9728 §5.1)', async () => {
    const url = 'https://api.example.com/.well-known/oauth-protected-resource';
    for (const reason of REASON_CODES) {
      const plain = bearerChallenge(REALM, reason, ['orders']);
      const withMetadata = bearerChallenge(REALM, reason, ['orders'], url);
      expect([reason, withMetadata]).toEqual([
        reason,
        plain === undefined ? undefined : `${plain}, resource_metadata="${url}"`,
      ]);
    }
  });

  it('no credentials: 401 with exactly `Bearer realm="..."` and no error code', async () => {
    const d = denied(await gate.decide(view({})));
    expect(d.status).toBe(401);
    expect(wwwAuthenticate(d)).toEqual([`Bearer realm="${REALM}"`]);
    const r = toCheckResponse(d);
    expect(r.status.code).toBe(RpcCode.UNAUTHENTICATED);
    expect(r.denied_response?.status.code).toBe('Unauthorized');
  });

  it('a bad, expired or unknown token: 401 invalid_token', async () => {
    const cases: Array<[string, string]> = [
      [mint(keyA, { exp: NOW_S - 3600 }), 'ERR_TOKEN_EXPIRED'],
      [mint(keyA).slice(0, -4) + 'AAAA', 'ERR_SIGNATURE_INVALID'],
      [mint(keyA, { iss: 'https://unknown.example.com' }), 'ERR_ISSUER_NOT_ALLOWED'],
      ['not-a-jwt', 'ERR_TOKEN_MALFORMED'],
    ];
    for (const [token, reason] of cases) {
      const d = denied(await gate.decide(bearer(token)));
      expect(d).toMatchObject({ reason, status: 401 });
      expect(wwwAuthenticate(d)).toEqual([
        `Bearer realm="${REALM}", error="invalid_token", error_description="${REASONS[reason as keyof typeof REASONS].title}"`,
      ]);
      expect(toCheckResponse(d).status.code).toBe(RpcCode.UNAUTHENTICATED);
    }
  });

  it('a malformed request: 400 invalid_request', async () => {
    const d = denied(await gate.decide(view({ authorization: [`Bearer ${mint(keyA)}`, `Bearer ${mint(keyA)}`] })));
    expect(d.status).toBe(400);
    expect(wwwAuthenticate(d)).toEqual([
      `Bearer realm="${REALM}", error="invalid_request", error_description="${REASONS.ERR_MULTIPLE_TOKENS.title}"`,
    ]);
    const r = toCheckResponse(d);
    expect(r.status.code).toBe(RpcCode.INVALID_ARGUMENT);
    expect(r.denied_response?.status.code).toBe('BadRequest');
  });

  it('a valid token lacking scope: 403 insufficient_scope naming exactly the missing scopes', async () => {
    const title = REASONS.ERR_INSUFFICIENT_SCOPE.title;
    const d1 = denied(await gate.decide(bearer(mint(keyA, { scope: 'orders:read' }), '/orders')));
    expect(d1.status).toBe(403);
    expect(wwwAuthenticate(d1)).toEqual([
      `Bearer realm="${REALM}", error="insufficient_scope", error_description="${title}", scope="orders"`,
    ]);
    const d2 = denied(await gate.decide(bearer(mint(keyA, { scope: 'orders' }), '/both')));
    expect(wwwAuthenticate(d2)).toEqual([
      `Bearer realm="${REALM}", error="insufficient_scope", error_description="${title}", scope="billing"`,
    ]);
    const d3 = denied(await gate.decide(bearer(mint(keyA, { scope: 'profile' }), '/both')));
    expect(wwwAuthenticate(d3)).toEqual([
      `Bearer realm="${REALM}", error="insufficient_scope", error_description="${title}", scope="orders billing"`,
    ]);
    const r = toCheckResponse(d1);
    expect(r.status.code).toBe(RpcCode.PERMISSION_DENIED);
    expect(r.denied_response?.status.code).toBe('Forbidden');
  });

  it('the catalogue: every 401 but "missing" is invalid_token, every 400 invalid_request, errors carry no challenge', () => {
    for (const code of REASON_CODES) {
      const info: ReasonInfo = REASONS[code];
      const challenge = bearerChallenge(REALM, code, ['s']);
      if (info.outcome === 'allow') continue;
      if (info.scheme === 'DPoP') {
        // RFC 9449 §7.1: DPoP failures challenge with the DPoP scheme (its own error codes), never Bearer.
        expect([code, challenge]).toEqual([code, undefined]);
        expect(dpopChallenge(REALM, code, 'ES256')).toMatch(
          /^DPoP realm="[^"]+", error="(invalid_dpop_proof|use_dpop_nonce|invalid_token|invalid_request)", error_description="[^"]*", algs="ES256"$/,
        );
        continue;
      }
      if (info.outcome === 'error') expect([code, challenge]).toEqual([code, undefined]);
      else if (code === 'ERR_TOKEN_MISSING') expect(challenge).toBe(`Bearer realm="${REALM}"`);
      else if (info.status === 401)
        expect([code, challenge]).toEqual([
          code,
          expect.stringMatching(/^Bearer realm="[^"]+", error="invalid_token", error_description="[^"]*"$/),
        ]);
      else if (info.status === 400)
        expect([code, challenge]).toEqual([code, expect.stringMatching(/error="invalid_request"/)]);
      else if (code === 'ERR_INSUFFICIENT_SCOPE') expect(challenge).toMatch(/error="insufficient_scope".*, scope="s"$/);
      if (challenge !== undefined) expect(challenge).not.toMatch(/[\r\n]/);
    }
  });

  // ---- never echo token contents ----

  const MARK = 'q7Zx';
  const secretClaims = {
    sub: `subject-${MARK}`,
    email: `mail-${MARK}@example.com`,
    scope: `scope-${MARK} profile`,
    tenant: `tenant-${MARK}`,
    name: `Name ${MARK}`,
  };
  const CLAIM_VALUES = Object.values(secretClaims)
    .flatMap((v) => v.split(' '))
    .filter((v) => v.includes(MARK));

  function battery(): Array<{ path: string; headers: Record<string, string | string[]>; token: string }> {
    const unknownIss = mint(keyA, { ...secretClaims, iss: `https://iss-${MARK}.example.com` });
    const forged = mint(rsaKey('evil-1'), { ...secretClaims }, { header: { kid: 'a-1' } });
    const tokens = [
      mint(keyA, secretClaims), // allowed on /api, 403 on /orders
      mint(keyA, { ...secretClaims, exp: NOW_S - 3600 }),
      mint(keyA, { ...secretClaims, aud: `aud-${MARK}` }),
      mint(keyA, { ...secretClaims }, { header: { typ: `typ-${MARK}` } }),
      mint(keyA, { ...secretClaims }, { header: { kid: `kid-${MARK}` } }),
      unknownIss,
      forged,
      signParts(
        'RS256',
        keyA.privateKey,
        { alg: 'RS256', typ: 'at+jwt', kid: 'a-1', crit: [`crit-${MARK}`] },
        claims(secretClaims),
      ),
      `${b64json({ alg: `alg-${MARK}` })}.${b64json(secretClaims)}.c2ln`,
      'x'.repeat(9000),
    ];
    const out: Array<{ path: string; headers: Record<string, string | string[]>; token: string }> = [];
    for (const token of tokens) {
      out.push({ path: '/api/items', headers: { authorization: `Bearer ${token}` }, token });
      out.push({ path: '/orders', headers: { authorization: `Bearer ${token}` }, token });
      out.push({ path: '/api/items', headers: { authorization: [`Bearer ${token}`, `Bearer ${token}`] }, token });
      out.push({ path: '/api/items', headers: { authorization: `Bearer ${token}!` }, token });
    }
    return out;
  }

  const forbidden = (token: string) => [token, ...token.split('.').filter((s) => s.length >= 8), ...CLAIM_VALUES, MARK];

  it('no answer (headers, body, status message, metadata) contains the token or any claim value', async () => {
    let allows = 0;
    for (const { path, headers, token } of battery()) {
      const d = await gate.decide(view(headers, path));
      const response = toCheckResponse(d);
      // An allow forwards identity headers upstream on purpose; everything else is the answer.
      const visible =
        d.outcome === 'allow'
          ? {
              status: response.status,
              metadata: response.dynamic_metadata,
              remove: response.ok_response?.headers_to_remove,
            }
          : response;
      if (d.outcome === 'allow') allows++;
      const text = JSON.stringify(visible);
      for (const needle of forbidden(token))
        expect([path, d.reason, text.includes(needle)]).toEqual([path, d.reason, false]);
    }
    expect(allows).toBeGreaterThan(0);
  });

  it('no log line contains the token or a claim value (real server, real gRPC, trace level)', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = createLogger('trace', sink);
    const config = validateConfig({
      server: { grpc_address: '127.0.0.1:0', admin_address: '127.0.0.1:0', watch_config: false },
      logging: { level: 'trace' },
      issuers: [fileIssuer('a', ISS_A, [keyA.jwk, { kty: 'oct', kid: `sym-${MARK}x`, k: 'c2VjcmV0' }])],
      routes: [{ name: 'orders', match: { path: { prefix: '/orders' } }, require: { scope: 'orders' } }],
      unmatched: 'authenticated',
      upstream: {
        headers: [
          { name: 'x-user-id', claim: 'sub' },
          { name: 'x-email', claim: 'email' },
        ],
      },
    });
    const app = await startClaimgate(config, { logger, nowMs: () => NOW_MS });
    const client = createCheckClient(`127.0.0.1:${app.grpcPort}`);
    try {
      await app.whenSettled();
      const all = battery();
      for (const { path, headers } of all) {
        const flat: Record<string, string> = {};
        for (const [k, v] of Object.entries(headers)) flat[k] = Array.isArray(v) ? v.join(',') : v;
        await client.check({ path, headers: { ...flat, cookie: `session=cookie-${MARK}`, 'x-request-id': 'req-1' } });
      }
      logger.info(
        {
          token: all[0]!.token,
          authorization: `Bearer ${all[0]!.token}`,
          headers: { authorization: all[0]!.token },
          req: { cookie: MARK },
        },
        'redaction probe',
      );
      logger.flush?.();
      await new Promise((r) => setImmediate(r));
    } finally {
      client.close();
      await app.close(100);
    }
    const text = lines.join('');
    expect(text).toContain('decision'); // the decision log is really on
    expect(text).toContain('redaction probe');
    // The verified `sub` is logged by design (decision-log.ts, for audit): it is the only claim allowed.
    const verifiedSub = secretClaims.sub;
    const unverifiedSubs = text
      .split('\n')
      .filter((l) => l.includes(verifiedSub) && !/"reason":"(OK_AUTHENTICATED|ERR_INSUFFICIENT_SCOPE)"/.test(l));
    expect(unverifiedSubs).toEqual([]);
    expect(text).not.toContain(`cookie-${MARK}`);
    for (const { token } of battery()) {
      for (const needle of forbidden(token).filter((n) => n !== verifiedSub && n !== MARK)) {
        expect([needle.slice(0, 40), text.includes(needle)]).toEqual([needle.slice(0, 40), false]);
      }
    }
  });

  it('AUD sanity', () => expect(AUD).toBeTruthy());
});
