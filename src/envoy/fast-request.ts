/**
 * CheckRequest wire bytes → RequestView, without building the protobuf object tree.
 *
 * @grpc/proto-loader decodes every field of a CheckRequest into a message object and then converts it
 * into a plain object (docs/benchmarks.md: about a third of a bare grpc-js server's cost). The engine needs
 * a handful of fields: this walks the wire format once, decodes only those, and skips everything else
 * (bodies, metadata, context extensions, addresses) by length. The result equals what
 * {@link toRequestView} makes of proto-loader's decode of the same bytes (test/envoy/fast-request.test.ts
 * and test/fuzz/fast-request.fuzz.test.ts prove it on the golden vectors and on generated messages).
 *
 * Protobuf semantics kept: a singular message or string field seen twice is the last one seen (protobufjs
 * replaces, it does not merge), map entries accumulate (a repeated key: last value wins), unknown fields are
 * skipped, groups included. Bytes that are not a well-formed message (a length past the end, a truncated
 * varint, wire type 4/6/7, a known field with the wrong wire type) give {@link MALFORMED}: the server answers
 * those in band (400 ERR_REQUEST_MALFORMED), never with a transport error.
 */
import type { RequestView } from '../core/types.js';
import { MAX_HEADER_ENTRIES } from '../core/request-limits.js';
import { exceedsByteCap, headerLineValue, viewOf, type HeaderLine } from './request.js';

/** Returned for bytes that are not a well-formed CheckRequest. */
export const MALFORMED: unique symbol = Symbol('claimgate.malformedCheckRequest');

const LEN = 2;
/** Nesting deeper than this inside skipped groups is refused (protobufjs' own recursion limit is 100). */
const MAX_GROUP_DEPTH = 100;

class Malformed extends Error {}
const fail = (): never => {
  throw new Malformed();
};

/** A cursor over one message's bytes [pos, end). */
interface Cursor {
  readonly buf: Buffer;
  pos: number;
  readonly end: number;
}

function varint32(c: Cursor): number {
  // Lengths and tags: at most 5 bytes are meaningful; a longer varint is read and its high bits dropped.
  let value = 0;
  for (let shift = 0; shift < 70; shift += 7) {
    if (c.pos >= c.end) fail();
    const byte = c.buf[c.pos++] as number;
    if (shift < 32) value |= (byte & 0x7f) << shift;
    if (byte < 0x80) return value >>> 0;
  }
  return fail();
}

function skipField(c: Cursor, wireType: number, depth: number): void {
  switch (wireType) {
    case 0:
      varint32(c);
      return;
    case 1:
      if ((c.pos += 8) > c.end) fail();
      return;
    case 2: {
      const len = varint32(c);
      if ((c.pos += len) > c.end) fail();
      return;
    }
    case 3: {
      if (depth > MAX_GROUP_DEPTH) fail();
      for (;;) {
        const tag = varint32(c);
        if ((tag & 7) === 4) return;
        skipField(c, tag & 7, depth + 1);
      }
    }
    case 5:
      if ((c.pos += 4) > c.end) fail();
      return;
    default:
      fail();
  }
}

/** Reads a LEN field's extent and moves past it. */
function lengthDelimited(c: Cursor, wireType: number): Cursor {
  if (wireType !== LEN) fail();
  const len = varint32(c);
  const start = c.pos;
  if ((c.pos += len) > c.end) fail();
  return { buf: c.buf, pos: start, end: c.pos };
}

/** Walks a message, calling `field` for each (number, wire type); unknown fields it returns false for are skipped. */
function walk(c: Cursor, field: (num: number, wireType: number) => boolean): void {
  while (c.pos < c.end) {
    const tag = varint32(c);
    const wireType = tag & 7;
    if (wireType === 4) fail();
    if (!field(tag >>> 3, wireType)) skipField(c, wireType, 0);
  }
}

/** UTF-8 with U+FFFD for invalid sequences, as protobufjs reads strings (Buffer#utf8Slice, without toString's checks). */
const text = (c: Cursor): string => (c.buf as SliceableBuffer).utf8Slice(c.pos, c.end);
type SliceableBuffer = Buffer & { utf8Slice(start: number, end: number): string };

/** The last occurrence of a singular LEN field `num` of the message at `c`. */
function lastMessage(c: Cursor, num: number): Cursor | undefined {
  let found: Cursor | undefined;
  walk(c, (n, wt) => {
    if (n !== num) return false;
    found = lengthDelimited(c, wt);
    return true;
  });
  return found;
}

/** What of `AttributeContext.HttpRequest` the view needs. */
interface HttpFields {
  method: string;
  path: string;
  host: string;
  scheme: string;
  /**
   * The `headers` map read straight into the view's form (lower-case name → [value]), while every entry
   * fits it: a non-empty name seen once in any case, within the caps. Otherwise `general` is set and the
   * map is read again into {@link map}, which the view reads like proto-loader's object.
   */
  headers: Map<string, string[]> | undefined;
  general: boolean;
  /** `headers` map: raw name → value (last value wins), in first-seen order (the general path). */
  map: Map<string, string> | undefined;
  /** The last `header_map`'s entries. */
  headerMap: Cursor | undefined;
}

function readHttp(c: Cursor): HttpFields {
  const start = c.pos;
  const http = readHttpFields(c, true);
  return http.general ? readHttpFields({ buf: c.buf, pos: start, end: c.end }, false) : http;
}

function readHttpFields(c: Cursor, direct: boolean): HttpFields {
  const http: HttpFields = {
    method: '',
    path: '',
    host: '',
    scheme: '',
    headers: undefined,
    general: false,
    map: undefined,
    headerMap: undefined,
  };
  // A loop rather than walk() with a callback: this runs once per Check and visits every header.
  while (c.pos < c.end) {
    const tag = varint32(c);
    const wt = tag & 7;
    if (wt === 4) fail();
    switch (tag >>> 3) {
      case 2:
        http.method = text(lengthDelimited(c, wt));
        break;
      case 3:
        // The most frequent field (one per header): read in place, without a cursor object per entry.
        if (!direct) readMapEntry(entryAt(c, wt), (http.map ??= new Map<string, string>()));
        // Once the general path is needed this pass only finds the other fields; the next one reads entries.
        else if (http.general) lengthDelimited(c, wt);
        else if (!readEntryDirect(entryAt(c, wt), (http.headers ??= new Map<string, string[]>()))) http.general = true;
        break;
      case 4:
        http.path = text(lengthDelimited(c, wt));
        break;
      case 5:
        http.host = text(lengthDelimited(c, wt));
        break;
      case 6:
        http.scheme = text(lengthDelimited(c, wt));
        break;
      case 13:
        http.headerMap = lengthDelimited(c, wt);
        break;
      default:
        skipField(c, wt, 0);
    }
  }
  return http;
}

/** The one cursor map entries are read through (decoding never re-enters itself). */
const entryCursor: { buf: Buffer; pos: number; end: number } = { buf: Buffer.alloc(0), pos: 0, end: 0 };

/** A LEN field's extent as {@link entryCursor}, moving `c` past it. */
function entryAt(c: Cursor, wireType: number): Cursor {
  if (wireType !== LEN) fail();
  const len = varint32(c);
  const start = c.pos;
  if ((c.pos += len) > c.end) fail();
  entryCursor.buf = c.buf;
  entryCursor.pos = start;
  entryCursor.end = c.pos;
  return entryCursor;
}

/** A LEN field's contents as text, moving past it (no cursor object: once per map entry field). */
function textField(c: Cursor, wireType: number): string {
  if (wireType !== LEN) fail();
  const len = varint32(c);
  const start = c.pos;
  if ((c.pos += len) > c.end) fail();
  return (c.buf as SliceableBuffer).utf8Slice(start, c.pos);
}

/**
 * The key and value of the map entry {@link readEntry} read last. Module-level rather than a returned pair:
 * this runs once per header of every Check, and decoding never re-enters itself.
 */
let entryKey = '';
let entryValue = '';

/** Reads one `map<string, string>` entry (`key = 1`, `value = 2`; absent = '') into entryKey / entryValue. */
function readEntry(entry: Cursor): void {
  entryKey = '';
  entryValue = '';
  while (entry.pos < entry.end) {
    const tag = varint32(entry);
    const num = tag >>> 3;
    const wireType = tag & 7;
    if (num === 1) entryKey = textField(entry, wireType);
    else if (num === 2) entryValue = textField(entry, wireType);
    else if (wireType === 4) fail();
    else skipField(entry, wireType, 0);
  }
}

/** One map entry into a raw-name map; a repeated key's last value wins. */
function readMapEntry(entry: Cursor, map: Map<string, string>): void {
  readEntry(entry);
  map.set(entryKey, entryValue);
}

/**
 * One `headers` map entry straight into the view's map. Returns false (the entry is not added) when the
 * general path must decide: an empty name, a name already there in any case (a repeated key replaces,
 * names differing in case are both kept), more than {@link MAX_HEADER_ENTRIES} names, a name or value over
 * the byte cap. The entry is always read through, so a malformed one still fails the message.
 */
function readEntryDirect(entry: Cursor, headers: Map<string, string[]>): boolean {
  readEntry(entry);
  const key = entryKey;
  const value = entryValue;
  if (key === '' || headers.size >= MAX_HEADER_ENTRIES || exceedsByteCap(key) || exceedsByteCap(value)) return false;
  const name = key.toLowerCase();
  if (headers.has(name)) return false;
  headers.set(name, [value]);
  return true;
}

/** `header_map.headers` as lines; `undefined` when it has no entries (then the `headers` map is read). */
function headerMapLines(headerMap: Cursor): { lines: HeaderLine[]; count: number } | undefined {
  const lines: HeaderLine[] = [];
  let count = 0;
  walk(headerMap, (n, wt) => {
    if (n !== 1) return false;
    const entry = lengthDelimited(headerMap, wt);
    // Entries past the cap are still walked (to validate the message) but never decoded.
    if (++count > MAX_HEADER_ENTRIES) return true;
    let key: string | undefined;
    let value: string | undefined;
    let raw: Cursor | undefined;
    walk(entry, (en, ewt) => {
      if (en === 1) key = text(lengthDelimited(entry, ewt));
      else if (en === 2) value = text(lengthDelimited(entry, ewt));
      else if (en === 3) raw = lengthDelimited(entry, ewt);
      else return false;
      return true;
    });
    lines.push({
      key,
      value: headerLineValue(raw === undefined ? undefined : raw.buf.subarray(raw.pos, raw.end), value),
    });
    return true;
  });
  return count === 0 ? undefined : { lines, count };
}

/** The fields of a CheckRequest beyond the HTTP request that adapters expose. */
interface PeerFields {
  certificate: string;
}

/**
 * Decodes a CheckRequest's wire bytes into the view the engine decides on; never throws.
 * @returns the view, or {@link MALFORMED} for bytes that are not a well-formed CheckRequest
 */
export function decodeCheckRequest(bytes: Uint8Array): RequestView | typeof MALFORMED {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return decode({ buf, pos: 0, end: buf.length });
  } catch (e) {
    if (e instanceof Malformed || e instanceof RangeError) return MALFORMED;
    throw e;
  }
}

function decode(root: Cursor): RequestView {
  const attributes = lastMessage(root, 1);
  if (attributes === undefined) return viewOf(undefined);
  let request: Cursor | undefined;
  let source: Cursor | undefined;
  walk(attributes, (n, wt) => {
    if (n === 1) source = lengthDelimited(attributes, wt);
    else if (n === 4) request = lengthDelimited(attributes, wt);
    else return false;
    return true;
  });
  const peer: PeerFields = { certificate: '' };
  if (source !== undefined) {
    const s = source;
    walk(s, (n, wt) => {
      if (n !== 5) return false;
      peer.certificate = text(lengthDelimited(s, wt));
      return true;
    });
  }
  const httpBytes = request === undefined ? undefined : lastMessage(request, 2);
  if (httpBytes === undefined) return viewOf(undefined);
  const http = readHttp(httpBytes);
  const fromHeaderMap = http.headerMap === undefined ? undefined : headerMapLines(http.headerMap);
  return viewOf(
    {
      method: http.method,
      path: http.path,
      host: http.host,
      scheme: http.scheme,
      headerLines: fromHeaderMap?.lines,
      headerLineCount: fromHeaderMap?.count ?? 0,
      headerMap: http.map,
      // `header_map` entries, when there are any, take precedence over the `headers` map.
      headers: fromHeaderMap === undefined ? http.headers : undefined,
    },
    peer.certificate,
  );
}
