/**
 * Fuzz: the token parser and verifier front (src/token/parse.ts, strict-json.ts, extract.ts, verify.ts)
 * and the full decider (src/engine/decide.ts) with a real config and a `jwks_file` issuer.
 *
 * Invariants (issue 8):
 * - never throws, whatever the input;
 * - never allows unless the input is exactly a validly signed, unexpired token of the configured
 *   issuer and audience for that route;
 * - the same input always gives the same decision: decided twice (the second answer may come from the
 *   verified-token cache) and once more by an engine whose cache is off (`token_cache.max_entries: 0`).
 *
 * Hostile tokens are re-signed with the real key where that matters, so only the check under test
 * can reject them. Seeded; see support.ts for the longer local mode.
 */
import fc from 'fast-check';
import { compileLocation, extractToken } from '../../src/token/extract.js';
import { MAX_JSON_DEPTH, parseCompactJws } from '../../src/token/parse.js';
import { InexactNumber, isExactNumberLiteral, parseStrictJsonObject } from '../../src/token/strict-json.js';
import { cleanupTmp } from '../security/harness.js';
import {
  AUD,
  EC,
  ISS_A,
  NOW_S,
  RSA,
  claims,
  configureFuzz,
  decideTwice,
  expectSame,
  fuzzGate,
  goodHeader,
  hostileKey,
  joseChar,
  runs,
  signed,
  viewOf,
  type FuzzGate,
} from './support.js';

configureFuzz();

let cached: FuzzGate;
let uncached: FuzzGate;

beforeAll(async () => {
  cached = await fuzzGate();
  uncached = await fuzzGate({ cacheEntries: 0 });
});
afterAll(() => {
  cached.close();
  uncached.close();
  cleanupTmp();
});

/** Decides with both engines (twice with the cache); all three answers must agree. Returns the decision. */
async function decideAll(authorization: string | string[], path = '/api/items') {
  const view = viewOf({ authorization }, path);
  const a = await decideTwice(cached.decide, view);
  const b = await uncached.decide(view);
  expectSame(a, b);
  return a;
}

// Valid tokens: the only strings that may ever be allowed below.
const VALID = [
  signed(goodHeader(RSA), claims()),
  signed(goodHeader(EC), claims(), EC),
  signed(goodHeader(RSA), claims({ roles: ['admin'], aud: ['x', AUD] })),
  signed({ ...goodHeader(EC), kid: undefined }, claims({ sub: 'ünïcødé', scope: undefined }), EC),
];
const VALID_SET = new Set(VALID);

describe('strict JSON (strict-json.ts)', () => {
  it('never throws on arbitrary bytes and accepts only what JSON.parse reads the same way', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.string({ unit: 'binary', maxLength: 200 }).map((s) => Buffer.from(s, 'utf8')),
          fc.json().map((s) => Buffer.from(s)),
        ),
        (bytes) => {
          const result = parseStrictJsonObject(bytes, MAX_JSON_DEPTH);
          if (!result.ok) {
            expect(result.problem.length).toBeGreaterThan(0);
            return;
          }
          const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
          // Inexact numbers keep their text (P17); read as JSON.parse would, the value is the same.
          expect(asJsonParse(result.value)).toEqual(JSON.parse(text));
          expect(typeof result.value === 'object' && result.value !== null && !Array.isArray(result.value)).toBe(true);
        },
      ),
      { numRuns: runs(1000) },
    );
  });

  it('refuses duplicate member names at any depth, however they are spelled', () => {
    const escape = (name: string) =>
      [...name].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
    fc.assert(
      fc.property(
        fc.oneof(hostileKey, fc.string({ minLength: 1, maxLength: 6 })),
        fc.integer({ min: 0, max: 10 }),
        fc.boolean(),
        (name, depth, escaped) => {
          const a = JSON.stringify(name);
          const b = escaped ? `"${escape(name)}"` : a;
          let text = `{${a}:1,"x":true,${b}:2}`;
          for (let i = 0; i < depth; i++) text = `{"n":${text}}`;
          expect(parseStrictJsonObject(Buffer.from(text), MAX_JSON_DEPTH).ok).toBe(false);
        },
      ),
      { numRuns: runs(300) },
    );
  });

  it('bounds nesting: depth up to the limit parses, one more does not (objects and arrays)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 * MAX_JSON_DEPTH }),
        fc.array(fc.boolean(), { minLength: 60, maxLength: 60 }),
        (depth, kinds) => {
          // depth = number of nested containers, the top object included.
          let inner = '0';
          for (let i = depth - 1; i >= 1; i--) inner = kinds[i] ? `[${inner}]` : `{"k":${inner}}`;
          const text = `{"k":${inner}}`;
          expect(parseStrictJsonObject(Buffer.from(text), MAX_JSON_DEPTH).ok).toBe(depth <= MAX_JSON_DEPTH);
        },
      ),
      { numRuns: runs(300) },
    );
  });
});

/** The value with every InexactNumber replaced by what JSON.parse would have made of its text. */
function asJsonParse(value: unknown): unknown {
  if (value instanceof InexactNumber) return JSON.parse(value.text) as number;
  if (Array.isArray(value)) return value.map(asJsonParse);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      Object.defineProperty(out, k, { value: asJsonParse(v), enumerable: true });
    return out;
  }
  return value;
}

/** Large integers, in plain, fraction and exponent spellings, from just below 2^53 to 30 digits. */
const largeInteger = fc
  .tuple(
    fc.bigInt({ min: 2n ** 53n - 3n, max: 10n ** 30n }),
    fc.boolean(),
    fc.constantFrom('plain', 'fraction', 'exponent'),
  )
  .map(([n, negative, spelling]) => {
    const digits = n.toString();
    const sign = negative ? '-' : '';
    if (spelling === 'fraction') return `${sign}${digits}.0`;
    if (spelling === 'exponent') return `${sign}${digits[0]}.${digits.slice(1) || '0'}e${digits.length - 1}`;
    return `${sign}${digits}`;
  });

describe('large integers (P17)', () => {
  it('are kept exactly: two different literals never parse to values that compare or forward the same', () => {
    fc.assert(
      fc.property(largeInteger, largeInteger, (a, b) => {
        const read = (lit: string) => {
          const r = parseStrictJsonObject(Buffer.from(`{"n":${lit}}`), MAX_JSON_DEPTH);
          if (!r.ok) throw new Error(r.problem);
          return r.value.n;
        };
        const [va, vb] = [read(a), read(b)];
        for (const [lit, v] of [
          [a, va],
          [b, vb],
        ] as const) {
          if (isExactNumberLiteral(lit)) expect(v).toBe(Number(lit));
          else expect(v).toEqual(new InexactNumber(lit));
        }
        // Mathematically different numbers stay distinguishable.
        if (a !== b && Number(a) === Number(b)) expect(va).not.toEqual(vb);
      }),
      { numRuns: runs(300) },
    );
  });

  it('in a validly signed token: an unrelated large claim does not change the decision; a large exp is refused', async () => {
    await fc.assert(
      fc.asyncProperty(largeInteger, async (lit) => {
        const base = JSON.stringify(claims());
        const extra = signed(goodHeader(RSA), base.replace(/}$/, `,"n":${lit}}`));
        expect((await decideAll(`Bearer ${extra}`)).outcome).toBe('allow');
        const exp = signed(goodHeader(RSA), base.replace(/"exp":\d+/, `"exp":${lit}`));
        const decision = await decideAll(`Bearer ${exp}`);
        if (!isExactNumberLiteral(lit))
          expect(decision).toMatchObject({ outcome: 'deny', reason: 'ERR_CLAIMS_INVALID' });
      }),
      { numRuns: runs(60) },
    );
  });
});

describe('compact JWS parsing and extraction never throw', () => {
  it('parseCompactJws on random and near-grammar strings', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.string({ unit: joseChar, maxLength: 300 }),
          fc.string({ unit: 'binary', maxLength: 100 }),
        ),
        fc.integer({ min: 0, max: 70000 }),
        (token, max) => {
          const r = parseCompactJws(token, max);
          if (r.ok) {
            expect(token.length).toBeLessThanOrEqual(max);
            expect(token.split('.')).toHaveLength(3);
          } else {
            expect(['ERR_TOKEN_TOO_LARGE', 'ERR_TOKEN_MALFORMED', 'ERR_TOKEN_UNSUPPORTED']).toContain(r.reason);
          }
        },
      ),
      { numRuns: runs(1000) },
    );
  });

  it('extractToken on hostile header sets: at most one token, always b64token', () => {
    const locations = [
      compileLocation({ header: 'authorization', scheme: 'Bearer' }),
      compileLocation({ cookie: 'at' }),
      compileLocation({ header: 'x-token' }),
    ];
    const value = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.string({ unit: joseChar, maxLength: 40 }).map((t) => `Bearer ${t}`),
      fc.constantFrom('Bearer', 'Bearer ', 'bearer  a', 'Basic YQ==', 'at=a; at=b', 'at=', 'Bearer a,Bearer b'),
    );
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom('authorization', 'cookie', 'x-token', 'x-other'),
          fc.array(value, { minLength: 1, maxLength: 3 }),
        ),
        (headers) => {
          const result = extractToken(viewOf(headers), locations);
          if (result.kind === 'token') expect(result.token).toMatch(/^[A-Za-z0-9\-._~+/]+=*$/);
        },
      ),
      { numRuns: runs(1000) },
    );
  });
});

describe('the decider on random and mutated tokens', () => {
  it('random Authorization values are never allowed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.string({ unit: joseChar, maxLength: 400 }).map((t) => `Bearer ${t}`),
        ),
        async (value) => {
          const d = await decideAll(value);
          expect(d.outcome).not.toBe('allow');
        },
      ),
      { numRuns: runs(500) },
    );
  });

  /** One edit of a valid token; `same` tells whether the edit happened to reproduce a valid token. */
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), c: joseChar }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), c: joseChar }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 4 }) }),
    fc.record({
      kind: fc.constant('swap' as const),
      order: fc.constantFrom([0, 2, 1], [1, 0, 2], [2, 1, 0], [1, 2, 0], [0, 1, 1], [0, 0, 2]),
    }),
    fc.record({
      kind: fc.constant('pad' as const),
      segment: fc.integer({ min: 0, max: 2 }),
      pad: fc.constantFrom('=', '==', '==='),
    }),
    fc.record({ kind: fc.constant('std-base64' as const), segment: fc.integer({ min: 0, max: 2 }) }),
    fc.record({ kind: fc.constant('segments' as const), extra: fc.constantFrom('', '.', '..', '.x', '.AAAA.BBBB') }),
  );

  function mutate(token: string, m: Record<string, unknown> & { kind: string }): string {
    const parts = token.split('.');
    switch (m.kind) {
      case 'flip': {
        const i = (m.at as number) % token.length;
        return token.slice(0, i) + (m.c as string) + token.slice(i + 1);
      }
      case 'insert': {
        const i = (m.at as number) % (token.length + 1);
        return token.slice(0, i) + (m.c as string) + token.slice(i);
      }
      case 'delete': {
        const i = (m.at as number) % token.length;
        return token.slice(0, i) + token.slice(i + (m.n as number));
      }
      case 'swap':
        return (m.order as number[]).map((i) => parts[i]).join('.');
      case 'pad':
        parts[m.segment as number] += m.pad as string;
        return parts.join('.');
      case 'std-base64':
        parts[m.segment as number] = Buffer.from(parts[m.segment as number]!, 'base64url').toString('base64');
        return parts.join('.');
      default:
        return token + (m.extra as string);
    }
  }

  it('a mutated valid token is allowed only if the mutation reproduced a valid token', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...VALID),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        fc.constantFrom('/api/items', '/admin/x'),
        async (token, edits, path) => {
          const mutant = edits.reduce((t, m) => mutate(t, m as Record<string, unknown> & { kind: string }), token);
          const d = await decideAll(`Bearer ${mutant}`, path);
          if (d.outcome === 'allow') {
            expect(VALID_SET.has(mutant)).toBe(true);
            if (path === '/admin/x') expect(mutant).toBe(VALID[2]);
          }
        },
      ),
      { numRuns: runs(1500) },
    );
  });

  it('the valid tokens themselves are allowed (the oracle is not vacuous) and /admin needs the role', async () => {
    for (const token of VALID) expect((await decideAll(`Bearer ${token}`)).reason).toBe('OK_AUTHENTICATED');
    expect((await decideAll(`Bearer ${VALID[0]}`, '/admin')).reason).toBe('ERR_ROLE_MISSING');
    expect((await decideAll(`Bearer ${VALID[2]}`, '/admin')).reason).toBe('OK_AUTHENTICATED');
  });
});

describe('hostile JSON, validly signed', () => {
  type Case = {
    readonly header: string | Buffer;
    readonly payload: string | Buffer;
    readonly ok: boolean;
    readonly adminOk?: boolean;
  };

  const goodPayloadMembers = (extra: Record<string, unknown> = {}) => {
    const c = claims(extra);
    return Object.entries(c).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
  };
  const object = (members: string[]) => `{${members.join(',')}}`;
  const headerText = (extra: string[] = [], key = RSA) =>
    object([...Object.entries(goodHeader(key)).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`), ...extra]);

  /** Members that are harmless: the token must still verify (own properties only, big numbers allowed in non-registered claims). */
  const harmlessMember = fc.oneof(
    fc
      .tuple(
        hostileKey,
        fc.constantFrom(
          '1',
          '"admin"',
          '{"roles":["admin"]}',
          '{"__proto__":{"roles":["admin"]}}',
          '["admin"]',
          'null',
        ),
      )
      .map(([k, v]) => `${JSON.stringify(k)}:${v}`),
    fc
      .constantFrom('1e400', '-1e400', '-0', '9007199254740993', '1.0e-400', '123456789012345678901234567890', '0.1e1')
      .map((n) => `"n":${n}`),
    fc.constantFrom('"\\ud800"', '"\\udfff\\ud800"', '"\\u0000"', '"é\\u00e9"', '"\\/"').map((s) => `"s":${s}`),
    fc.integer({ min: 1, max: MAX_JSON_DEPTH - 1 }).map((d) => `"deep":${'['.repeat(d)}1${']'.repeat(d)}`),
  );

  /** Payloads that must be refused, each for a reason the check under test owns. */
  const badPayload: fc.Arbitrary<string | Buffer> = fc.oneof(
    fc
      .constantFrom('iss', 'sub', 'aud', 'exp', 'scope', 'roles')
      .map((dup) =>
        object([
          ...goodPayloadMembers({ roles: ['x'] }),
          `${JSON.stringify(dup)}:${dup === 'exp' ? NOW_S + 100 : '"x"'}`,
        ]),
      ),
    fc
      .integer({ min: MAX_JSON_DEPTH, max: 40 })
      .map((d) => object([...goodPayloadMembers(), `"deep":${'['.repeat(d)}1${']'.repeat(d)}`])),
    fc
      .constantFrom('1e400', '"9999999999"', 'null', 'true', '[1]', '-0', '0', `${NOW_S - 61}`)
      .map((exp) => object([...goodPayloadMembers({ exp: undefined }), `"exp":${exp}`])),
    fc
      .constantFrom('""', '1', 'null', '["x"]', '{}')
      .map((sub) => object([...goodPayloadMembers({ sub: undefined }), `"sub":${sub}`])),
    fc
      .constantFrom('[]', '[1]', `["${AUD}",1]`, `"${AUD} "`, `"${AUD.toUpperCase()}"`, 'null', '{}')
      .map((aud) => object([...goodPayloadMembers({ aud: undefined }), `"aud":${aud}`])),
    fc
      .constantFrom(`{"iss":"${ISS_A}"}`)
      .map((p) => object([...goodPayloadMembers({ iss: undefined }), `"__proto__":${p}`])),
    fc
      .constantFrom(
        Buffer.from([0xff]),
        Buffer.from([0xc0, 0xaf]),
        Buffer.from([0xed, 0xa0, 0x80]),
        Buffer.from([0xe2, 0x82]),
      )
      .map((bad) => Buffer.concat([Buffer.from(`{"x":"`), bad, Buffer.from(`",${goodPayloadMembers().join(',')}}`)])),
    fc.constantFrom('\ufeff', ' [', 'x').map((prefix) => prefix + object(goodPayloadMembers())),
    fc.constantFrom(',', ' x', '}', ',}').map((suffix) => object(goodPayloadMembers()) + suffix),
  );

  const badHeader: fc.Arbitrary<string | Buffer> = fc.oneof(
    fc.constantFrom('"alg":"RS256"', '"typ":"JWT"', '"kid":"other"').map((dup) => headerText([dup])),
    fc
      .constantFrom(
        '"crit":["exp"]',
        '"b64":false',
        '"zip":"DEF"',
        '"enc":"A128GCM"',
        '"cty":"JWT"',
        '"cty":"application/jwt"',
      )
      .map((m) => headerText([m])),
    fc.constantFrom(
      '{"alg":"RS256"}',
      '{"typ":"at+jwt","kid":"fuzz-rsa","__proto__":{"alg":"RS256"}}',
      '{"alg":"none","typ":"at+jwt"}',
      '{"alg":"HS256","typ":"at+jwt","kid":"fuzz-rsa"}',
      '{"alg":"RS256","typ":"at+jwt","kid":1e400}',
      '{"alg":["RS256"],"typ":"at+jwt"}',
    ),
    fc.integer({ min: MAX_JSON_DEPTH, max: 30 }).map((d) => headerText([`"x":${'{"a":'.repeat(d)}1${'}'.repeat(d)}`])),
  );

  const cases: fc.Arbitrary<Case> = fc.oneof(
    fc.array(harmlessMember, { maxLength: 4 }).map((extra) => {
      // Unique member names (a duplicate would rightly be refused).
      const seen = new Set<string>();
      const members = extra.filter((m) => {
        const name = m.slice(0, m.indexOf('":') + 1);
        if (seen.has(name) || goodPayloadMembers().some((g) => g.startsWith(`${name}:`))) return false;
        seen.add(name);
        return true;
      });
      return { header: headerText(), payload: object([...goodPayloadMembers(), ...members]), ok: true, adminOk: false };
    }),
    fc
      .constantFrom(
        '"jku":"http://127.0.0.1:1/jwks"',
        '"jwk":{"kty":"oct","k":"AAAA"}',
        '"x5u":"http://x"',
        '"x5c":["AAAA"]',
        '"__proto__":{"crit":["exp"],"alg":"none"}',
        '"constructor":{"prototype":{"alg":"none"}}',
        '"cty":"text/plain"',
      )
      .map((m) => ({ header: headerText([m]), payload: object(goodPayloadMembers()), ok: true, adminOk: false })),
    badPayload.map((payload) => ({ header: headerText(), payload, ok: false })),
    badHeader.map((header) => ({ header, payload: object(goodPayloadMembers()), ok: false })),
  );

  it('refuses every hostile-invalid token and accepts the hostile-but-valid ones; own properties only', async () => {
    await fc.assert(
      fc.asyncProperty(cases, fc.constantFrom('/api/items', '/admin'), async (c, path) => {
        const token = signed(c.header, c.payload);
        const d = await decideAll(`Bearer ${token}`, path);
        if (!c.ok) expect(d.outcome).not.toBe('allow');
        else if (path === '/admin') expect(d.reason).toBe(c.adminOk ? 'OK_AUTHENTICATED' : 'ERR_ROLE_MISSING');
        else expect(d.reason).toBe('OK_AUTHENTICATED');
      }),
      { numRuns: runs(600) },
    );
    // Prototype pollution through a token payload never reaches other objects.
    expect(({} as Record<string, unknown>).roles).toBeUndefined();
    expect(({} as Record<string, unknown>).alg).toBeUndefined();
  });
});

describe('registered claims, differential against a reference model', () => {
  const ABSENT = Symbol('absent');
  const pick = <T>(...values: T[]) => fc.constantFrom<T | typeof ABSENT>(ABSENT, ...values);
  const times = [
    NOW_S - 61,
    NOW_S - 60,
    NOW_S - 59,
    NOW_S,
    NOW_S + 59,
    NOW_S + 60,
    NOW_S + 61,
    NOW_S + 3600,
    0,
    -0,
    1e308,
    -1,
    2 ** 53 + 1,
  ];
  const model = fc.record({
    iss: pick<unknown>(ISS_A, `${ISS_A}/`, ISS_A.toUpperCase(), '', null, 1, [ISS_A]),
    sub: pick<unknown>('u', '', 'ünï', 1, null, ['u'], {}),
    aud: pick<unknown>(AUD, [AUD], ['x', AUD], [], ['x'], [AUD, 1], `${AUD}/`, null, 1),
    exp: pick<unknown>(...times, '1900000000', null, true),
    nbf: pick<unknown>(...times, 'x', null),
    iat: pick<unknown>(...times, '0', null),
  });

  const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  function expectedAllow(c: Record<string, unknown>): boolean {
    if (c.iss !== ISS_A) return false;
    if (typeof c.sub !== 'string' || c.sub === '') return false;
    if (!isTime(c.exp) || !(NOW_S < c.exp + 60)) return false;
    if ('nbf' in c && (!isTime(c.nbf) || NOW_S + 60 < c.nbf)) return false;
    if ('iat' in c && (!isTime(c.iat) || c.iat > NOW_S + 60)) return false;
    const aud = c.aud;
    if (typeof aud === 'string') return aud === AUD;
    return Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === 'string') && aud.includes(AUD);
  }

  it('allows exactly when the reference model does', async () => {
    await fc.assert(
      fc.asyncProperty(model, async (m) => {
        const payload: Record<string, unknown> = { jti: 'j' };
        for (const [k, v] of Object.entries(m)) if (v !== ABSENT) payload[k] = v;
        const token = signed(goodHeader(EC), payload, EC);
        const d = await decideAll(`Bearer ${token}`);
        // JSON turns -0 into 0; the model sees what the token carries.
        expect(d.outcome === 'allow').toBe(
          expectedAllow(JSON.parse(JSON.stringify(payload)) as Record<string, unknown>),
        );
      }),
      { numRuns: runs(800) },
    );
  });
});
