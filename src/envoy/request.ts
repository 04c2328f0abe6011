/**
 * CheckRequest → RequestView. Everything in a CheckRequest is attacker-influenced, so this never
 * throws, bounds its work, and leaves judgement to the engine: a request it cannot read becomes a
 * view with empty method/path, which the engine denies.
 */
import type { RequestView } from '../core/types.js';
import { MAX_HEADER_ENTRIES, MAX_HEADER_VALUE_BYTES } from '../core/request-limits.js';
import { cachedHostOf } from '../routes/authority.js';
import type { CheckRequestMessage, HeaderValueMessage, HttpRequestMessage } from './messages.js';

/**
 * Decodes `raw_value` bytes as UTF-8 with U+FFFD for invalid sequences (non-fatal). A Latin-1 byte
 * therefore becomes U+FFFD rather than its Latin-1 character: that cannot match any token or
 * header grammar the engine accepts, so a mangled value can only lead to a denial, never to an
 * accidental match. (Envoy sanitises the `headers` map the same way.)
 */
const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

const EMPTY_HEADERS: ReadonlyMap<string, readonly string[]> = new Map();

/** A `header_map` entry reduced to its name and value ({@link headerLineValue}). */
export interface HeaderLine {
  readonly key: unknown;
  readonly value: unknown;
}

/** The parts of `AttributeContext.HttpRequest` a view is made of, however they were decoded. */
export interface HttpParts {
  readonly method: unknown;
  readonly path: unknown;
  readonly host: unknown;
  readonly scheme: unknown;
  /** The first {@link MAX_HEADER_ENTRIES} `header_map` entries; absent or empty: the `headers` map is read. */
  readonly headerLines?: readonly HeaderLine[] | undefined;
  /** How many entries `header_map` had in all. */
  readonly headerLineCount: number;
  /** The `headers` map's entries, in order. */
  readonly headerMap?: Iterable<readonly [string, unknown]> | undefined;
  /**
   * The `headers` map already read into the view's form by the wire decoder (every line read, none over
   * a cap, no two names equal ignoring case); when present, `headerLines` and `headerMap` are not read.
   */
  readonly headers?: Map<string, string[]> | undefined;
}

/** The protocol-neutral view of one CheckRequest; never throws, whatever the input. */
export function toRequestView(req: CheckRequestMessage | null | undefined, peerAddress?: string): RequestView {
  const http = readHttp(req);
  const certificate = peerCertificate(req);
  if (http === undefined) return viewOf(undefined);
  const entries = http.header_map?.headers;
  const fromHeaderMap = Array.isArray(entries) && entries.length > 0;
  const map = http.headers;
  return viewOf(
    {
      method: http.method,
      path: http.path,
      host: http.host,
      scheme: http.scheme,
      headerLines: fromHeaderMap
        ? Array.from({ length: Math.min(entries.length, MAX_HEADER_ENTRIES) }, (_, i) => headerMapLine(entries[i]))
        : undefined,
      headerLineCount: fromHeaderMap ? entries.length : 0,
      headerMap: !fromHeaderMap && isObject(map) ? Object.entries(map) : undefined,
    },
    certificate,
    peerAddress,
  );
}

/**
 * The view of an HTTP request's parts (`undefined`: the CheckRequest has none). Shared by the object path
 * above and the wire decoder (fast-request.ts) so both make exactly the same view.
 * @param certificate `attributes.source.certificate` (URL-encoded PEM of the client's certificate), or ''
 *   (one over {@link MAX_HEADER_VALUE_BYTES} is left out, like a header over the cap)
 * @param peerAddress the address that sent the Check (from the call, not the message)
 */
export function viewOf(http: HttpParts | undefined, certificate = '', peerAddress?: string): RequestView {
  if (http === undefined) {
    // Network (L4) filter requests and malformed messages carry no HTTP request.
    return { method: '', host: '', path: '', headers: EMPTY_HEADERS };
  }
  const { headers, incomplete } = readHeaders(http);
  const method = (stringOr(http.method) || firstValue(headers, ':method')).toUpperCase();
  const authority = stringOr(http.host) || firstValue(headers, ':authority') || firstValue(headers, 'host');
  const path = stringOr(http.path) || firstValue(headers, ':path');
  const scheme = stringOr(http.scheme);
  const requestId = firstValue(headers, 'x-request-id');
  const host = cachedHostOf(authority);
  // One object, optional fields added only when present (no spread copies: this runs once per Check).
  const view: Writable<RequestView> = { method, host: host.host, path, headers };
  if (host.hostInvalid === true) view.hostInvalid = true;
  if (incomplete) view.incomplete = true;
  if (scheme !== '') view.scheme = scheme;
  if (authority !== '') view.authority = authority;
  if (peerAddress !== undefined) view.peerAddress = peerAddress;
  if (certificate !== '' && certificate.length <= MAX_HEADER_VALUE_BYTES) view.envoyPeerCertificate = certificate;
  if (requestId !== '') view.requestId = requestId;
  return view;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** `attributes.source.certificate` (URL-encoded PEM, bounded like a header), or ''. */
function peerCertificate(req: CheckRequestMessage | null | undefined): string {
  const source = isObject(req) && isObject(req.attributes) ? req.attributes.source : undefined;
  const certificate = isObject(source) ? source.certificate : undefined;
  return typeof certificate === 'string' && certificate.length <= MAX_HEADER_VALUE_BYTES ? certificate : '';
}

function readHttp(req: CheckRequestMessage | null | undefined): HttpRequestMessage | undefined {
  if (!isObject(req)) return undefined;
  const attributes = req.attributes;
  if (!isObject(attributes)) return undefined;
  const request = attributes.request;
  if (!isObject(request)) return undefined;
  return isObject(request.http) ? request.http : undefined;
}

/**
 * Envoy fills either the `headers` map or, with `encode_raw_headers`, `header_map`. Prefer
 * `header_map` when it has entries: it keeps repeated headers apart and carries the raw bytes.
 *
 * `incomplete` is set when a header line was not read (past {@link MAX_HEADER_ENTRIES}, or a name or
 * value over {@link MAX_HEADER_VALUE_BYTES}): the upstream still receives that line, which may be a
 * second credential, so the engine must not decide on the lines it did read (it answers 400).
 */
function readHeaders(http: HttpParts): { headers: Map<string, string[]>; incomplete: boolean } {
  if (http.headers !== undefined) return { headers: http.headers, incomplete: false };
  const headers = new Map<string, string[]>();
  let incomplete = false;
  const lines = http.headerLines;
  if (lines !== undefined && http.headerLineCount > 0) {
    if (http.headerLineCount > MAX_HEADER_ENTRIES) incomplete = true;
    const count = Math.min(lines.length, MAX_HEADER_ENTRIES);
    for (let i = 0; i < count; i++) {
      const line = lines[i] as HeaderLine;
      if (line.value === TOO_LARGE || !addHeader(headers, line.key, line.value)) incomplete = true;
    }
    return { headers, incomplete };
  }
  if (http.headerMap === undefined) return { headers, incomplete };
  let seen = 0;
  for (const [name, value] of http.headerMap) {
    if (++seen > MAX_HEADER_ENTRIES) {
      incomplete = true;
      break;
    }
    // A value here may be several headers joined with ','; it stays one value: splitting would
    // break values that legitimately contain commas, and a joined credential fails to parse.
    if (!addHeader(headers, name, value)) incomplete = true;
  }
  return { headers, incomplete };
}

/** A raw_value over the byte cap (not decoded at all). */
const TOO_LARGE = Symbol('too large');

function headerMapLine(entry: HeaderValueMessage | undefined): HeaderLine {
  if (!isObject(entry)) return { key: undefined, value: undefined };
  return { key: entry.key, value: headerLineValue(entry.raw_value, entry.value) };
}

/**
 * A `header_map` entry's value: `raw_value` when it has bytes (over the cap: a marker, not decoded),
 * else `value`; an empty header has neither field on the wire (zero values are not written).
 */
export function headerLineValue(raw: unknown, value: unknown): unknown {
  if (raw instanceof Uint8Array && raw.length > 0) {
    return raw.length > MAX_HEADER_VALUE_BYTES ? TOO_LARGE : utf8.decode(raw);
  }
  return typeof value === 'string' ? value : '';
}

/**
 * Adds one header line. Returns false only when a real line (string name and value) was dropped
 * because of the byte cap; entries that are not header lines at all (no name, no value) are ignored.
 */
function addHeader(headers: Map<string, string[]>, name: unknown, value: unknown): boolean {
  if (typeof name !== 'string' || name === '' || typeof value !== 'string') return true;
  if (exceedsByteCap(name) || exceedsByteCap(value)) return false;
  const key = name.toLowerCase();
  const values = headers.get(key);
  if (values === undefined) headers.set(key, [value]);
  else values.push(value);
  return true;
}

/** UTF-16 length ≤ UTF-8 length ≤ 3 × UTF-16 length, so the exact count is needed only in between. */
export function exceedsByteCap(text: string): boolean {
  if (text.length > MAX_HEADER_VALUE_BYTES) return true;
  if (text.length * 3 <= MAX_HEADER_VALUE_BYTES) return false;
  return Buffer.byteLength(text, 'utf8') > MAX_HEADER_VALUE_BYTES;
}

function firstValue(headers: ReadonlyMap<string, readonly string[]>, name: string): string {
  return headers.get(name)?.[0] ?? '';
}

function stringOr(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function isObject<T>(value: T): value is T & object {
  return typeof value === 'object' && value !== null;
}
