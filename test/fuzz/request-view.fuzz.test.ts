/**
 * Fuzz: the request views — Envoy's CheckRequest (src/envoy/request.ts `toRequestView`, both the
 * `headers` map and `header_map` with raw_value bytes) and the HTTP front door (src/http/request.ts).
 *
 * Invariants (issue 8):
 * - never throws, whatever the decoded message holds;
 * - caps respected: at most MAX_HEADER_ENTRIES header lines read, no name or value over
 *   MAX_HEADER_VALUE_BYTES (UTF-8) in a view, names lower-cased;
 * - a hostile view never yields an allow through the decider: an allow needs exactly one
 *   `Authorization` line in the whole request *as the upstream would receive it* (every line, not only
 *   those claimgate read), carrying a valid token. A request whose other lines were not read (past the
 *   count cap, over the size cap) must not be allowed on the strength of the lines that were.
 */
import fc from 'fast-check';
import type { RequestView } from '../../src/core/types.js';
import type { CheckRequestMessage, HeaderValueMessage } from '../../src/envoy/messages.js';
import { MAX_HEADER_ENTRIES, MAX_HEADER_VALUE_BYTES } from '../../src/core/request-limits.js';
import { toRequestView } from '../../src/envoy/request.js';
import { envoyView, forwardAuthView, readHeaders } from '../../src/http/request.js';
import { cleanupTmp } from '../security/harness.js';
import {
  EC,
  RSA,
  claims,
  configureFuzz,
  decideTwice,
  fuzzGate,
  goodHeader,
  runs,
  signed,
  type FuzzGate,
} from './support.js';

configureFuzz();

let gate: FuzzGate;
beforeAll(async () => {
  gate = await fuzzGate();
});
afterAll(() => {
  gate.close();
  cleanupTmp();
});

const VALID = [signed(goodHeader(RSA), claims()), signed(goodHeader(EC), claims({ sub: 'other' }), EC)];
const VALID_SET = new Set(VALID);

const withHttp = (http: unknown): CheckRequestMessage => ({ attributes: { request: { http } } }) as CheckRequestMessage;
const utf8Bytes = (s: string) => Buffer.byteLength(text(s), 'utf8');

function checkCaps(view: RequestView): void {
  let lines = 0;
  for (const [name, values] of view.headers) {
    expect(name).toBe(name.toLowerCase());
    expect(utf8Bytes(name)).toBeLessThanOrEqual(MAX_HEADER_VALUE_BYTES);
    for (const v of values) {
      expect(typeof v).toBe('string');
      expect(utf8Bytes(v)).toBeLessThanOrEqual(MAX_HEADER_VALUE_BYTES);
      lines++;
    }
  }
  expect(lines).toBeLessThanOrEqual(MAX_HEADER_ENTRIES);
  expect(view.method).toBe(view.method.toUpperCase());
}

// ---- generators ---------------------------------------------------------------------------------

const authName = fc.constantFrom('authorization', 'Authorization', 'AUTHORIZATION', 'aUtHoRiZaTiOn');
const otherName = fc.oneof(
  fc.constantFrom(
    'cookie',
    'x-token',
    'host',
    ':path',
    ':method',
    ':authority',
    'x-request-id',
    'x-user-id',
    'content-type',
    '',
  ),
  fc.string({ maxLength: 12 }),
);
/**
 * Oversized values travel through the generators as short markers (`<<70000×Q>>`) so a failing case
 * prints readably; `text()` expands them where a request is built.
 */
const big = (n: number, c = 'a') => `<<${n}×${c}>>`;
const text = (t: string) => t.replace(/<<(\d+)×(.)>>/gu, (_m, n: string, c: string) => c.repeat(Number(n)));
const value = fc.oneof(
  { weight: 8, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(MAX_HEADER_VALUE_BYTES, MAX_HEADER_VALUE_BYTES + 1, 70_000).map((n) => big(n)),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(big(MAX_HEADER_VALUE_BYTES / 2 + 1, 'é'), big(MAX_HEADER_VALUE_BYTES / 3 + 1, '€')),
  },
);
const credential = fc.oneof(
  fc.constantFrom(...VALID).map((t) => `Bearer ${t}`),
  fc.constantFrom(...VALID).map((t) => `bearer  ${t}`),
  fc.constantFrom(
    'Basic YWxhZGRpbjpvcGVuc2VzYW1l',
    'Bearer other.token.x',
    'DPoP abc',
    '',
    `Bearer ${VALID[0]},Bearer ${VALID[1]}`,
  ),
  fc.constantFrom(MAX_HEADER_VALUE_BYTES + 1, 70_000).map((n) => `Basic ${big(n, 'Q')}`),
);

interface RawLine {
  readonly key: unknown;
  readonly text: string;
  /** Sent as raw_value bytes (header_map only). */
  readonly raw: boolean;
}

const filler = fc.record({ key: otherName, text: value, raw: fc.boolean() });

/** A header list with 0-2 Authorization lines at random places, sometimes past the count cap. */
const headerLines = fc
  .tuple(
    fc.oneof(
      { weight: 3, arbitrary: fc.array(filler, { maxLength: 12 }) },
      {
        weight: 1,
        arbitrary: fc
          .integer({ min: MAX_HEADER_ENTRIES - 3, max: MAX_HEADER_ENTRIES + 40 })
          .map((n) => Array.from({ length: n }, (_, i): RawLine => ({ key: `x-f${i}`, text: 'v', raw: false }))),
      },
    ),
    fc.array(fc.record({ key: authName, text: credential, raw: fc.boolean(), at: fc.nat() }), {
      maxLength: 2,
    }),
  )
  .map(([lines, auths]) => {
    const out: RawLine[] = [...lines];
    for (const a of auths) out.splice(a.at % (out.length + 1), 0, { key: a.key, text: a.text, raw: a.raw });
    return out;
  });

/** Oracle: what the upstream would receive. Allowed only with exactly one Authorization line, carrying a valid token. */
function mayAllow(lines: readonly { key: unknown; text: string }[]): boolean {
  const auths = lines.filter((l) => typeof l.key === 'string' && l.key.toLowerCase() === 'authorization');
  if (auths.length !== 1) return false;
  const m = /^bearer +(\S+)$/i.exec(text(auths[0]!.text));
  return m !== null && VALID_SET.has(m[1]!);
}

const toEntries = (lines: readonly RawLine[]): HeaderValueMessage[] =>
  lines.map((l) =>
    l.raw
      ? { key: l.key as string, raw_value: Buffer.from(text(l.text), 'utf8') }
      : { key: l.key as string, value: text(l.text) },
  );

// ---- properties ---------------------------------------------------------------------------------

describe('toRequestView (gRPC CheckRequest)', () => {
  it('never throws on arbitrary decoded messages, and respects its caps', () => {
    fc.assert(
      fc.property(fc.anything(), fc.array(fc.anything(), { maxLength: 5 }), headerLines, (anything, entries, lines) => {
        for (const req of [
          withHttp(anything),
          withHttp({ header_map: { headers: entries } }),
          withHttp({ header_map: { headers: [...toEntries(lines), ...entries] }, headers: anything }),
          withHttp({ headers: Object.fromEntries(lines.map((l) => [l.key, text(l.text)])) }),
          { attributes: anything } as CheckRequestMessage,
          anything as CheckRequestMessage,
        ]) {
          checkCaps(toRequestView(req));
        }
      }),
      { numRuns: runs(100) },
    );
  });

  it('a hostile header_map (raw_value bytes, duplicates, oversized, past the count cap) never yields an allow it should not', async () => {
    await fc.assert(
      fc.asyncProperty(headerLines, fc.constantFrom('/api/items', '/admin'), async (lines, path) => {
        const view = toRequestView(
          withHttp({ method: 'GET', host: 'api.example.com', path, header_map: { headers: toEntries(lines) } }),
        );
        checkCaps(view);
        const d = await decideTwice(gate.decide, view);
        if (d.outcome === 'allow') expect(mayAllow(lines)).toBe(true);
        else if (
          path === '/api/items' &&
          mayAllow(lines) &&
          lines.length <= MAX_HEADER_ENTRIES &&
          lines.every((l) => utf8Bytes(l.text) <= MAX_HEADER_VALUE_BYTES)
        ) {
          // Not a security property, but keeps the oracle honest: an ordinary request with one valid token is allowed.
          expect(d.reason).toBe('OK_AUTHENTICATED');
        }
      }),
      { numRuns: runs(250) },
    );
  });

  it('the same for the `headers` map form (names differing only in case are separate lines)', async () => {
    await fc.assert(
      fc.asyncProperty(headerLines, async (lines) => {
        const map: Record<string, string> = {};
        const kept: RawLine[] = [];
        for (const l of lines) {
          if (typeof l.key !== 'string' || Object.hasOwn(map, l.key)) continue; // a JS object holds one value per exact key
          map[l.key] = text(l.text);
          kept.push(l);
        }
        const view = toRequestView(withHttp({ method: 'GET', path: '/api/items', headers: map }));
        checkCaps(view);
        const d = await decideTwice(gate.decide, view);
        if (d.outcome === 'allow') expect(mayAllow(kept)).toBe(true);
      }),
      { numRuns: runs(250) },
    );
  });

  it('missing attributes never allow (no path is no route)', async () => {
    for (const req of [
      undefined,
      null,
      {},
      { attributes: {} },
      { attributes: { request: {} } },
      withHttp({ headers: { authorization: `Bearer ${VALID[0]}` } }),
    ]) {
      const d = await gate.decide(toRequestView(req));
      expect(d.outcome).not.toBe('allow');
      expect(d.reason).toBe('ERR_PATH_INVALID');
    }
  });
});

describe('HTTP front door views (src/http/request.ts)', () => {
  // Values over the per-value cap are left out here: see docs/security.md, "Open findings" (the HTTP
  // adapter drops them silently; the lead owns that file). Everything else is as hostile as above.
  const underCap = headerLines.map((lines) =>
    lines.filter((l) => utf8Bytes(l.text) <= MAX_HEADER_VALUE_BYTES && typeof l.key === 'string'),
  );
  const rawHeadersOf = (lines: readonly RawLine[]) => lines.flatMap((l) => [l.key as string, text(l.text)]);

  it('never throw on arbitrary raw header lists and urls; respect the caps', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string({ maxLength: 20 }), fc.anything() as fc.Arbitrary<string>), { maxLength: 30 }),
        fc.string({ maxLength: 40 }),
        fc.string({ maxLength: 8 }),
        fc.boolean(),
        (raw, url, method, trusted) => {
          for (const result of [
            envoyView({ method, url, rawHeaders: raw }, url),
            forwardAuthView({ method, url, rawHeaders: raw }, trusted),
          ]) {
            if (result.ok) checkCaps(result.view);
            else expect(result.problem.length).toBeGreaterThan(0);
          }
          const headers = readHeaders(raw);
          if (headers !== undefined) checkCaps({ method: 'GET', host: '', path: '/', headers });
        },
      ),
      { numRuns: runs(500) },
    );
  });

  it('more header lines than the cap are refused, not truncated', () => {
    const lines = Array.from({ length: MAX_HEADER_ENTRIES + 1 }, (_, i) => [`x-${i}`, 'v']).flat();
    expect(readHeaders(lines)).toBeUndefined();
    expect(envoyView({ method: 'GET', url: '/envoy/x', rawHeaders: lines }, '/x').ok).toBe(false);
  });

  it('Envoy HTTP mode: a hostile header list never yields an allow it should not', async () => {
    await fc.assert(
      fc.asyncProperty(underCap, async (lines) => {
        const result = envoyView(
          { method: 'GET', url: '/envoy/api/items', rawHeaders: rawHeadersOf(lines) },
          '/api/items',
        );
        if (!result.ok) return;
        checkCaps(result.view);
        const d = await decideTwice(gate.decide, result.view);
        if (d.outcome === 'allow') expect(mayAllow(lines)).toBe(true);
      }),
      { numRuns: runs(400) },
    );
  });
});
