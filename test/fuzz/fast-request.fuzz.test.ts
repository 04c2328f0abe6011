/**
 * Fuzz: the CheckRequest wire decoder (src/envoy/fast-request.ts). On every well-formed message it must
 * make the view proto-loader's decode + toRequestView make (the object path it replaced); on random and
 * truncated bytes it must never throw, and whatever it returns is MALFORMED or a view within the caps.
 */
import fc from 'fast-check';
import type { RequestView } from '../../src/core/types.js';
import { decodeCheckRequest, MALFORMED } from '../../src/envoy/fast-request.js';
import type { CheckRequestMessage } from '../../src/envoy/messages.js';
import { checkMessageTypes, loadAuthorizationService } from '../../src/envoy/proto.js';
import { MAX_HEADER_ENTRIES, MAX_HEADER_VALUE_BYTES } from '../../src/core/request-limits.js';
import { toRequestView } from '../../src/envoy/request.js';
import { runs } from './support.js';

const check = loadAuthorizationService().Check!;
const { CheckRequest } = checkMessageTypes();
const encode = (message: object): Buffer => Buffer.from(CheckRequest.encode(CheckRequest.fromObject(message)).finish());
const objectView = (bytes: Buffer) => toRequestView(check.requestDeserialize(bytes) as CheckRequestMessage);

/**
 * Header names a proxy sends. Names made only of digits and `__proto__` are left out: protobufjs decodes a
 * map into a plain object, which orders integer-like keys first and drops `__proto__`; the wire decoder
 * keeps the wire's order and every name (a difference that can only add a header the engine sees).
 */
const headerName = fc.oneof(
  fc.constantFrom(
    ':method',
    ':path',
    ':authority',
    ':scheme',
    'host',
    'x-request-id',
    'authorization',
    'Authorization',
  ),
  fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,12}$/),
);
const text = fc.string({ unit: 'binary', maxLength: 40 });
const bytes = fc.uint8Array({ maxLength: 40 });

const headerValueEntry = fc.record({ key: headerName, value: text, raw_value: bytes }, { requiredKeys: [] });

const http = fc.record(
  {
    id: text,
    method: fc.oneof(fc.constantFrom('GET', 'post'), text),
    headers: fc.dictionary(headerName, text, { maxKeys: 12 }),
    path: text,
    host: fc.oneof(fc.constantFrom('api.example.com', 'API.example.com:8443', '[::1]:80', 'a@b'), text),
    scheme: fc.constantFrom('http', 'https', 'HTTPS', ''),
    body: text,
    raw_body: bytes,
    protocol: fc.constantFrom('HTTP/1.1', 'HTTP/2'),
    size: fc.integer({ min: 0, max: 1 << 30 }),
    header_map: fc.record({ headers: fc.array(headerValueEntry, { maxLength: 12 }) }),
  },
  { requiredKeys: [] },
);

const checkRequest = fc.record(
  {
    attributes: fc.record(
      {
        source: fc.record({ certificate: text, principal: text }, { requiredKeys: [] }),
        destination: fc.record({ principal: text }, { requiredKeys: [] }),
        request: fc.record({ http, time: fc.constant({ seconds: 5, nanos: 1 }) }, { requiredKeys: [] }),
        context_extensions: fc.dictionary(fc.string({ maxLength: 8 }), text, { maxKeys: 4 }),
        tls_session: fc.record({ sni: text }, { requiredKeys: [] }),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);

function expectSameView(wire: Buffer): void {
  const fast = decodeCheckRequest(wire);
  expect(fast).not.toBe(MALFORMED);
  const expected = objectView(wire);
  expect(fast).toEqual(expected);
  expect([...(fast as RequestView).headers.keys()]).toEqual([...expected.headers.keys()]);
}

function expectSafe(wire: Buffer): void {
  const result = decodeCheckRequest(wire);
  if (result === MALFORMED) return;
  expect(typeof result.method).toBe('string');
  expect(typeof result.path).toBe('string');
  expect(result.headers.size).toBeLessThanOrEqual(MAX_HEADER_ENTRIES);
  for (const [name, values] of result.headers) {
    expect(name).toBe(name.toLowerCase());
    for (const v of values) expect(Buffer.byteLength(v)).toBeLessThanOrEqual(MAX_HEADER_VALUE_BYTES);
  }
}

describe('decodeCheckRequest (fuzz)', () => {
  it('makes the same view as proto-loader + toRequestView on well-formed messages', () => {
    fc.assert(
      fc.property(checkRequest, (message) => expectSameView(encode(message))),
      { numRuns: runs(400) },
    );
  });

  it('a repeated message field is the last one, as protobufjs reads it (two messages concatenated)', () => {
    fc.assert(
      fc.property(checkRequest, checkRequest, (a, b) => expectSameView(Buffer.concat([encode(a), encode(b)]))),
      { numRuns: runs(150) },
    );
  });

  it('never throws on truncated messages', () => {
    fc.assert(
      fc.property(checkRequest, fc.nat(), (message, cut) => {
        const wire = encode(message);
        expectSafe(wire.subarray(0, wire.length === 0 ? 0 : cut % wire.length));
      }),
      { numRuns: runs(400) },
    );
  });

  it('never throws on random bytes, or on a well-formed message with bytes flipped', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (random) => expectSafe(Buffer.from(random))),
      { numRuns: runs(500) },
    );
    fc.assert(
      fc.property(
        checkRequest,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        (m, flips) => {
          const wire = encode(m);
          for (const [at, value] of flips) if (wire.length > 0) wire[at % wire.length] = value;
          expectSafe(wire);
        },
      ),
      { numRuns: runs(400) },
    );
  });

  it(`counts past ${MAX_HEADER_ENTRIES} header_map entries as incomplete, like the object path`, () => {
    const headers = Array.from({ length: MAX_HEADER_ENTRIES + 5 }, (_, i) => ({ key: `x-h${i}`, value: 'v' }));
    expectSameView(encode({ attributes: { request: { http: { method: 'GET', header_map: { headers } } } } }));
    expect(
      (decodeCheckRequest(encode({ attributes: { request: { http: { header_map: { headers } } } } })) as RequestView)
        .incomplete,
    ).toBe(true);
  });

  it(`drops a raw_value over ${MAX_HEADER_VALUE_BYTES} bytes unread, like the object path`, () => {
    const big = Buffer.alloc(MAX_HEADER_VALUE_BYTES + 1, 0x61);
    const wire = encode({
      attributes: { request: { http: { header_map: { headers: [{ key: 'cookie', raw_value: big }] } } } },
    });
    expectSameView(wire);
    expect((decodeCheckRequest(wire) as RequestView).headers.has('cookie')).toBe(false);
  });

  it('reads the `headers` map like the object path when entries repeat a name, in any case, or have none', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.oneof(headerName, fc.constant('')), text), { maxLength: 14 }),
        fc.array(fc.nat(), { maxLength: 4 }),
        (entries, repeats) => {
          // Repeat some entries (same key, maybe another value) the way only raw wire bytes can.
          const all = [...entries];
          for (const r of repeats) if (entries.length > 0) all.push([entries[r % entries.length]![0], `again-${r}`]);
          expectSameView(checkRequestWithHeaderEntries(all));
        },
      ),
      { numRuns: runs(300) },
    );
  });

  it(`reads a \`headers\` map past ${MAX_HEADER_ENTRIES} names or with a value over the cap like the object path`, () => {
    const many = Array.from({ length: MAX_HEADER_ENTRIES + 3 }, (_, i): [string, string] => [`x-h${i}`, 'v']);
    expectSameView(checkRequestWithHeaderEntries(many));
    expect((decodeCheckRequest(checkRequestWithHeaderEntries(many)) as RequestView).incomplete).toBe(true);
    const big: [string, string][] = [
      ['authorization', 'Bearer x'],
      ['cookie', 'a'.repeat(MAX_HEADER_VALUE_BYTES + 1)],
    ];
    expectSameView(checkRequestWithHeaderEntries(big));
    expect((decodeCheckRequest(checkRequestWithHeaderEntries(big)) as RequestView).incomplete).toBe(true);
  });
});

/** A LEN field: tag, length, bytes. */
function lenField(num: number, body: Buffer): Buffer {
  const varint = (n: number): number[] => {
    const out: number[] = [];
    while (n >= 0x80) {
      out.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    out.push(n);
    return out;
  };
  return Buffer.concat([Buffer.from([...varint((num << 3) | 2), ...varint(body.length)]), body]);
}

/** A CheckRequest whose `http.headers` map has exactly these entries on the wire (repeats included). */
function checkRequestWithHeaderEntries(entries: readonly (readonly [string, string])[]): Buffer {
  const http = Buffer.concat([
    lenField(2, Buffer.from('GET')),
    ...entries.map(([key, value]) =>
      lenField(3, Buffer.concat([lenField(1, Buffer.from(key)), lenField(2, Buffer.from(value))])),
    ),
  ]);
  return lenField(1, lenField(4, lenField(2, http)));
}
