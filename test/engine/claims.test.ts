import { compileClaimPath, splitClaimPath, UNREADABLE } from '../../src/engine/claims.js';

/** Claims as the verifier hands them over: parsed JSON. */
const parse = (json: string) => JSON.parse(json) as Record<string, unknown>;

describe('splitClaimPath', () => {
  it('splits dotted paths and keeps URL-shaped claim names whole', () => {
    expect(splitClaimPath('realm_access.roles')).toEqual(['realm_access', 'roles']);
    expect(splitClaimPath('https://example.com/roles')).toEqual(['https://example.com/roles']);
    expect(splitClaimPath('https://example.com/a.b')).toEqual(['https://example.com/a.b']);
    expect(splitClaimPath(['a.b', 'c'])).toEqual(['a.b', 'c']);
  });

  it.each(['a..b', '.a', 'a.', ''])('refuses the empty claim name in %j at compile time', (path) => {
    expect(() => compileClaimPath(path)).toThrow(/empty claim name/);
  });

  it('refuses an empty segment in the array form', () => {
    expect(() => compileClaimPath(['a', ''])).toThrow(/empty claim name/);
    expect(() => compileClaimPath([])).toThrow(/empty claim name/);
  });
});

describe('compileClaimPath', () => {
  const claims = parse(
    JSON.stringify({
      sub: 'u1',
      realm_access: { roles: ['admin', 'user'] },
      'https://example.com/roles': ['editor'],
      'a.b': 'dotted-name',
      groups: ['g0', 'g1'],
      n: 0,
      f: false,
      z: null,
    }),
  );

  it('reads top-level, nested and namespaced claims', () => {
    expect(compileClaimPath('sub')(claims)).toBe('u1');
    expect(compileClaimPath('realm_access.roles')(claims)).toEqual(['admin', 'user']);
    expect(compileClaimPath('https://example.com/roles')(claims)).toEqual(['editor']);
    expect(compileClaimPath(['a.b'])(claims)).toBe('dotted-name');
  });

  it('keeps falsy values and null distinct from absence', () => {
    expect(compileClaimPath('n')(claims)).toBe(0);
    expect(compileClaimPath('f')(claims)).toBe(false);
    expect(compileClaimPath('z')(claims)).toBeNull();
    expect(compileClaimPath('missing')(claims)).toBeUndefined();
    expect(compileClaimPath('z.deeper')(claims)).toBeUndefined();
  });

  it('does not index arrays or walk into scalars: such a step is unreadable, not absent', () => {
    expect(compileClaimPath('groups.0')(claims)).toBe(UNREADABLE);
    expect(compileClaimPath('groups.length')(claims)).toBe(UNREADABLE);
    expect(compileClaimPath('sub.length')(claims)).toBe(UNREADABLE);
    expect(compileClaimPath('n.toFixed')(claims)).toBe(UNREADABLE);
  });

  it('a dotted path is unreadable when the token also has a member named like a joined part of it', () => {
    expect(compileClaimPath('a.b')(claims)).toBe(UNREADABLE);
    expect(compileClaimPath(['a', 'b'])(claims)).toBeUndefined();
    expect(compileClaimPath('x.a.b')(parse('{"x":{"a.b":1}}'))).toBe(UNREADABLE);
    expect(compileClaimPath('x.a.b')(parse('{"x":{"a":{"b":1}}}'))).toBe(1);
  });

  it.each([
    '__proto__',
    'constructor',
    'toString',
    'hasOwnProperty',
    '__proto__.constructor',
    'realm_access.constructor',
    'realm_access.__proto__',
  ])('never reads %s from the prototype chain', (path) => {
    expect(compileClaimPath(path)(claims)).toBeUndefined();
    expect(compileClaimPath(path)(Object.create(null) as Record<string, unknown>)).toBeUndefined();
  });

  it('reads __proto__, constructor and toString when the JSON really carries them as data', () => {
    const hostile = parse(
      '{"__proto__": {"admin": true}, "constructor": "c", "toString": ["t"], "x": {"__proto__": "deep"}}',
    );
    expect(compileClaimPath('__proto__.admin')(hostile)).toBe(true);
    expect(compileClaimPath('constructor')(hostile)).toBe('c');
    expect(compileClaimPath('toString')(hostile)).toEqual(['t']);
    expect(compileClaimPath('x.__proto__')(hostile)).toBe('deep');
    // …and the parsed object's prototype was not polluted.
    expect(compileClaimPath('admin')(hostile)).toBeUndefined();
  });

  it('walks deep nesting without recursion', () => {
    const depth = 2000;
    const json = '{"a":'.repeat(depth) + '"leaf"' + '}'.repeat(depth);
    const path = Array.from({ length: depth }, () => 'a');
    expect(compileClaimPath(path)(parse(json))).toBe('leaf');
    expect(compileClaimPath([...path, 'a'])(parse(json))).toBe(UNREADABLE); // a step through a string
  });

  it('returns the same value every time (deterministic, no state)', () => {
    const read = compileClaimPath('realm_access.roles');
    expect(read(claims)).toBe(read(claims));
  });
});
