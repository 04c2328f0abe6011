/**
 * Request parts that upstream frameworks read differently from claimgate (SECURITY.md P16): header
 * names an upstream may fold onto a header claimgate owns, and method-override signals. Both are
 * judged before any route, so a public route is covered too. docs/security.md has the upstream table.
 *
 * Header names. CGI-style servers expose headers as `HTTP_` + upper case + `-` → `_` (RFC 3875 §4.1.18;
 * Python WSGI per PEP 3333, Rack, PHP via FastCGI, Go net/http/cgi), so `X_Auth_Roles` and
 * `X-Auth-Roles` become one variable, and several servers merge the two values. PHP additionally turns
 * `.` and ` ` in variable names into `_` when it registers `$_SERVER`. claimgate therefore reads a header
 * name the widest way any of them could: ASCII case folded, every character other than a letter or digit
 * mapped to `_`, separators at the edges ignored. A request carrying a header whose reading equals that
 * of an owned header (identity headers, `payload_header`, the token carriers that are stripped) while its
 * spelling differs is refused: claimgate cannot remove a header from the request in the forward-auth
 * doors (nginx, Caddy and Traefik only copy named headers), so refusing is the one answer every door
 * can give, and no legitimate client sends such a spelling.
 *
 * Method override. Express `method-override`, Rack::MethodOverride, Symfony/Laravel and Spring's
 * HiddenHttpMethodFilter let a request named POST be handled as another method, from a header or a
 * `_method` parameter (Symfony and Spring read it from the query string too). claimgate judges the method
 * on the request line only, so a request that carries any override header (in any spelling) or a
 * `_method` query parameter is refused rather than judged at a method the upstream will not use.
 */

/** The name as the widest CGI/WSGI/PHP-style reading sees it: `X_Auth.Roles` → `x_auth_roles`. */
export function upstreamHeaderReading(name: string): string {
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39)) out += name[i];
    else if (c >= 0x41 && c <= 0x5a) out += String.fromCharCode(c + 0x20);
    else out += '_';
  }
  return trimUnderscores(out);
}

function trimUnderscores(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && text.charCodeAt(start) === 0x5f) start++;
  while (end > start && text.charCodeAt(end - 1) === 0x5f) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/** Header names (lower case, as received) that the engine looks for, by upstream reading. */
export interface HeaderReadings {
  /** Reading → the one exact lower-case spelling claimgate owns or reads under that reading. */
  readonly byReading: ReadonlyMap<string, string>;
  /**
   * The verdict on each header name seen ({@link FORGED} | {@link OVERRIDE} bits), so a name is read once
   * rather than once per Check: building a reading allocated ~4 KB per Check (docs/benchmarks.md). Bounded.
   */
  readonly verdicts: Map<string, number>;
}

/** The name is another spelling of an owned header. */
const FORGED = 1;
/** The name reads as a method-override header. */
const OVERRIDE = 2;
/** Header names remembered per config (a client choosing names can only make it start over), and how long. */
const MAX_REMEMBERED_NAMES = 1024;
const MAX_REMEMBERED_NAME_LENGTH = 64;

/** Readings of the headers claimgate owns, keyed to their exact spelling. */
export function compileHeaderReadings(exactNames: readonly string[]): HeaderReadings {
  const byReading = new Map<string, string>();
  for (const name of exactNames) byReading.set(upstreamHeaderReading(name), name.toLowerCase());
  return { byReading, verdicts: new Map() };
}

/** Readings of the method-override headers frameworks honour. */
const OVERRIDE_HEADER_READINGS: ReadonlySet<string> = new Set(
  ['x-http-method-override', 'x-http-method', 'x-method-override'].map(upstreamHeaderReading),
);

/** Judges one lower-case header name: whether it forges an owned name, whether it asks for a method override. */
function verdictOf(name: string, readings: HeaderReadings): number {
  let verdict = readings.verdicts.get(name);
  if (verdict !== undefined) return verdict;
  verdict = 0;
  // Names made only of lower-case letters and digits read as themselves: the exact name or none.
  if (!/^[a-z0-9]*$/.test(name)) {
    const reading = upstreamHeaderReading(name);
    const exact = readings.byReading.get(reading);
    if (exact !== undefined && exact !== name) verdict |= FORGED;
    if (OVERRIDE_HEADER_READINGS.has(reading)) verdict |= OVERRIDE;
  } else if (OVERRIDE_HEADER_READINGS.has(name)) verdict |= OVERRIDE;
  if (name.length <= MAX_REMEMBERED_NAME_LENGTH) {
    if (readings.verdicts.size >= MAX_REMEMBERED_NAMES) readings.verdicts.clear();
    readings.verdicts.set(name, verdict);
  }
  return verdict;
}

/**
 * True when some request header is another spelling of an owned name (same reading, different name).
 * Header maps reach the engine with lower-case names, so case alone never counts as another spelling.
 */
export function hasForgedSpelling(headers: ReadonlyMap<string, readonly string[]>, readings: HeaderReadings): boolean {
  for (const name of headers.keys()) if ((verdictOf(name, readings) & FORGED) !== 0) return true;
  return false;
}

/** True when the request asks to be handled as another method (a header, or `_method` in the query). */
export function hasMethodOverride(
  headers: ReadonlyMap<string, readonly string[]>,
  target: string,
  readings: HeaderReadings,
): boolean {
  for (const name of headers.keys()) if ((verdictOf(name, readings) & OVERRIDE) !== 0) return true;
  const q = target.indexOf('?');
  return q !== -1 && queryHasMethodParameter(target.slice(q + 1));
}

/**
 * Whether a query string has a parameter that reads as `_method`: names are decoded (`+` is a space),
 * and read the PHP way (leading spaces dropped, `.` and ` ` as `_`, `_method[…]` as `_method`), case-insensitively.
 */
function queryHasMethodParameter(query: string): boolean {
  if (!/method/i.test(query) && !/%/.test(query)) return false;
  for (const pair of query.split(/[&;]/)) {
    const eq = pair.indexOf('=');
    const rawName = eq === -1 ? pair : pair.slice(0, eq);
    let name: string;
    try {
      name = decodeURIComponent(rawName.replace(/\+/g, ' '));
    } catch {
      name = rawName;
    }
    const read = name.replace(/^ +/, '').replace(/\[.*$/, '').replace(/[. ]/g, '_').toLowerCase();
    if (read === '_method') return true;
  }
  return false;
}
