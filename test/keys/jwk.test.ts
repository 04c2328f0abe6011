import { createPublicKey, generateKeyPairSync, verify, sign, type JsonWebKey } from 'node:crypto';
import type { Algorithm } from '../../src/core/algorithms.js';
import { importJwks, MAX_KEYS_PER_SET, NotAJwksError } from '../../src/keys/jwk.js';
import { isPointOnCurve } from '../../src/keys/ec-point.js';

const RS256: Algorithm[] = ['RS256'];

function rsaJwk(options: { bits?: number; exponent?: number } = {}): JsonWebKey {
  const { publicKey } = generateKeyPairSync('rsa', {
    modulusLength: options.bits ?? 2048,
    publicExponent: options.exponent ?? 65537,
  });
  return publicKey.export({ format: 'jwk' });
}
function ecJwk(namedCurve: string): JsonWebKey {
  return generateKeyPairSync('ec', { namedCurve }).publicKey.export({ format: 'jwk' });
}
function okpJwk(type: 'ed25519' | 'ed448' | 'x25519'): JsonWebKey {
  return (generateKeyPairSync as (t: string) => { publicKey: import('node:crypto').KeyObject })(type).publicKey.export({
    format: 'jwk',
  });
}
/** Import one JWK and return its skip reason, or 'imported'. */
function outcome(jwk: unknown, allowed: Algorithm[] = RS256): string {
  const result = importJwks({ keys: [jwk] }, allowed);
  return result.keys.length === 1 ? 'imported' : result.skipped[0]!.reason;
}

// Shared fixtures: RSA generation is slow, so generate once.
const rsa = rsaJwk();
const p256 = ecJwk('P-256');

describe('importJwks: the document', () => {
  it.each([[null], [[]], ['keys'], [{}], [{ keys: {} }], [{ keys: 'x' }]])(
    'refuses %j as a whole (a failed fetch, not an empty set)',
    (doc) => {
      expect(() => importJwks(doc, RS256)).toThrow(NotAJwksError);
    },
  );

  it('keeps good keys when others in the same set are bad, reporting each skipped key with its kid', () => {
    const result = importJwks(
      {
        keys: [
          { ...rsa, kid: 'good' },
          { kty: 'oct', k: 'c2VjcmV0', kid: 'hmac' },
          42,
          { ...rsa, kid: 'enc', use: 'enc' },
        ],
      },
      RS256,
    );
    expect(result.keys.map((k) => k.kid)).toEqual(['good']);
    expect(result.skipped).toEqual([
      { kid: 'hmac', reason: 'symmetric' },
      { reason: 'not_object' },
      { kid: 'enc', reason: 'use_not_sig' },
    ]);
  });

  it('keeps duplicate kids (they are told apart by algorithm later)', () => {
    const result = importJwks(
      {
        keys: [
          { ...rsa, kid: 'same' },
          { ...p256, kid: 'same' },
        ],
      },
      ['RS256', 'ES256'],
    );
    expect(result.keys.map((k) => [k.kid, k.kty])).toEqual([
      ['same', 'RSA'],
      ['same', 'EC'],
    ]);
  });

  it(`skips keys beyond ${MAX_KEYS_PER_SET} in one set`, () => {
    const keys = Array.from({ length: MAX_KEYS_PER_SET + 2 }, (_, i) => ({ ...p256, kid: `k${i}` }));
    const result = importJwks({ keys }, ['ES256']);
    expect(result.keys).toHaveLength(MAX_KEYS_PER_SET);
    expect(result.skipped.map((s) => s.reason)).toEqual(['too_many_keys', 'too_many_keys']);
  });

  it('imports keys that verify real signatures with crypto.verify', () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const [key] = importJwks({ keys: [{ ...pair.publicKey.export({ format: 'jwk' }), kid: 'e' }] }, ['ES256']).keys;
    const data = Buffer.from('header.payload');
    const signature = sign('sha256', data, { key: pair.privateKey, dsaEncoding: 'ieee-p1363' });
    expect(verify('sha256', data, { key: key!.key, dsaEncoding: 'ieee-p1363' }, signature)).toBe(true);
    expect(key!.key.type).toBe('public');
  });
});

describe('importJwks: key hygiene (SECURITY.md principle 6)', () => {
  it.each([
    ['a string', 'not an object', 'not_object', RS256],
    ['null', null, 'not_object', RS256],
    ['an array', [rsa], 'not_object', RS256],
    ['a numeric kid', { ...rsa, kid: 7 }, 'bad_kid', RS256],
    ['a symmetric (oct) key', { kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQ' }, 'symmetric', RS256],
    ['an unknown kty', { kty: 'PQC', x: 'AAAA' }, 'kty_unsupported', RS256],
    ['a missing kty', { n: rsa.n, e: rsa.e }, 'kty_unsupported', RS256],
    ['use: enc', { ...rsa, use: 'enc' }, 'use_not_sig', RS256],
    ['key_ops without verify', { ...rsa, key_ops: ['encrypt', 'wrapKey'] }, 'key_ops_no_verify', RS256],
    ['key_ops that is not a list', { ...rsa, key_ops: 'verify' }, 'key_ops_no_verify', RS256],
    ['RSA with a missing modulus', { kty: 'RSA', e: 'AQAB' }, 'rsa_bad_members', RS256],
    ['RSA with a padded (non-base64url) modulus', { ...rsa, n: `${rsa.n}=` }, 'rsa_bad_members', RS256],
    [
      'RSA above 8192 bits',
      { kty: 'RSA', n: Buffer.alloc(1025, 0xff).toString('base64url'), e: 'AQAB' },
      'rsa_too_large',
      RS256,
    ],
    ['RSA with e = 1', { ...rsa, e: 'AQ' }, 'rsa_bad_exponent', RS256],
    [
      'RSA with a huge exponent',
      { ...rsa, e: Buffer.from('0100000000000000000001', 'hex').toString('base64url') },
      'rsa_bad_exponent',
      RS256,
    ],
    ['an alg that is not an asymmetric JWS alg', { ...rsa, alg: 'HS256' }, 'alg_unsupported', RS256],
    ['alg none', { ...rsa, alg: 'none' }, 'alg_unsupported', RS256],
    ['an encryption alg', { ...rsa, alg: 'RSA-OAEP' }, 'alg_unsupported', RS256],
    ['an alg of another key type (ES256 on RSA)', { ...rsa, alg: 'ES256' }, 'alg_key_mismatch', RS256],
    ['an alg outside the issuer allow-list', { ...rsa, alg: 'RS384' }, 'alg_not_allowed', RS256],
    ['an RSA key for an ES256-only issuer', rsa, 'no_allowed_alg', ['ES256']],
  ] as [string, unknown, string, Algorithm[]][])('skips %s', (_label, jwk, reason, allowed) => {
    expect(outcome(jwk, allowed)).toBe(reason);
  });

  it('skips private keys even though Node would derive a public key from them', () => {
    const privateJwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
    expect(createPublicKey({ key: privateJwk, format: 'jwk' }).type).toBe('public');
    expect(outcome(privateJwk)).toBe('private_key');
    expect(outcome({ ...p256, d: 'AAAA' }, ['ES256'])).toBe('private_key');
  });

  it('skips RSA keys under 2048 bits', () => {
    expect(outcome(rsaJwk({ bits: 1024 }))).toBe('rsa_too_small');
    expect(outcome(rsaJwk({ bits: 2040 }))).toBe('rsa_too_small');
  });

  it('skips RSA keys with e = 3 (generated by Node, so a real key)', () => {
    const e3 = rsaJwk({ exponent: 3 });
    expect(e3.e).toBe('Aw');
    expect(outcome(e3)).toBe('rsa_bad_exponent');
  });

  it('accepts a 2048-bit modulus sent with a leading zero octet', () => {
    const padded = Buffer.concat([Buffer.alloc(1), Buffer.from(rsa.n!, 'base64url')]).toString('base64url');
    expect(outcome({ ...rsa, n: padded })).toBe('imported');
  });

  describe('EC', () => {
    const flipLastBit = (b64: string) => {
      const bytes = Buffer.from(b64, 'base64url');
      bytes[bytes.length - 1]! ^= 1;
      return bytes.toString('base64url');
    };

    it.each(['P-256', 'P-384', 'P-521'])('accepts a %s key and binds it to its one algorithm', (crv) => {
      const alg = ({ 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' } as const)[crv as 'P-256'];
      const result = importJwks({ keys: [ecJwk(crv)] }, ['ES256', 'ES384', 'ES512', 'RS256']);
      expect([...result.keys[0]!.algorithms]).toEqual([alg]);
    });

    it('skips points that are not on the curve, by its own check (Node 20 happens to reject them too)', () => {
      const offCurve = { ...p256, y: flipLastBit(p256.y!) };
      expect(isPointOnCurve('P-256', Buffer.from(p256.x!, 'base64url'), Buffer.from(p256.y!, 'base64url'))).toBe(true);
      expect(isPointOnCurve('P-256', Buffer.from(offCurve.x!, 'base64url'), Buffer.from(offCurve.y, 'base64url'))).toBe(
        false,
      );
      expect(() => createPublicKey({ key: offCurve, format: 'jwk' })).toThrow();
      expect(outcome(offCurve, ['ES256'])).toBe('ec_not_on_curve');
      const p521 = ecJwk('P-521');
      expect(outcome({ ...p521, x: flipLastBit(p521.x!) }, ['ES512'])).toBe('ec_not_on_curve');
    });

    it('skips the point at "zero" and coordinates not below the field prime', () => {
      const zero = Buffer.alloc(32).toString('base64url');
      expect(outcome({ ...p256, x: zero, y: zero }, ['ES256'])).toBe('ec_not_on_curve');
      const max = Buffer.alloc(32, 0xff).toString('base64url');
      expect(outcome({ ...p256, x: max }, ['ES256'])).toBe('ec_not_on_curve');
    });

    it('skips coordinates of the wrong length (leading zeros must be kept, RFC 7518 §6.2.1.2)', () => {
      const shortX = Buffer.from(p256.x!, 'base64url').subarray(1).toString('base64url');
      expect(outcome({ ...p256, x: shortX }, ['ES256'])).toBe('ec_bad_coordinates');
      expect(outcome({ ...p256, y: undefined }, ['ES256'])).toBe('ec_bad_coordinates');
      const longY = Buffer.concat([Buffer.alloc(1), Buffer.from(p256.y!, 'base64url')]).toString('base64url');
      expect(outcome({ ...p256, y: longY }, ['ES256'])).toBe('ec_bad_coordinates');
    });

    it('skips unsupported curves and curve/alg mismatches', () => {
      expect(outcome(ecJwk('secp256k1'), ['ES256'])).toBe('ec_curve_unsupported');
      expect(outcome({ ...p256, crv: 'P-192' }, ['ES256'])).toBe('ec_curve_unsupported');
      expect(outcome({ ...p256, alg: 'ES384' }, ['ES256', 'ES384'])).toBe('alg_key_mismatch');
      expect(outcome({ ...p256, alg: 'ES256' }, ['ES256'])).toBe('imported');
    });
  });

  describe('OKP', () => {
    it('accepts Ed25519 for EdDSA and Ed25519, Ed448 for EdDSA only', () => {
      const ed25519 = importJwks({ keys: [okpJwk('ed25519')] }, ['EdDSA', 'Ed25519']).keys[0]!;
      expect([...ed25519.algorithms].sort()).toEqual(['Ed25519', 'EdDSA']);
      const ed448 = importJwks({ keys: [okpJwk('ed448')] }, ['EdDSA', 'Ed25519']).keys[0]!;
      expect([...ed448.algorithms]).toEqual(['EdDSA']);
      expect(outcome(okpJwk('ed448'), ['Ed25519'])).toBe('no_allowed_alg');
    });

    it('skips key-agreement curves and malformed keys', () => {
      expect(outcome(okpJwk('x25519'), ['EdDSA'])).toBe('okp_curve_unsupported');
      const ed = okpJwk('ed25519');
      expect(outcome({ ...ed, x: 'AAAA' }, ['EdDSA'])).toBe('okp_bad_key');
      expect(outcome({ ...ed, alg: 'ES256' }, ['EdDSA', 'ES256'])).toBe('alg_key_mismatch');
    });
  });
});

describe('importJwks: algorithms = allow-list ∩ key type ∩ JWK alg (principle 5)', () => {
  it('an RSA key without alg may verify every allowed RSA algorithm, and nothing else', () => {
    const [key] = importJwks({ keys: [rsa] }, ['RS256', 'PS256', 'ES256']).keys;
    expect([...key!.algorithms].sort()).toEqual(['PS256', 'RS256']);
  });

  it('a JWK alg narrows the key to that algorithm', () => {
    const [key] = importJwks({ keys: [{ ...rsa, alg: 'PS256' }] }, ['RS256', 'PS256']).keys;
    expect([...key!.algorithms]).toEqual(['PS256']);
  });

  it('key_ops with verify and use: sig are accepted', () => {
    expect(outcome({ ...rsa, use: 'sig', key_ops: ['verify'] })).toBe('imported');
  });
});
