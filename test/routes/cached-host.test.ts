/**
 * The remembered host parsing and trust answers give exactly what they remember: the same result as
 * parsing or checking afresh, for repeated and many distinct inputs (past the bound that clears them).
 */
import { cachedHostOf, hostOf } from '../../src/routes/authority.js';
import { compileTrust } from '../../src/net/trust.js';
import { rememberedTrust } from '../../src/http/server.js';

describe('cachedHostOf', () => {
  it('answers as hostOf, again and again, and past its bound', () => {
    const authorities = ['api.example.com', 'API.example.com:8443', '[::1]:80', 'a@b', '', 'x:1:2', 'host:99999'];
    for (let round = 0; round < 3; round++) for (const a of authorities) expect(cachedHostOf(a)).toEqual(hostOf(a));
    for (let i = 0; i < 600; i++) {
      const a = i % 2 === 0 ? `h${i}.example.com:${i}` : `h${i}@bad`;
      expect(cachedHostOf(a)).toEqual(hostOf(a));
      expect(cachedHostOf(a)).toEqual(hostOf(a));
    }
  });

  it('parses a long client-chosen authority every time instead of keeping it', () => {
    const long = `${'a'.repeat(63)}.`.repeat(8) + 'example.com';
    const first = cachedHostOf(long);
    expect(first).toEqual(hostOf(long));
    // A remembered answer would be the same frozen object on the second call.
    expect(cachedHostOf(long)).not.toBe(first);
    const short = 'api.example.com:443';
    expect(cachedHostOf(short)).toBe(cachedHostOf(short));
  });
});

describe('rememberedTrust', () => {
  it('answers as the trust list it remembers, for trusted, untrusted and malformed peers, past its bound', () => {
    const trust = compileTrust(['10.0.0.0/8', '::1/128']);
    const remembered = rememberedTrust(trust, 16);
    const peers = ['10.1.2.3', '11.1.2.3', '::1', '::2', '::ffff:10.0.0.1', 'nonsense', '', undefined];
    for (let round = 0; round < 3; round++) for (const p of peers) expect(remembered.trusted(p)).toBe(trust.trusted(p));
    for (let i = 0; i < 100; i++) {
      const p = `${i % 3 === 0 ? 10 : 12}.0.0.${i}`;
      expect(remembered.trusted(p)).toBe(trust.trusted(p));
      expect(remembered.trusted(p)).toBe(i % 3 === 0);
    }
  });
});
