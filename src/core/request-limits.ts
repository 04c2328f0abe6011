/** Bounds every protocol adapter applies while reading a request's headers into a RequestView. */

/** Header entries beyond this many are ignored (Envoy's own default limit is 100 headers). */
export const MAX_HEADER_ENTRIES = 200;

/**
 * Header names or values longer than this many bytes are dropped, not truncated: a cut token could
 * never verify anyway, and dropping keeps the work per header bounded.
 */
export const MAX_HEADER_VALUE_BYTES = 64 * 1024;
