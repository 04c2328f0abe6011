/**
 * P17 at the parser: JSON numbers a double cannot hold exactly are kept as their text (InexactNumber),
 * never silently rounded into another value.
 */
import { InexactNumber, isExactNumberLiteral, parseStrictJsonObject } from '../../src/token/strict-json.js';

const parse = (text: string) => {
  const r = parseStrictJsonObject(Buffer.from(text, 'utf8'), 16);
  if (!r.ok) throw new Error(r.problem);
  return r.value;
};

describe('number exactness', () => {
  it.each([
    ['9007199254740991', true],
    ['-9007199254740991', true],
    ['9007199254740992', false],
    ['1234567890123456789', false],
    ['0.1', true],
    ['123456789012345.6', false],
    ['12345678901234.5', true],
    ['1e21', false],
    ['1.5e3', true],
    ['1.0000000000000000001', false],
    ['12345678901234567e3', false],
    ['1e400', false],
    ['1e-400', false],
    ['0.000', true],
    ['-0', true],
    ['100000000000000000000', false],
  ])('%s exact: %s', (literal, exact) => {
    expect(isExactNumberLiteral(literal)).toBe(exact);
  });

  it('keeps the text of inexact numbers anywhere in the payload, and builds everything else like JSON.parse', () => {
    const text =
      '{"a":1234567890123456789,"b":[1,2.5,1e400,"x\\"y\\u0041"],"__proto__":{"c":12345678901234567.0},"d":0.1,"e":{}}';
    const value = parse(text);
    expect(value.a).toEqual(new InexactNumber('1234567890123456789'));
    expect((value.b as unknown[])[2]).toEqual(new InexactNumber('1e400'));
    expect((value.b as unknown[]).slice(0, 2)).toEqual([1, 2.5]);
    expect((value.b as unknown[])[3]).toBe('x"yA');
    expect(Object.hasOwn(value, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect((value['__proto__'] as Record<string, unknown>).c).toEqual(new InexactNumber('12345678901234567.0'));
    expect(value.d).toBe(0.1);
    expect(value.e).toEqual({});
  });

  it('three 19-digit ids that JSON.parse makes equal stay distinct', () => {
    const ids = ['1152921504606846976', '1152921504606846977', '1152921504606846975'];
    expect(new Set(ids.map((id) => JSON.parse(id) as number)).size).toBe(1);
    const parsed = ids.map((id) => parse(`{"uid":${id}}`).uid as InexactNumber);
    expect(parsed.map((p) => p.text)).toEqual(ids);
  });

  it('a payload with only exact numbers takes the native path (plain numbers)', () => {
    expect(parse('{"n":42,"m":[1.5,-3]}')).toEqual({ n: 42, m: [1.5, -3] });
  });
});
