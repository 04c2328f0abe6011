/**
 * Case folding for `ignore_case` routes, made safe against upstreams that fold differently.
 *
 * claimgate lower-cases with JavaScript's `toLowerCase`. Other routers fold other ways: Java's
 * `equalsIgnoreCase` and Spring compare `toUpperCase`/`toLowerCase` per character (so `ı` U+0131 equals
 * `I` and `ſ` U+017F equals `S`), Unicode full case mapping turns `ß` into `SS` and `ﬁ` into `FI`, and
 * Turkish or Lithuanian locales fold `İ` U+0130 to a plain `i`. A path holding such a character can read
 * as an ASCII route (`/adm%C4%B0n` → `/admin`) to the upstream while it misses that route here.
 *
 * So when a route compares case-insensitively, a request path holding any non-ASCII character whose
 * lower, upper, round-trip or Turkish/Lithuanian folding contains an ASCII letter is refused (400
 * `ERR_PATH_INVALID`). The list below is that set over all of Unicode (test/routes/case-fold.test.ts
 * derives it again from the runtime and fails if it drifts); no character outside the BMP qualifies.
 */

/** Non-ASCII characters that some common case folding maps onto (or into) ASCII letters. */
export const FOLDS_TO_ASCII =
  '\u00cc\u00cd\u00df\u0128\u0130\u0131\u0149\u017f\u01f0\u1e96\u1e97\u1e98\u1e99\u1e9a\u1e9e\u212a' +
  '\ufb00\ufb01\ufb02\ufb03\ufb04\ufb05\ufb06';

const FOLDS_TO_ASCII_RE = new RegExp(`[${FOLDS_TO_ASCII}]`);

/** Whether a path holds a character that could fold onto ASCII in some upstream's case-insensitive match. */
export function hasAmbiguousFolding(path: string): boolean {
  // Fast exit: an ASCII-only path has nothing to disagree about.
  for (let i = 0; i < path.length; i++) {
    if (path.charCodeAt(i) >= 0x80) return FOLDS_TO_ASCII_RE.test(path);
  }
  return false;
}
