/**
 * SECURITY.md principles 7-10: explicit typing, required claims, strict parsing, bounded input.
 * Hostile tokens are built byte for byte and, wherever possible, carry a VALID signature over the
 * exact text sent, so the only thing that can reject them is the principle under test.
 */
import { ConfigError, validateConfig } from '../../src/validation/load.js';
import { MAX_JSON_DEPTH, parseCompactJws } from '../../src/token/parse.js';
import {
  AUD,
  b64json,
  b64u,
  bearer,
  buildGate,
  claims,
  cleanupTmp,
  denied,
  fileIssuer,
  type Gate,
  ISS_A,
  ISS_B,
  mint,
  NOW_S,
  rawSign,
  rsaKey,
  segmentOf,
  signParts,
  type Part,
} from './harness.js';

afterAll(() => cleanupTmp());

const keyA = rsaKey('a-1');
const keyB = rsaKey('b-1');
const HEADER = { alg: 'RS256', typ: 'at+jwt', kid: 'a-1' };

/** A token of issuer A signed over exactly these two segments. */
const signed = (header: Part, payload: Part) => signParts('RS256', keyA.privateKey, header, payload);

/** Replaces the last character of a base64url segment by one that decodes to the same bytes. */
function withStrayBits(segment: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  if (segment.length % 4 === 0) throw new Error('segment has no stray bits');
  const last = alphabet.indexOf(segment.at(-1)!);
  const altered = segment.slice(0, -1) + alphabet[last | 1];
  if (altered === segment || !Buffer.from(altered, 'base64url').equals(Buffer.from(segment, 'base64url')))
    throw new Error('helper broken');
  return altered;
}

/** A JSON object whose base64url encoding has stray bits (length not a multiple of 3). */
function headerWithStrayBits(): string {
  for (let n = 0; n < 3; n++) {
    const seg = b64json({ ...HEADER, x: 'y'.repeat(n) });
    if (seg.length % 4 !== 0) return withStrayBits(seg);
  }
  throw new Error('unreachable');
}

describe('P7 explicit typing', () => {
  let gate: Gate;
  beforeAll(async () => {
    gate = await buildGate({
      issuers: [fileIssuer('a', ISS_A, [keyA.jwk]), fileIssuer('b', ISS_B, [keyB.jwk], { token_type: 'legacy' })],
    });
  });
  afterAll(() => gate.close());

  it.each([['at+jwt'], ['application/at+jwt'], ['AT+JWT'], ['Application/At+Jwt']])(
    'an RFC 9068 issuer accepts typ %s',
    async (typ) => {
      expect(await gate.decide(bearer(mint(keyA, {}, { header: { typ } })))).toMatchObject({ outcome: 'allow' });
    },
  );

  it.each([['JWT'], ['jwt'], ['application/jwt'], ['JOSE'], ['at+jwt '], ['at+jwt;x'], ['secevent+jwt'], [undefined]])(
    'an RFC 9068 issuer rejects typ %s (an ID token or other JWT replayed as an access token)',
    async (typ) => {
      const d = denied(await gate.decide(bearer(mint(keyA, {}, { header: { typ } }))));
      expect(d.reason).toBe('ERR_TOKEN_TYPE_INVALID');
    },
  );

  it('a non-string typ is malformed', async () => {
    expect(denied(await gate.decide(bearer(mint(keyA, {}, { header: { typ: ['at+jwt'] } })))).reason).toBe(
      'ERR_TOKEN_MALFORMED',
    );
  });

  it.each([['JWT'], ['at+jwt'], [undefined]])('the legacy switch accepts typ %s', async (typ) => {
    expect(await gate.decide(bearer(mint(keyB, { iss: ISS_B }, { header: { typ } })))).toMatchObject({
      outcome: 'allow',
    });
  });

  it.each([['secevent+jwt'], ['logout+jwt'], ['JOSE']])('the legacy switch still rejects typ %s', async (typ) => {
    const d = denied(await gate.decide(bearer(mint(keyB, { iss: ISS_B }, { header: { typ } }))));
    expect(d.reason).toBe('ERR_TOKEN_TYPE_INVALID');
  });

  it('with the legacy switch, aud is the defence: an ID token (aud = client id) is rejected', async () => {
    const d = denied(
      await gate.decide(
        bearer(mint(keyB, { iss: ISS_B, aud: 'spa-client-id', nonce: 'n-1' }, { header: { typ: 'JWT' } })),
      ),
    );
    expect(d.reason).toBe('ERR_AUDIENCE_MISMATCH');
  });

  it.each([['a'], ['b']])('issuer %s: a token without aud is always rejected', async (which) => {
    const token =
      which === 'a'
        ? mint(keyA, { aud: undefined })
        : mint(keyB, { iss: ISS_B, aud: undefined }, { header: { typ: 'JWT' } });
    expect(denied(await gate.decide(bearer(token))).reason).toBe('ERR_CLAIMS_INVALID');
  });

  it('the config requires at least one audience', () => {
    for (const audiences of [[], undefined, ['']]) {
      const issuer: Record<string, unknown> = { name: 'a', issuer: ISS_A, jwks_file: 'x.json' };
      if (audiences !== undefined) issuer.audiences = audiences;
      expect(() => validateConfig({ issuers: [issuer] })).toThrow(ConfigError);
    }
  });
});

describe('P8 required claims', () => {
  let gate: Gate;
  let aged: Gate;
  let noSkew: Gate;
  beforeAll(async () => {
    gate = await buildGate({
      issuers: [fileIssuer('a', ISS_A, [keyA.jwk], { audiences: [AUD, 'https://other-api.example.com'] })],
    });
    aged = await buildGate({ issuers: [fileIssuer('a', ISS_A, [keyA.jwk], { max_token_age_seconds: 600 })] });
    noSkew = await buildGate({ issuers: [fileIssuer('a', ISS_A, [keyA.jwk], { clock_skew_seconds: 0 })] });
  });
  afterAll(() => {
    gate.close();
    aged.close();
    noSkew.close();
  });

  const reasonOf = async (g: Gate, overrides: Record<string, unknown>) => {
    const d = await g.decide(bearer(mint(keyA, overrides)));
    return d.outcome === 'allow' ? 'allow' : d.reason;
  };

  it('control: a complete token verifies', async () => {
    expect(await reasonOf(gate, {})).toBe('allow');
  });

  const invalid: Array<[string, Record<string, unknown>]> = [
    ['missing sub', { sub: undefined }],
    ['empty sub', { sub: '' }],
    ['numeric sub', { sub: 42 }],
    ['object sub', { sub: { id: 'user-1' } }],
    ['array sub', { sub: ['user-1'] }],
    ['missing exp', { exp: undefined }],
    ['string exp', { exp: String(NOW_S + 300) }],
    ['null exp', { exp: null }],
    ['boolean exp', { exp: true }],
    ['array exp', { exp: [NOW_S + 300] }],
    ['missing aud', { aud: undefined }],
    ['numeric aud', { aud: 1 }],
    ['null aud', { aud: null }],
    ['empty aud array', { aud: [] }],
    ['aud array with a non-string', { aud: [AUD, 5] }],
    ['object aud', { aud: { 0: AUD } }],
    ['string nbf', { nbf: String(NOW_S) }],
    ['string iat', { iat: String(NOW_S) }],
    ['missing iss', { iss: undefined }],
    ['numeric iss', { iss: 1 }],
  ];
  it.each(invalid)('rejects %s as ERR_CLAIMS_INVALID', async (_name, overrides) => {
    expect(await reasonOf(gate, overrides)).toBe('ERR_CLAIMS_INVALID');
  });

  it('exp of 1e400 (Infinity once parsed) is not a never-expiring token', async () => {
    const payload = JSON.stringify(claims()).replace(`"exp":${NOW_S + 300}`, '"exp":1e400');
    expect(payload).toContain('1e400');
    expect(denied(await gate.decide(bearer(signed(HEADER, payload)))).reason).toBe('ERR_CLAIMS_INVALID');
  });

  it('aud by exact match: string, or an array containing a configured audience', async () => {
    expect(await reasonOf(gate, { aud: [AUD] })).toBe('allow');
    expect(await reasonOf(gate, { aud: ['https://unrelated.example.com', AUD] })).toBe('allow');
    expect(await reasonOf(gate, { aud: ['https://unrelated.example.com'] })).toBe('ERR_AUDIENCE_MISMATCH');
    for (const aud of [AUD.toUpperCase(), `${AUD}/`, AUD.slice(0, -1), `${AUD} `, 'api', '*']) {
      expect([aud, await reasonOf(gate, { aud })]).toEqual([aud, 'ERR_AUDIENCE_MISMATCH']);
    }
  });

  it('exp with the default 60 s skew, both sides of the boundary', async () => {
    expect(await reasonOf(gate, { exp: NOW_S - 59, iat: NOW_S - 120 })).toBe('allow');
    expect(await reasonOf(gate, { exp: NOW_S - 60, iat: NOW_S - 120 })).toBe('ERR_TOKEN_EXPIRED');
    expect(await reasonOf(gate, { exp: NOW_S - 3600, iat: NOW_S - 7200 })).toBe('ERR_TOKEN_EXPIRED');
  });

  it('nbf with the skew, both sides', async () => {
    expect(await reasonOf(gate, { nbf: NOW_S + 60 })).toBe('allow');
    expect(await reasonOf(gate, { nbf: NOW_S + 61 })).toBe('ERR_TOKEN_NOT_YET_VALID');
  });

  it('iat in the future beyond the skew is rejected', async () => {
    expect(await reasonOf(gate, { iat: NOW_S + 60 })).toBe('allow');
    expect(await reasonOf(gate, { iat: NOW_S + 61 })).toBe('ERR_TOKEN_ISSUED_IN_FUTURE');
    expect(await reasonOf(gate, { iat: NOW_S + 86400 })).toBe('ERR_TOKEN_ISSUED_IN_FUTURE');
  });

  it('with clock_skew_seconds 0 the bounds are exact', async () => {
    expect(await reasonOf(noSkew, { exp: NOW_S + 1 })).toBe('allow');
    expect(await reasonOf(noSkew, { exp: NOW_S })).toBe('ERR_TOKEN_EXPIRED');
    expect(await reasonOf(noSkew, { nbf: NOW_S + 1 })).toBe('ERR_TOKEN_NOT_YET_VALID');
    expect(await reasonOf(noSkew, { iat: NOW_S + 1 })).toBe('ERR_TOKEN_ISSUED_IN_FUTURE');
  });

  it('a verification that was cached still expires: the same token is rejected once exp (+skew) or max age passes', async () => {
    let now = NOW_S * 1000;
    const clocked = await buildGate({
      issuers: [fileIssuer('a', ISS_A, [keyA.jwk], { max_token_age_seconds: 600 })],
      nowMs: () => now,
    });
    try {
      const shortLived = mint(keyA, { exp: NOW_S + 100, iat: NOW_S });
      const longLived = mint(keyA, { exp: NOW_S + 7200, iat: NOW_S });
      for (const t of [shortLived, longLived, shortLived, longLived])
        expect((await clocked.decide(bearer(t))).outcome).toBe('allow');
      now = (NOW_S + 100 + 60) * 1000; // exp + skew
      expect(denied(await clocked.decide(bearer(shortLived))).reason).toBe('ERR_TOKEN_EXPIRED');
      expect((await clocked.decide(bearer(longLived))).outcome).toBe('allow');
      now = (NOW_S + 600 + 61) * 1000; // iat + max age + skew, passed
      expect(denied(await clocked.decide(bearer(longLived))).reason).toBe('ERR_TOKEN_TOO_OLD');
    } finally {
      clocked.close();
    }
  });

  it('max_token_age_seconds: an old token is rejected and iat becomes required', async () => {
    expect(await reasonOf(aged, { iat: NOW_S - 600 - 60, exp: NOW_S + 3600 })).toBe('allow');
    expect(await reasonOf(aged, { iat: NOW_S - 600 - 61, exp: NOW_S + 3600 })).toBe('ERR_TOKEN_TOO_OLD');
    expect(await reasonOf(aged, { iat: undefined })).toBe('ERR_CLAIMS_INVALID');
    expect(await reasonOf(gate, { iat: undefined })).toBe('allow');
  });
});

describe('P9 strict parsing', () => {
  let gate: Gate;
  beforeAll(async () => {
    gate = await buildGate({ issuers: [fileIssuer('a', ISS_A, [keyA.jwk])] });
  });
  afterAll(() => gate.close());

  const reasonOf = async (token: string) => {
    const d = await gate.decide(bearer(token));
    return d.outcome === 'allow' ? 'allow' : d.reason;
  };
  const parseReason = (token: string) => {
    const r = parseCompactJws(token, 65536);
    return r.ok ? 'ok' : r.reason;
  };

  it('control: the hand-built token verifies and parses', async () => {
    expect(await reasonOf(signed(HEADER, claims()))).toBe('allow');
  });

  it('base64 padding in any segment is rejected, even when the signature covers the padded text', async () => {
    const h = b64json(HEADER);
    const p = b64json(claims());
    const padded = (s: string) => s + '='.repeat((4 - (s.length % 4)) % 4 || 4);
    const tokens = [
      signed({ segment: padded(h) }, { segment: p }),
      signed({ segment: h }, { segment: padded(p) }),
      `${signed(HEADER, claims())}==`,
    ];
    for (const t of tokens) {
      expect(parseReason(t)).toBe('ERR_TOKEN_MALFORMED');
      expect(await reasonOf(t)).toMatch(/^ERR_(TOKEN_MALFORMED|REQUEST_MALFORMED)$/);
    }
  });

  it('standard base64 (+ and /) instead of base64url is rejected', async () => {
    // Find claims whose encoding contains - or _, then send the +/ spelling, signed over that text.
    for (let i = 0; i < 200; i++) {
      const p = b64json(claims({ jti: `j${i}>>>???` }));
      if (/[-_]/.test(p)) {
        const t = signed(HEADER, { segment: p.replace(/-/g, '+').replace(/_/g, '/') });
        expect(parseReason(t)).toBe('ERR_TOKEN_MALFORMED');
        expect(await reasonOf(t)).toBe('ERR_TOKEN_MALFORMED');
        return;
      }
    }
    throw new Error('no payload with - or _ found');
  });

  it('whitespace inside segments is rejected (parser and request)', async () => {
    const good = signed(HEADER, claims());
    const [h, p, s] = good.split('.') as [string, string, string];
    const inHeader = signed({ segment: `${h.slice(0, 8)}\n${h.slice(8)}` }, { segment: p });
    for (const t of [
      inHeader,
      `${h}.${p}.${s.slice(0, 10)} ${s.slice(10)}`,
      `${h}.${p}.${s}\t`,
      ` ${good}`.slice(1) + '\r\n',
    ]) {
      expect(parseReason(t)).toBe('ERR_TOKEN_MALFORMED');
    }
    expect(await reasonOf(`${h}.${p}.${s.slice(0, 10)} ${s.slice(10)}`)).toBe('ERR_REQUEST_MALFORMED');
  });

  it('non-canonical base64url (stray low bits) is rejected in the signature, header and payload', async () => {
    const good = signed(HEADER, claims());
    const [h, p, s] = good.split('.') as [string, string, string];
    expect(s.length % 4).not.toBe(0); // RSA-2048: 342 characters, 4 stray bits
    const tokens = [`${h}.${p}.${withStrayBits(s)}`, signed({ segment: headerWithStrayBits() }, { segment: p })];
    for (let n = 0; n < 3; n++) {
      const seg = b64json(claims({ jti: 'x'.repeat(n) }));
      if (seg.length % 4 !== 0) {
        tokens.push(signed({ segment: h }, { segment: withStrayBits(seg) }));
        break;
      }
    }
    expect(tokens).toHaveLength(3);
    for (const t of tokens) {
      expect(parseReason(t)).toBe('ERR_TOKEN_MALFORMED');
      expect(await reasonOf(t)).toBe('ERR_TOKEN_MALFORMED');
    }
  });

  const header = '{"alg":"RS256","typ":"at+jwt","kid":"a-1"';
  const body = JSON.stringify(claims()).slice(1, -1);
  const duplicates: Array<[string, string, string]> = [
    ['header alg twice (HS256 then RS256)', '{"alg":"HS256","typ":"at+jwt","kid":"a-1","alg":"RS256"}', `{${body}}`],
    ['header kid twice', `${header},"kid":"a-1"}`, `{${body}}`],
    ['header typ twice, escaped spelling', `${header},"\\u0074yp":"at+jwt"}`, `{${body}}`],
    ['payload sub twice', `${header}}`, `{"sub":"admin",${body}}`],
    ['payload scope twice', `${header}}`, `{${body},"scope":"admin"}`],
    ['payload iss twice, escaped spelling', `${header}}`, `{${body},"\\u0069ss":"${ISS_A}"}`],
    ['nested object member twice', `${header}}`, `{${body},"realm_access":{"roles":["user"],"roles":["admin"]}}`],
  ];
  it.each(duplicates)('duplicate member names are rejected: %s (validly signed)', async (_name, h, p) => {
    const t = signed(h, p);
    expect(parseReason(t)).toBe('ERR_TOKEN_MALFORMED');
    expect(await reasonOf(t)).toBe('ERR_TOKEN_MALFORMED');
  });

  it('JWE (five segments) is unsupported, four or two segments malformed', async () => {
    const jwe = [
      b64json({ alg: 'RSA-OAEP', enc: 'A256GCM', kid: 'a-1' }),
      b64u('k'.repeat(32)),
      b64u('iv'),
      b64u('ct'),
      b64u('tag'),
    ].join('.');
    expect(await reasonOf(jwe)).toBe('ERR_TOKEN_UNSUPPORTED');
    const good = signed(HEADER, claims());
    expect(await reasonOf(`${good}.${b64u('x')}`)).toBe('ERR_TOKEN_MALFORMED');
    expect(await reasonOf(good.split('.').slice(0, 2).join('.'))).toBe('ERR_TOKEN_MALFORMED');
    expect(await reasonOf(`${good.split('.')[0]}..${good.split('.')[2]}`)).toBe('ERR_TOKEN_MALFORMED');
  });

  it('a JWE-style enc header on a three-segment token is unsupported', async () => {
    expect(await reasonOf(signed({ ...HEADER, enc: 'A256GCM' }, claims()))).toBe('ERR_TOKEN_UNSUPPORTED');
  });

  it('JSON serialization (general and flattened) is rejected', async () => {
    const good = signed(HEADER, claims());
    const [h, p, s] = good.split('.') as [string, string, string];
    const flattened = JSON.stringify({ protected: h, payload: p, signature: s });
    const general = JSON.stringify({ payload: p, signatures: [{ protected: h, signature: s }] });
    for (const t of [flattened, general, b64u(flattened)]) {
      expect(parseReason(t)).toBe('ERR_TOKEN_MALFORMED');
    }
    expect(await reasonOf(flattened)).toBe('ERR_REQUEST_MALFORMED');
    expect(await reasonOf(b64u(general))).toBe('ERR_TOKEN_MALFORMED');
  });

  it('unencoded payloads (b64: false) are rejected, even validly signed', async () => {
    expect(await reasonOf(signed({ ...HEADER, b64: false, crit: ['b64'] }, claims()))).toBe('ERR_TOKEN_UNSUPPORTED');
    expect(await reasonOf(signed({ ...HEADER, b64: false }, claims()))).toBe('ERR_TOKEN_UNSUPPORTED');
  });

  it.each([[['exp']], [['http://example.com/unknown']], [['b64']], [[]], ['exp']])(
    'crit %j is rejected',
    async (crit) => {
      expect(await reasonOf(signed({ ...HEADER, crit }, claims()))).toBe('ERR_TOKEN_UNSUPPORTED');
    },
  );

  it('zip (compressed payload) is rejected', async () => {
    expect(await reasonOf(signed({ ...HEADER, zip: 'DEF' }, claims()))).toBe('ERR_TOKEN_UNSUPPORTED');
  });

  it.each([['JWT'], ['jwt'], ['application/JWT'], ['application/jwt']])(
    'nested tokens (cty: %s) are rejected',
    async (cty) => {
      // Inner token as the payload (what a nested JWT really is) …
      const inner = signed(HEADER, claims());
      expect(await reasonOf(signed({ ...HEADER, cty }, inner))).not.toBe('allow');
      // … and even a JSON-object payload under cty JWT, validly signed.
      expect(await reasonOf(signed({ ...HEADER, cty }, claims()))).toBe('ERR_TOKEN_UNSUPPORTED');
    },
  );

  const invalidUtf8: Array<[string, Buffer]> = [
    ['a 0xFF byte', Buffer.from([0xff])],
    ['an overlong "/" (C0 AF)', Buffer.from([0xc0, 0xaf])],
    ['a UTF-16 surrogate encoded in UTF-8 (ED A0 80)', Buffer.from([0xed, 0xa0, 0x80])],
    ['a truncated sequence (E2 82)', Buffer.from([0xe2, 0x82])],
    ['a Latin-1 é (E9)', Buffer.from([0xe9])],
  ];
  it.each(invalidUtf8)('invalid UTF-8 (%s) in the payload or header is rejected', async (_name, bad) => {
    const payload = Buffer.concat([
      Buffer.from(JSON.stringify(claims()).slice(0, -1) + ',"name":"x', 'utf8'),
      bad,
      Buffer.from('"}', 'utf8'),
    ]);
    expect(await reasonOf(signed(HEADER, payload))).toBe('ERR_TOKEN_MALFORMED');
    const h = Buffer.concat([Buffer.from(`${header},"x":"`, 'utf8'), bad, Buffer.from('"}', 'utf8')]);
    expect(await reasonOf(signed(h, claims()))).toBe('ERR_TOKEN_MALFORMED');
  });

  it('a byte-order mark before the JSON is not JSON (RFC 8259 §8.1) and is rejected', async () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    expect(await reasonOf(signed(HEADER, Buffer.concat([bom, Buffer.from(JSON.stringify(claims()))])))).toBe(
      'ERR_TOKEN_MALFORMED',
    );
    expect(await reasonOf(signed(Buffer.concat([bom, Buffer.from(JSON.stringify(HEADER))]), claims()))).toBe(
      'ERR_TOKEN_MALFORMED',
    );
  });

  const notObjects: Array<[string, string, string]> = [
    ['header is an array', '[{"alg":"RS256"}]', JSON.stringify(claims())],
    ['header is a string', '"RS256"', JSON.stringify(claims())],
    ['payload is an array', JSON.stringify(HEADER), `[${JSON.stringify(claims())}]`],
    ['payload is null', JSON.stringify(HEADER), 'null'],
    ['payload has trailing data', JSON.stringify(HEADER), `${JSON.stringify(claims())} x`],
    ['payload is two objects', JSON.stringify(HEADER), `${JSON.stringify(claims())}{}`],
    ['payload has a trailing comma', JSON.stringify(HEADER), `${JSON.stringify(claims()).slice(0, -1)},}`],
    ['payload uses single quotes', JSON.stringify(HEADER), JSON.stringify(claims()).replace('"sub"', "'sub'")],
    ['payload has a comment', JSON.stringify(HEADER), `${JSON.stringify(claims()).slice(0, -1)}/* c */}`],
    ['payload has NaN', JSON.stringify(HEADER), `${JSON.stringify(claims()).slice(0, -1)},"n":NaN}`],
    [
      'payload has a raw control character in a string',
      JSON.stringify(HEADER),
      JSON.stringify(claims()).replace('user-1', 'user\u0001-1'),
    ],
    ['header alg is not a string', '{"alg":["RS256"],"typ":"at+jwt","kid":"a-1"}', JSON.stringify(claims())],
    ['header kid is not a string', '{"alg":"RS256","typ":"at+jwt","kid":1}', JSON.stringify(claims())],
    ['header without alg', '{"typ":"at+jwt","kid":"a-1"}', JSON.stringify(claims())],
  ];
  it.each(notObjects)('rejects a token whose %s (validly signed)', async (_name, h, p) => {
    expect(await reasonOf(signed(h, p))).toBe('ERR_TOKEN_MALFORMED');
  });

  it('the raw signature helper is exact (guards the tests above)', () => {
    expect(segmentOf({ segment: 'abc' })).toBe('abc');
    expect(rawSign('RS256', keyA.privateKey, 'x')).toHaveLength(256);
  });
});

describe('P10 bounded input', () => {
  let gate: Gate;
  let small: Gate;
  beforeAll(async () => {
    gate = await buildGate({ issuers: [fileIssuer('a', ISS_A, [keyA.jwk])] });
    small = await buildGate({
      issuers: [fileIssuer('a', ISS_A, [keyA.jwk], { max_token_bytes: 1024 }), fileIssuer('b', ISS_B, [keyB.jwk])],
    });
  });
  afterAll(() => {
    gate.close();
    small.close();
  });

  /** A validly signed token of issuer A (or B) of exactly `length` characters. */
  function tokenOfLength(length: number, key = keyA, iss = ISS_A): string {
    const sigLength = 342;
    for (let hp = 0; hp < 4; hp++) {
      const header = { alg: 'RS256', typ: 'at+jwt', kid: key.kid, ...(hp > 0 ? { x: 'h'.repeat(hp) } : {}) };
      const h = b64json(header);
      const base = b64json(claims({ iss, pad: '' })).length;
      const padGuess = Math.max(0, Math.floor(((length - h.length - sigLength - 2 - base) * 3) / 4) - 3);
      for (let n = padGuess; n < padGuess + 8; n++) {
        const p = b64json(claims({ iss, pad: 'p'.repeat(n) }));
        if (h.length + p.length + sigLength + 2 === length) {
          const t = signParts('RS256', key.privateKey, { segment: h }, { segment: p });
          if (t.length !== length) throw new Error('length helper broken');
          return t;
        }
      }
    }
    throw new Error(`cannot build a token of ${length} characters`);
  }

  it('a validly signed token of exactly max_token_bytes verifies; one byte more is ERR_TOKEN_TOO_LARGE', async () => {
    expect((await gate.decide(bearer(tokenOfLength(8192)))).outcome).toBe('allow');
    expect(denied(await gate.decide(bearer(tokenOfLength(8193)))).reason).toBe('ERR_TOKEN_TOO_LARGE');
  });

  it('a verified 80 KiB token is still rejected as too large', async () => {
    expect(denied(await gate.decide(bearer(tokenOfLength(80 * 1024)))).reason).toBe('ERR_TOKEN_TOO_LARGE');
  });

  it('size is checked before any decoding: oversize garbage is TOO_LARGE, not MALFORMED', async () => {
    for (const t of [
      'a'.repeat(8193),
      `${'a'.repeat(4000)}.${'b'.repeat(4000)}.${'c'.repeat(200)}`,
      `${'!'.repeat(10)}`.replace(/!/g, 'a').repeat(900),
    ]) {
      expect(denied(await gate.decide(bearer(t))).reason).toBe('ERR_TOKEN_TOO_LARGE');
      expect(parseCompactJws(t, 8192)).toMatchObject({ ok: false, reason: 'ERR_TOKEN_TOO_LARGE' });
    }
  });

  it("each issuer's own limit applies once the issuer is known", async () => {
    expect((await small.decide(bearer(tokenOfLength(1024)))).outcome).toBe('allow');
    expect(denied(await small.decide(bearer(tokenOfLength(1025)))).reason).toBe('ERR_TOKEN_TOO_LARGE');
    expect(denied(await small.decide(bearer(tokenOfLength(4000)))).reason).toBe('ERR_TOKEN_TOO_LARGE');
    expect((await small.decide(bearer(tokenOfLength(4000, keyB, ISS_B)))).outcome).toBe('allow');
  });

  it(`JSON nesting is bounded (${MAX_JSON_DEPTH}); deep claims are rejected even when validly signed`, async () => {
    const nested = (n: number, open: string, close: string, leaf = '1') => `${open.repeat(n)}${leaf}${close.repeat(n)}`;
    const withClaim = (value: string) => `${JSON.stringify(claims()).slice(0, -1)},"deep":${value}}`;
    expect(await gate.decide(bearer(signed(HEADER, withClaim(nested(10, '[', ']')))))).toMatchObject({
      outcome: 'allow',
    });
    for (const n of [MAX_JSON_DEPTH + 1, 100, 500]) {
      expect(denied(await gate.decide(bearer(signed(HEADER, withClaim(nested(n, '[', ']')))))).reason).toBe(
        'ERR_TOKEN_MALFORMED',
      );
      expect(denied(await gate.decide(bearer(signed(HEADER, withClaim(nested(n, '{"a":', '}')))))).reason).toBe(
        'ERR_TOKEN_MALFORMED',
      );
    }
    expect(denied(await gate.decide(bearer(signed(HEADER, withClaim(nested(2000, '[', ']')))))).reason).toBe(
      'ERR_TOKEN_MALFORMED',
    );
    const deepHeader = `{"alg":"RS256","typ":"at+jwt","kid":"a-1","x":${nested(2000, '[', ']')}}`;
    expect(denied(await gate.decide(bearer(signed(deepHeader, claims())))).reason).toBe('ERR_TOKEN_MALFORMED');
  });

  it('deep nesting cannot overflow the stack in the scanner (direct, large limit)', () => {
    const deep = b64u(`{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    const r = parseCompactJws(`${b64json(HEADER)}.${deep}.${b64u('sig')}`, 10_000_000);
    expect(r).toMatchObject({ ok: false, reason: 'ERR_TOKEN_MALFORMED' });
  });

  it('an absurdly long number is rejected rather than parsed into a never-expiring exp', async () => {
    const payload = JSON.stringify(claims()).replace(`"exp":${NOW_S + 300}`, `"exp":${'9'.repeat(600)}`);
    expect((await gate.decide(bearer(signed(HEADER, payload)))).outcome).not.toBe('allow');
  });

  it('audience arrays and other claims are read without unbounded work', async () => {
    const manyAud = Array.from({ length: 500 }, (_, i) => `https://aud-${i}.example.com`);
    expect(denied(await gate.decide(bearer(mint(keyA, { aud: manyAud })))).reason).toMatch(
      /^ERR_(AUDIENCE_MISMATCH|TOKEN_TOO_LARGE)$/,
    );
  });

  it('AUD constant sanity', () => expect(AUD).toMatch(/^https:/));
});
