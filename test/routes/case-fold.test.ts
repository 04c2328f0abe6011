/**
 * The characters `ignore_case` routes refuse: re-derived from the runtime's own case mappings over all
 * of Unicode, so the hard-coded list in src/routes/case-fold.ts cannot drift from what the foldings do.
 */
import { FOLDS_TO_ASCII, hasAmbiguousFolding } from '../../src/routes/case-fold.js';

const ASCII_LETTER = /[A-Za-z]/;

/** Lower, upper, both round trips, Turkish and Lithuanian: the foldings upstream routers are seen using. */
function foldings(c: string): string[] {
  return [
    c.toLowerCase(),
    c.toUpperCase(),
    c.toUpperCase().toLowerCase(),
    c.toLowerCase().toUpperCase(),
    c.toLocaleLowerCase('tr'),
    c.toLocaleUpperCase('tr'),
    c.toLocaleLowerCase('lt'),
  ];
}

describe('characters whose case folding reaches ASCII', () => {
  it('the list is exactly the non-ASCII code points some folding maps onto an ASCII letter', () => {
    const derived: string[] = [];
    for (let cp = 0x80; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const c = String.fromCodePoint(cp);
      if (foldings(c).some((f) => ASCII_LETTER.test(f))) derived.push(c);
    }
    expect(derived.join('')).toBe(FOLDS_TO_ASCII);
  });

  it.each([
    ['/admİn', true], // U+0130: Turkish lower-casing gives "admin"
    ['/admın', true], // U+0131: upper-cases to I, so Java equalsIgnoreCase("admin") holds
    ['/ſecret', true], // U+017F long s: upper-cases to S
    ['/\u212aey', true], // Kelvin sign: lower-cases to k
    ['/ﬁle', true],
    ['/straße', true],
    ['/café', false], // folds, but to a non-ASCII letter both sides agree on
    ['/Å', false], // U+212B Angstrom sign folds to å: not ASCII
    ['/admin', false],
  ])('%j ambiguous: %s', (path, expected) => {
    expect(hasAmbiguousFolding(path)).toBe(expected);
  });
});
