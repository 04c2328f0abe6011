/**
 * The request authority (`:authority` / `Host` / `X-Forwarded-Host`), parsed strictly before any route
 * is matched: a host-scoped route can only be trusted if every request names exactly one host.
 *
 * Accepted (RFC 3986 §3.2.2 and §3.2.3, narrowed to what DNS and IP addresses need):
 * - a DNS-style name: labels of letters, digits, `-` and `_`, separated by single dots, with at most one
 *   trailing dot (`api.example.com.` is the same DNS name and is matched without the dot);
 * - an IPv4 address in dotted-decimal (it is a reg-name of digits and dots to RFC 3986);
 * - an IPv6 literal in brackets (`[2001:db8::1]`); no zone id, no IPvFuture;
 * - optionally `:` and a port of 1 to 5 digits, at most 65535.
 *
 * Refused (the caller answers 400 `ERR_HOST_INVALID`): userinfo (`user@host`), more than one colon
 * outside brackets (`admin.example.com:1:2`), an empty port or host, percent-escapes and RFC 3986
 * sub-delims in names (no DNS name needs them, and servers disagree about decoding them), spaces,
 * lists, and anything longer than 255 characters. nginx and Envoy, for example, resolve `host:1:2` and
 * `user@host` to a virtual host in their own ways; claimgate does not guess which.
 */
import type { RequestView } from '../core/types.js';
import { isIPv6 } from 'node:net';

const MAX_AUTHORITY_LENGTH = 255 + 1 + 5;
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
const PORT = /^[0-9]{1,5}$/;

/** Lower-case host without port (brackets kept for IPv6), or undefined when the authority is not one host. */
export function parseAuthority(authority: string): string | undefined {
  if (authority.length === 0 || authority.length > MAX_AUTHORITY_LENGTH) return undefined;
  const lower = authority.toLowerCase();
  let host: string;
  let rest: string;
  if (lower.startsWith('[')) {
    const close = lower.indexOf(']');
    const literal = lower.slice(1, close);
    // node:net accepts a zone id (`fe80::1%eth0`); a request authority carries none.
    if (close === -1 || literal.includes('%') || !isIPv6(literal)) return undefined;
    host = lower.slice(0, close + 1);
    rest = lower.slice(close + 1);
  } else {
    const colon = lower.indexOf(':');
    host = colon === -1 ? lower : lower.slice(0, colon);
    rest = colon === -1 ? '' : lower.slice(colon);
    if (!isDnsName(host)) return undefined;
  }
  if (rest !== '' && !(rest.startsWith(':') && isPort(rest.slice(1)))) return undefined;
  return host;
}

function isDnsName(host: string): boolean {
  if (host.length === 0 || host.length > 254) return false;
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (name.length === 0) return false;
  for (const label of name.split('.')) if (!LABEL.test(label)) return false;
  return true;
}

function isPort(text: string): boolean {
  return PORT.test(text) && Number(text) <= 65535;
}

/**
 * `api.example.com:8443` → `api.example.com`, `[::1]:8080` → `[::1]` (brackets kept, as in
 * WHATWG `URL.hostname`), lower-cased. Anything that is not a host[:port] shape is returned
 * lower-cased as is, so it simply fails to match a configured host.
 */
export function hostWithoutPort(authority: string): string {
  const lower = authority.toLowerCase();
  if (lower.startsWith('[')) {
    const close = lower.indexOf(']');
    return close === -1 ? lower : lower.slice(0, close + 1);
  }
  const colon = lower.indexOf(':');
  if (colon === -1 || lower.indexOf(':', colon + 1) !== -1) return lower;
  return lower.slice(0, colon);
}

/** The view's host fields for an authority: the strictly parsed host, or the flag that refuses it. */
export function hostOf(authority: string): Pick<RequestView, 'host' | 'hostInvalid'> {
  const host = parseAuthority(authority);
  return host === undefined ? { host: hostWithoutPort(authority), hostInvalid: true } : { host };
}

/**
 * {@link hostOf} per authority, remembered: a proxy sends the same few authorities again and again, and
 * parsing one (a regular expression per label) was ~5 % of reading a request into a view. Bounded in
 * count and in length (the authority is client-chosen: at most 256 × 300 characters held); cleared when full.
 */
const MAX_CACHED_AUTHORITIES = 256;
/** Longer than any valid authority (a 253-character name, a port): such a value is parsed, never kept. */
const MAX_CACHED_AUTHORITY_LENGTH = 300;
const authorities = new Map<string, Pick<RequestView, 'host' | 'hostInvalid'>>();

export function cachedHostOf(authority: string): Pick<RequestView, 'host' | 'hostInvalid'> {
  if (authority.length > MAX_CACHED_AUTHORITY_LENGTH) return hostOf(authority);
  let host = authorities.get(authority);
  if (host === undefined) {
    if (authorities.size >= MAX_CACHED_AUTHORITIES) authorities.clear();
    host = Object.freeze(hostOf(authority));
    authorities.set(authority, host);
  }
  return host;
}
