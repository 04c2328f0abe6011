/**
 * Claim paths, compiled once into readers that walk a verified payload.
 *
 * Why own properties only: the payload is attacker-influenced JSON. A plain property read would
 * climb the prototype chain, so `constructor` would yield `Object` and `toString` a function, and a
 * `not`/`exists: false` requirement could be satisfied or defeated by a name the token never carried.
 * `JSON.parse` stores a `"__proto__"` member as an ordinary own data property, so it is readable
 * exactly when the token really contains it.
 */

/** A verified JWT payload: a parsed JSON object, never mutated. */
export type Claims = Readonly<Record<string, unknown>>;

/** Reads one claim (possibly nested) from a payload; `undefined` when it is not there. */
export type ClaimReader = (claims: Claims) => unknown;

/**
 * Splits a configured claim path into property names.
 * A string containing `://` is one namespaced claim name (Auth0: `https://example.com/roles`);
 * any other string is split on `.` (`realm_access.roles`); an array is taken as explicit names.
 * Throws at compile time on an empty name (`a..b`, `.a`): such a path could never match, and a
 * requirement like `exists: false` would then silently always pass.
 */
export function splitClaimPath(path: string | readonly string[]): readonly string[] {
  const segments = typeof path === 'string' ? (path.includes('://') ? [path] : path.split('.')) : [...path];
  if (segments.length === 0 || segments.some((s) => s.length === 0)) {
    throw new Error(`claim path ${JSON.stringify(path)} has an empty claim name`);
  }
  return Object.freeze(segments);
}

/** One step of a walk: an own property of a plain (non-array) object, else undefined. */
function ownMember(value: unknown, name: string): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  return Object.hasOwn(value, name) ? (value as Record<string, unknown>)[name] : undefined;
}

/**
 * Compiles a claim path into a reader. The reader reads own properties only, does not index arrays
 * (a name applied to an array yields undefined), never throws and never allocates.
 */
export function compileClaimPath(path: string | readonly string[]): ClaimReader {
  const segments = splitClaimPath(path);
  if (segments.length === 1) {
    const name = segments[0]!;
    return (claims) => ownMember(claims, name);
  }
  return (claims) => {
    let value: unknown = claims;
    for (let i = 0; i < segments.length; i++) {
      value = ownMember(value, segments[i]!);
      if (value === undefined) return undefined;
    }
    return value;
  };
}
