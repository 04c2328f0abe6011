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

/**
 * A claim that is there in some form but cannot be read as the path says: a dotted path (`a.b`) where
 * the token also has a member literally named `a.b` (which one did the author mean?), or a step through
 * something that is not an object (`a` is a string or an array). Checks treat it as "cannot tell" and
 * fail closed, also under `not`; it is never forwarded (docs/configuration.md, "Claim values").
 */
export const UNREADABLE: unique symbol = Symbol('unreadable claim');

/** Reads one claim (possibly nested) from a payload; `undefined` when it is not there. */
export type ClaimReader = (claims: Claims) => unknown;

const hasOwn = Object.prototype.hasOwnProperty;

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
  return hasOwn.call(value, name) ? (value as Record<string, unknown>)[name] : undefined;
}

/**
 * Compiles a claim path into a reader. The reader reads own properties only, does not index arrays,
 * never throws and never allocates. It returns UNREADABLE for a step through a non-object (an array,
 * a string, …) and, for a path written as a dotted string, when some object on the way also has a
 * member whose name is the rest of the path joined with dots (`{"a.b": …}` next to `a.b`).
 */
export function compileClaimPath(path: string | readonly string[]): ClaimReader {
  const segments = splitClaimPath(path);
  if (segments.length === 1) {
    const name = segments[0]!;
    return (claims) => ownMember(claims, name);
  }
  const dotted = typeof path === 'string' && segments.length > 1;
  // For a dotted string path, the other names it could have meant at each step: the rest joined with
  // dots (`a.b.c` at the root could also be a member `a.b` or `a.b.c`). Explicit segment lists need none.
  const joinedTails = dotted
    ? segments.map((_, i) => segments.slice(i + 1).map((__, k) => segments.slice(i, i + k + 2).join('.')))
    : [];
  return (claims) => {
    let value: unknown = claims;
    for (let i = 0; i < segments.length; i++) {
      if (dotted && i < segments.length - 1 && isPlainObject(value)) {
        for (const joined of joinedTails[i]!) if (hasOwn.call(value, joined)) return UNREADABLE;
      }
      if (value !== claims && !isPlainObject(value)) return value === null ? undefined : UNREADABLE;
      value = ownMember(value, segments[i]!);
      if (value === undefined) return undefined;
    }
    return value;
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
