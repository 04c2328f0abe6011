/**
 * Request-path normalization for route MATCHING. The goal is that no encoding trick can make a request
 * match a weaker route than the resource the upstream will serve. Where servers disagree about what a
 * spelling means, the request is refused (400) rather than guessed at. Policy (docs/routing.md has the
 * table):
 *
 * - The query (`?`) is dropped; what is left must start with `/` and be at most
 *   {@link MAX_PATH_LENGTH} characters (so `*` and absolute-form targets are invalid).
 * - A raw `#` anywhere in the target is refused: a fragment is never sent in a request target
 *   (RFC 9112 §3.2), and proxies disagree about it: nginx passes `/public#/../admin` on whole while a
 *   parser that cuts at `#` would judge `/public`.
 * - `%3F` and `%23` inside a path segment are refused: decoded they are `?` and `#`, which an upstream
 *   that decodes before splitting (or re-encodes a redirect) reads as the start of a query or fragment.
 * - Refused: `%2F` and `%5C` (an encoded slash or backslash is a separator to some servers and data to
 *   others), backslashes, `;` raw or as `%3B` (Tomcat/Jetty strip `;params` from segments, so
 *   `/admin;x` and `/public/..;/admin` mean different things to different servers), control characters
 *   raw or encoded (`%00`, `%0A`, DEL), malformed escapes (`%zz`, `%u0041`, a trailing `%`), escapes that
 *   decode to invalid UTF-8 (overlong forms such as `%C0%AF`, encoded surrogates), lone surrogates,
 *   double encoding (`%25` followed by two hex digits, which a second decode would turn into another
 *   character), and dot segments written with escapes (`%2e%2e`: some servers treat them as `..`,
 *   others as a name).
 * - Everything else is percent-decoded once (`/%61dmin` is `/admin`; raw UTF-8 and its escaped form
 *   are the same path), repeated slashes collapse, `.` and `..` segments are resolved; `..` above the
 *   root is invalid. A trailing slash is kept (the matcher treats `/a/` like `/a`).
 * - No Unicode normalization: upstreams compare code points, so NFC/NFKC would make two paths that the
 *   upstream keeps apart equal here (`/ﬁle` and `/file`), letting a request match a route written for
 *   a different resource. Case is preserved; case-insensitive matching is the route's `ignore_case`.
 */

/** Longest raw path (before `?`) that is normalized; longer targets are invalid. */
export const MAX_PATH_LENGTH = 8192;

export type NormalizedPath = { readonly ok: true; readonly path: string } | { readonly ok: false };

const INVALID: NormalizedPath = Object.freeze({ ok: false });

const SLASH = 0x2f;
const DOT = 0x2e;
const QUESTION = 0x3f;
const HASH = 0x23;

/** Characters a decoded segment may never hold (a `/` there came from `%2F`, `?` from `%3F`, `#` from `%23`). */
const FORBIDDEN_IN_SEGMENT = /[\x00-\x1f\x7f\\/;?#]/;
/** After one decode, a `%` can only come from `%25`; followed by two hex digits it is double encoding. */
const DOUBLE_ENCODED = /%[0-9A-Fa-f]{2}/;
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Normalizes a raw request target (path plus optional query) into the path that routes are matched
 * against, or reports it invalid (the caller answers 400 `ERR_PATH_INVALID`). Pure; never throws.
 */
export function normalizePath(rawTarget: string): NormalizedPath {
  let end = 0;
  let plain = true; // nothing that needs decoding, dot or slash handling, or validation
  for (; end < rawTarget.length; end++) {
    const c = rawTarget.charCodeAt(end);
    if (c === HASH) return INVALID;
    if (c === QUESTION) {
      if (rawTarget.includes('#', end)) return INVALID;
      break;
    }
    if (end === MAX_PATH_LENGTH) return INVALID;
    if (c === SLASH) {
      const next = rawTarget.charCodeAt(end + 1);
      if (next === SLASH || next === DOT) plain = false;
    } else if (c <= 0x20 || c >= 0x7f || c === 0x25 /* % */ || c === 0x5c /* \ */ || c === 0x3b /* ; */) {
      plain = false;
    }
  }
  if (end === 0 || rawTarget.charCodeAt(0) !== SLASH) return INVALID;
  const path = end === rawTarget.length ? rawTarget : rawTarget.slice(0, end);
  return plain ? { ok: true, path } : normalizeSlowly(path);
}

/** The careful path: per-segment decode and checks, then dot-segment resolution. */
function normalizeSlowly(path: string): NormalizedPath {
  if (LONE_SURROGATE.test(path)) return INVALID;
  const raw = path.split('/'); // raw[0] is the empty string before the leading slash
  const out: string[] = [];
  let trailingSlash = false;
  for (let i = 1; i < raw.length; i++) {
    const segment = raw[i]!;
    const isLast = i === raw.length - 1;
    if (segment === '') {
      trailingSlash = isLast;
      continue;
    }
    const decoded = decodeSegment(segment);
    if (decoded === undefined || FORBIDDEN_IN_SEGMENT.test(decoded)) return INVALID;
    if (decoded !== segment && (decoded === '.' || decoded === '..' || DOUBLE_ENCODED.test(decoded))) return INVALID;
    if (decoded === '.' || decoded === '..') {
      if (decoded === '..' && out.pop() === undefined) return INVALID;
      trailingSlash = isLast;
      continue;
    }
    out.push(decoded);
    trailingSlash = false;
  }
  if (out.length === 0) return { ok: true, path: '/' };
  return { ok: true, path: '/' + out.join('/') + (trailingSlash ? '/' : '') };
}

/** Percent-decodes one segment as UTF-8; undefined on a malformed escape or invalid UTF-8. */
function decodeSegment(segment: string): string | undefined {
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
