import fc from 'fast-check';
import { configSchema, type Config } from '../../src/config/schema.js';
import { claimToHeaderValue, compileIdentityHeaders, isSafeHeaderValue } from '../../src/engine/identity.js';

/** Builds `upstream:` through the schema so defaults and lower-casing match production. */
function upstream(u: Record<string, unknown>): Config['upstream'] {
  return configSchema.parse({
    issuers: [{ name: 'idp', issuer: 'https://idp.example.com', audiences: ['api'] }],
    upstream: u,
  }).upstream;
}

const b64url = (s: string) => Buffer.from(s, 'utf8').toString('base64url');

describe('claimToHeaderValue', () => {
  const convert = (v: unknown, sep = ',', max = 4096) => claimToHeaderValue(v, sep, max);

  it('converts scalars, scalar arrays (token order) and objects', () => {
    expect(convert('jane')).toBe('jane');
    expect(convert(42)).toBe('42');
    expect(convert(1.5e300)).toBe(String(1.5e300));
    expect(convert(false)).toBe('false');
    expect(convert(['b', 'a', 3, true])).toBe('b,a,3,true');
    expect(convert(['b', 'a'], '; ')).toBe('b; a');
    expect(convert({ tenant: 'acme', n: [1] })).toBe('{"tenant":"acme","n":[1]}');
    expect(convert([{ id: 1 }, 'x'])).toBe('[{"id":1},"x"]');
    expect(convert([null, 'x'])).toBe('[null,"x"]');
    expect(convert([['nested']])).toBe('[["nested"]]');
  });

  it('does not set null, absent or empty values', () => {
    for (const v of [null, undefined, '', []]) expect(convert(v)).toBeUndefined();
  });

  it('refuses array elements that contain the separator (one value would read as several)', () => {
    expect(convert(['admin,ops'])).toBeUndefined();
    expect(convert(['a|b', 'c'], '|')).toBeUndefined();
    expect(convert(['a,b'], '|')).toBe('a,b');
  });

  it.each([
    ['CR LF injection', 'jane\r\nx-admin: true'],
    ['NUL', 'a\u0000b'],
    ['other C0', 'a\u001bb'],
    ['DEL', 'a\u007fb'],
    ['C1 NEL', 'a\u0085b'],
    ['lone high surrogate', 'a\ud800b'],
    ['lone low surrogate', 'a\udc00'],
    ['leading space', ' admin@example.com'],
    ['trailing tab', 'admin@example.com\t'],
  ])('never forwards %s', (_, value) => {
    expect(convert(value)).toBeUndefined();
    expect(convert([value, 'x'])).toBeUndefined();
  });

  it('forwards non-ASCII text and astral characters, never a TAB (P17: a check would not read it either)', () => {
    expect(convert('a\tb')).toBeUndefined();
    expect(convert('Zoë 😀')).toBe('Zoë 😀');
  });

  it('caps the UTF-8 length, not the UTF-16 length', () => {
    expect(convert('x'.repeat(16), ',', 16)).toBe('x'.repeat(16));
    expect(convert('x'.repeat(17), ',', 16)).toBeUndefined();
    expect(convert('é'.repeat(8), ',', 16)).toBe('é'.repeat(8)); // 16 bytes
    expect(convert('é'.repeat(9), ',', 16)).toBeUndefined();
    expect(convert('😀'.repeat(4), ',', 16)).toBe('😀'.repeat(4)); // 16 bytes
    expect(convert('😀'.repeat(4) + 'x', ',', 16)).toBeUndefined();
  });

  it('agrees with Buffer.byteLength on the size cap', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.integer({ min: 16, max: 64 }), (s, max) => {
        fc.pre(s.length > 0 && !/^[ \t]|[ \t]$|[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/.test(s));
        expect(isSafeHeaderValue(s, max)).toBe(Buffer.byteLength(s, 'utf8') <= max);
      }),
      { seed: 7, numRuns: 1000 },
    );
  });
});

describe('compileIdentityHeaders', () => {
  const identity = compileIdentityHeaders(
    upstream({
      headers: [
        { name: 'X-User', claim: 'sub' },
        { name: 'x-roles', claim: 'https://example.com/roles' },
        { name: 'x-tenant', claim: 'org.tenant' },
      ],
      payload_header: 'x-jwt-payload',
      strip_token: true,
    }),
  );

  it('owns every configured name, lower-cased, plus the payload header', () => {
    expect(identity.owned).toEqual(['x-user', 'x-roles', 'x-tenant', 'x-jwt-payload']);
    expect(identity.removeAll).toEqual(identity.owned);
  });

  it('sets present claims, removes absent ones, strips the token carrier', () => {
    const claims = { sub: 'u1', 'https://example.com/roles': ['admin', 'ops'] };
    const segment = b64url(JSON.stringify(claims));
    const plan = identity.build(claims, 'Authorization', segment);
    expect(plan.set).toEqual([
      { name: 'x-user', value: 'u1' },
      { name: 'x-roles', value: 'admin,ops' },
      { name: 'x-jwt-payload', value: segment },
    ]);
    expect(plan.remove).toEqual(['x-tenant', 'authorization']);
  });

  it('serializes the payload when no segment is passed', () => {
    const claims = JSON.parse('{"sub":"u1","__proto__":{"x":1}}') as Record<string, unknown>;
    const plan = identity.build(claims);
    const payload = plan.set.find((h) => h.name === 'x-jwt-payload');
    expect(payload?.value).toBe(b64url(JSON.stringify(claims)));
    expect(JSON.parse(Buffer.from(payload!.value, 'base64url').toString('utf8'))).toEqual(claims);
    expect(plan.remove).not.toContain('authorization');
  });

  it('removes the payload header when the segment is not base64url or is too large', () => {
    const small = compileIdentityHeaders(upstream({ payload_header: 'x-p', max_header_bytes: 16 }));
    expect(small.build({ sub: 'x' }, undefined, 'abc.def').remove).toEqual(['x-p']);
    expect(small.build({ sub: 'x' }, undefined, 'a'.repeat(17)).remove).toEqual(['x-p']);
    expect(small.build({ sub: 'x'.repeat(100) }).remove).toEqual(['x-p']);
    expect(small.build({ sub: 'x' }, undefined, 'a'.repeat(16)).set).toEqual([{ name: 'x-p', value: 'a'.repeat(16) }]);
  });

  it('does not strip the carrier unless strip_token is on', () => {
    const keep = compileIdentityHeaders(upstream({ headers: [{ name: 'x-user', claim: 'sub' }] }));
    expect(keep.build({ sub: 'u' }, 'authorization')).toEqual({ set: [{ name: 'x-user', value: 'u' }], remove: [] });
  });

  it('never lists an owned carrier for removal when it is set', () => {
    const clash = compileIdentityHeaders(upstream({ headers: [{ name: 'x-token', claim: 'sub' }], strip_token: true }));
    expect(clash.build({ sub: 'u' }, 'x-token')).toEqual({ set: [{ name: 'x-token', value: 'u' }], remove: [] });
    expect(clash.build({}, 'x-token')).toEqual({ set: [], remove: ['x-token'] });
  });

  it('never reads claims from the prototype chain', () => {
    const proto = compileIdentityHeaders(
      upstream({
        headers: [
          { name: 'x-c', claim: 'constructor' },
          { name: 'x-t', claim: 'toString' },
        ],
      }),
    );
    expect(proto.build({})).toEqual({ set: [], remove: ['x-c', 'x-t'] });
  });

  it('handles huge arrays and deep objects by the size cap, without throwing', () => {
    const big = compileIdentityHeaders(
      upstream({
        headers: [
          { name: 'x-g', claim: 'groups' },
          { name: 'x-o', claim: 'o' },
        ],
      }),
    );
    const depth = 5000;
    const deep = JSON.parse('{"a":'.repeat(depth) + '1' + '}'.repeat(depth)) as unknown;
    const plan = big.build({ groups: Array.from({ length: 100_000 }, (_, i) => `g${i}`), o: deep });
    expect(plan).toEqual({ set: [], remove: ['x-g', 'x-o'] });
  });
});

describe('ownership invariant (property)', () => {
  const headerName = fc.constantFrom('x-a', 'x-b', 'x-c', 'x-d', 'x-e');
  const claimName = fc.constantFrom('sub', 'a', 'b', '__proto__', 'constructor', 'toString', 'a.b', 'x.__proto__');
  const config = fc.record({
    headers: fc.uniqueArray(fc.record({ name: headerName, claim: claimName }), {
      selector: (h) => h.name,
      maxLength: 5,
    }),
    payload: fc.option(fc.constantFrom('x-payload', 'x-jwt'), { nil: undefined }),
    strip: fc.boolean(),
    max: fc.integer({ min: 16, max: 200 }),
    sep: fc.constantFrom(',', ' ', '|', ', '),
  });
  const hostileValue = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.string({ unit: 'binary' }),
    fc.array(fc.string({ unit: fc.constantFrom('a', ',', '|', ' ', '\r', '\n', '\u0000', '\ud800') })),
  );
  const claims = fc
    .dictionary(claimName, hostileValue, { maxKeys: 8 })
    .map((d) => JSON.parse(JSON.stringify(d)) as Record<string, unknown>);
  const carrier = fc.option(fc.constantFrom('authorization', 'x-a', 'X-Token'), { nil: undefined });
  const segment = fc.option(fc.oneof(fc.base64String(), fc.string()), { nil: undefined });

  it('puts every owned header in exactly one of set and remove, with only safe values', () => {
    fc.assert(
      fc.property(config, claims, carrier, segment, (cfg, c, tokenCarrier, payloadSegment) => {
        const identity = compileIdentityHeaders(
          upstream({
            headers: cfg.headers,
            ...(cfg.payload ? { payload_header: cfg.payload } : {}),
            strip_token: cfg.strip,
            max_header_bytes: cfg.max,
            array_separator: cfg.sep,
          }),
        );
        const plan = identity.build(c, tokenCarrier, payloadSegment);
        const setNames = plan.set.map((h) => h.name);
        for (const name of identity.owned) {
          expect(Number(setNames.includes(name)) + Number(plan.remove.includes(name))).toBe(1);
        }
        expect(new Set(setNames).size).toBe(setNames.length);
        expect(plan.remove.filter((n) => setNames.includes(n))).toEqual([]);
        for (const h of plan.set) {
          expect(h.value).not.toMatch(/^[ \t]|[ \t]$|[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/);
          expect(h.value).not.toMatch(/\p{Cs}/u); // no lone surrogates
          expect(Buffer.byteLength(h.value, 'utf8')).toBeLessThanOrEqual(cfg.max);
        }
        // Deterministic.
        expect(identity.build(c, tokenCarrier, payloadSegment)).toEqual(plan);
      }),
      { seed: 13, numRuns: 1000 },
    );
  });
});
