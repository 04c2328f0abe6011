/**
 * Where tokens are: the configured locations only (default `Authorization: Bearer`). A request
 * that carries more than one token, in one location or across several, is rejected, never merged.
 *
 * One credential per request (SECURITY.md P18): besides tokens, every other credential the request
 * carries counts: any `Authorization` value whatever its scheme (Basic, DPoP, `Bearer<TAB>…`, a
 * malformed one), any value of a configured token header, each occurrence of a configured cookie.
 * More than one in total is refused (400 `ERR_MULTIPLE_TOKENS`), whichever of them claimgate would
 * read: the upstream or a framework in front of it may act on the other one.
 */
import type { TokenLocation } from '../config/schema.js';
import type { RequestView } from '../core/types.js';

/** RFC 6750 §2.1 b64token. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** A compiled token location; `id` is stable text such as `header:authorization:bearer` or `cookie:at`. */
export interface CompiledLocation {
  readonly id: string;
  /** Header that carries the token (for stripping before the upstream). */
  readonly header: string;
  /** Returns every token candidate found, or 'malformed' when the location is used but broken. */
  readonly find: (view: RequestView) => string[] | 'malformed';
}

export type Extraction =
  | { readonly kind: 'none' }
  | { readonly kind: 'token'; readonly token: string; readonly location: CompiledLocation }
  | { readonly kind: 'error'; readonly reason: 'ERR_MULTIPLE_TOKENS' | 'ERR_REQUEST_MALFORMED' };

export function locationId(loc: TokenLocation): string {
  if ('cookie' in loc) return `cookie:${loc.cookie}`;
  return loc.scheme === undefined ? `header:${loc.header}` : `header:${loc.header}:${loc.scheme.toLowerCase()}`;
}

function schemeLocation(header: string, scheme: string): CompiledLocation['find'] {
  const prefix = scheme.toLowerCase();
  return (view) => {
    const values = view.headers.get(header);
    if (values === undefined) return [];
    const found: string[] = [];
    for (const value of values) {
      const space = value.indexOf(' ');
      const given = (space === -1 ? value : value.slice(0, space)).toLowerCase();
      // Another scheme (e.g. Basic) in the same header is simply not a bearer token.
      if (given !== prefix) continue;
      const token = space === -1 ? '' : value.slice(space + 1).replace(/^ +/, '');
      if (!B64TOKEN.test(token)) return 'malformed';
      found.push(token);
    }
    // A token next to other credentials in a second field line of the same header (Envoy's
    // header_map keeps them apart): Authorization is a singleton field (RFC 9110 §11.6.2) and the
    // upstream could act on the other credentials, so this is not "exactly one" header.
    if (found.length > 0 && values.length > found.length) return 'malformed';
    return found;
  };
}

function bareHeaderLocation(header: string): CompiledLocation['find'] {
  return (view) => {
    const values = view.headers.get(header);
    if (values === undefined) return [];
    for (const v of values) if (!B64TOKEN.test(v)) return 'malformed';
    return [...values];
  };
}

function cookieLocation(name: string): CompiledLocation['find'] {
  return (view) => {
    const values = view.headers.get('cookie');
    if (values === undefined) return [];
    const found: string[] = [];
    for (const header of values) {
      for (const pair of header.split(';')) {
        const eq = pair.indexOf('=');
        if (eq === -1 || pair.slice(0, eq).trim() !== name) continue;
        const token = pair.slice(eq + 1).trim();
        if (!B64TOKEN.test(token)) return 'malformed';
        found.push(token);
      }
    }
    return found;
  };
}

export function compileLocation(loc: TokenLocation): CompiledLocation {
  const id = locationId(loc);
  if ('cookie' in loc) return { id, header: 'cookie', find: cookieLocation(loc.cookie) };
  const find = loc.scheme === undefined ? bareHeaderLocation(loc.header) : schemeLocation(loc.header, loc.scheme);
  return { id, header: loc.header, find };
}

/** `Authorization` always counts as a credential carrier, configured or not. */
const AUTHORIZATION = 'authorization';

/**
 * How many credentials the request carries across every location: each field value of each carrier
 * header (`Authorization` and every configured token header), each occurrence of a configured cookie.
 */
export function countCredentials(view: RequestView, locations: readonly CompiledLocation[]): number {
  const { headers, cookies } = carriersOf(locations);
  let count = 0;
  for (const header of headers) count += view.headers.get(header)?.length ?? 0;
  if (cookies.size > 0) {
    for (const line of view.headers.get('cookie') ?? []) {
      for (const pair of line.split(';')) {
        const eq = pair.indexOf('=');
        if (eq !== -1 && cookies.has(pair.slice(0, eq).trim())) count++;
      }
    }
  }
  return count;
}

interface Carriers {
  /** `Authorization` and every configured token header, once each. */
  readonly headers: readonly string[];
  /** Configured cookie names. */
  readonly cookies: ReadonlySet<string>;
}

/** The carriers of a config's locations, worked out once per locations list rather than per Check. */
const carriersByLocations = new WeakMap<readonly CompiledLocation[], Carriers>();

function carriersOf(locations: readonly CompiledLocation[]): Carriers {
  let carriers = carriersByLocations.get(locations);
  if (carriers === undefined) {
    const headers = new Set<string>([AUTHORIZATION]);
    const cookies = new Set<string>();
    for (const location of locations) {
      if (location.id.startsWith('cookie:')) cookies.add(location.id.slice('cookie:'.length));
      else headers.add(location.header);
    }
    carriers = { headers: [...headers], cookies };
    carriersByLocations.set(locations, carriers);
  }
  return carriers;
}

/** Looks in every location; exactly one token overall (and no other credential), or none, or an error. */
export function extractToken(view: RequestView, locations: readonly CompiledLocation[]): Extraction {
  if (countCredentials(view, locations) > 1) return { kind: 'error', reason: 'ERR_MULTIPLE_TOKENS' };
  let result: Extraction = { kind: 'none' };
  for (const location of locations) {
    const found = location.find(view);
    if (found === 'malformed') return { kind: 'error', reason: 'ERR_REQUEST_MALFORMED' };
    if (found.length === 0) continue;
    if (found.length > 1 || result.kind === 'token') return { kind: 'error', reason: 'ERR_MULTIPLE_TOKENS' };
    result = { kind: 'token', token: found[0]!, location };
  }
  return result;
}
