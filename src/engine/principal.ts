/**
 * One principal per verified token: who it is and what it was granted, read through the issuer's
 * profile, so route requirements and identity headers are written once whatever the partner.
 *
 * The issuer-qualified subject is `<issuer name>|<sub>`, or `<issuer name>/<tenant>|<sub>` for a
 * `{tenant}` template issuer. Issuer names (`[a-z0-9_.-]`) and tenant ids (`[A-Za-z0-9.-]`) contain
 * neither `/` nor `|`, so everything before the first `|` is the issuer part and everything after it
 * is the `sub` verbatim: two tokens get the same qualified subject only when their issuer entry (and
 * tenant) and their `sub` are the same. No escaping is needed.
 */
import type { ClaimField, ClaimPathSpec, PrincipalField } from '../config/profiles.js';
import { readClaimValue, SCOPE_STRING, SCOPE_TOKEN, type ClaimValue } from './claim-values.js';
import { compileClaimPath, splitClaimPath, UNREADABLE, type ClaimReader, type Claims } from './claims.js';

export interface Principal {
  readonly subject: string;
  readonly qualified_subject: string;
  /** Configured issuer name. */
  readonly issuer: string;
  readonly scopes: readonly string[];
  readonly roles: readonly string[];
  readonly permissions: readonly string[];
  readonly groups: readonly string[];
  readonly tenant?: string;
  readonly email?: string;
  readonly client_id?: string;
  /**
   * Fields whose claim is present but cannot be read under the one rule for claim values (P17,
   * engine/claim-values.ts): an unusable string or element, another JSON type, an ambiguous path.
   * Such a field is empty here, a requirement on it cannot tell (fails, also under `not`), and a
   * `principal:` header for it is removed. Absent when every field was readable.
   */
  readonly unreadable?: readonly ClaimField[];
}

/** Compiled claim readers of one issuer: how its tokens become principals. */
export type PrincipalReader = (claims: Claims, subject: string, tenantQualifier: string | undefined) => Principal;

const EMPTY: readonly string[] = Object.freeze([]);
const hasOwn = Object.prototype.hasOwnProperty;

/**
 * Every claim is read by the one rule for claim values (engine/claim-values.ts, `separator` being
 * `upstream.array_separator`), the same rule route `claim:` checks and `claim:` headers use, so a role
 * like `"user,admin"` or `"admin\t"` is neither matched nor forwarded.
 * - scopes: the first path present wins (a present `scope` is authoritative even with a wrong type);
 *   a string must follow RFC 6749 §3.3 (scope-tokens separated by single spaces) and is split on them;
 *   an array (Okta's `scp`) must hold scope-tokens only, except in a claim named `scope`, which
 *   RFC 9068 §2.2.3 makes a string.
 * - roles, groups: the union of every path (Keycloak realm and client roles); a string is one value.
 * - permissions: the union of every path; arrays only (Auth0's `permissions` is an array).
 * - tenant, email, client_id: the first path holding a non-empty string.
 * A present value of another shape, or an unusable one, makes the field unreadable (see `unreadable`);
 * null and absent grant nothing.
 */
export function compilePrincipalReader(
  issuerName: string,
  paths: Readonly<Record<ClaimField, readonly ClaimPathSpec[]>>,
  separator = ',',
): PrincipalReader {
  const readers = (field: ClaimField): readonly Reader[] => paths[field].map(compileReader);
  const scopes = readers('scopes');
  const roles = readers('roles');
  const permissions = readers('permissions');
  const groups = readers('groups');
  const tenant = readers('tenant');
  const email = readers('email');
  const clientId = readers('client_id');
  return (claims, subject, tenantQualifier) => {
    let unreadable: ClaimField[] | undefined;
    const list = (field: ClaimField, read: readonly string[] | undefined): readonly string[] => {
      if (read !== undefined) return read;
      (unreadable ??= []).push(field);
      return EMPTY;
    };
    const principal: Record<string, unknown> = {
      subject,
      qualified_subject: qualifiedSubject(issuerName, tenantQualifier, subject),
      issuer: issuerName,
      scopes: list('scopes', firstPresentScopes(scopes, claims, separator)),
      roles: list('roles', unionList(roles, claims, separator, true)),
      permissions: list('permissions', unionList(permissions, claims, separator, false)),
      groups: list('groups', unionList(groups, claims, separator, true)),
    };
    for (const [field, fieldReaders] of [
      ['tenant', tenant],
      ['email', email],
      ['client_id', clientId],
    ] as const) {
      const v = firstString(fieldReaders, claims, separator);
      if (v === null) (unreadable ??= []).push(field);
      else if (v !== undefined) principal[field] = v;
    }
    if (unreadable !== undefined) principal.unreadable = Object.freeze(unreadable);
    return principal as unknown as Principal;
  };
}

export function qualifiedSubject(issuerName: string, tenant: string | undefined, subject: string): string {
  return tenant === undefined ? `${issuerName}|${subject}` : `${issuerName}/${tenant}|${subject}`;
}

/** Reads a principal field for a header: strings as they are, lists as lists, absent as undefined. */
export function principalField(principal: Principal, field: PrincipalField): string | readonly string[] | undefined {
  const value = principal[field];
  if (Array.isArray(value) && value.length === 0) return undefined;
  return value;
}

interface Reader {
  readonly read: ClaimReader;
  /** The claim is named `scope`: a space-delimited string only. */
  readonly stringOnly: boolean;
  /** Whether the path's last name is present (own property) in its parent object. */
  readonly present: (claims: Claims) => boolean;
}

function compileReader(path: ClaimPathSpec): Reader {
  const read = compileClaimPath(path);
  const segments = splitClaimPath(path);
  const last = segments[segments.length - 1]!;
  const parent = segments.length === 1 ? (c: Claims) => c : compileClaimPath(segments.slice(0, -1));
  return {
    read,
    stringOnly: last === 'scope',
    present: (claims) => {
      if (read(claims) === UNREADABLE) return true;
      const p = parent(claims);
      return typeof p === 'object' && p !== null && !Array.isArray(p) && hasOwn.call(p, last);
    },
  };
}

/** Read under the one rule; UNREADABLE marks an ambiguous dotted path (present, unusable). */
function valueOf(r: Reader, claims: Claims, separator: string): ClaimValue {
  return readClaimValue(r.read(claims), separator);
}

/** A list of strings or one string (`acceptString`), empty strings dropped; undefined when unreadable. */
function stringsOf(value: ClaimValue, acceptString: boolean): readonly string[] | undefined {
  if (value.kind === 'absent') return EMPTY;
  if (value.kind === 'scalar' && acceptString && typeof value.value === 'string')
    return value.value === '' ? EMPTY : [value.value];
  if (value.kind === 'list' && value.values.every((v) => typeof v === 'string'))
    return (value.values as readonly string[]).filter((v) => v !== '');
  return undefined;
}

/** The granted scopes of the first present path, or undefined when they cannot be read (RFC 6749 §3.3). */
function firstPresentScopes(
  readers: readonly Reader[],
  claims: Claims,
  separator: string,
): readonly string[] | undefined {
  for (const r of readers) {
    if (!r.present(claims)) continue;
    const value = valueOf(r, claims, separator);
    if (value.kind === 'absent') return EMPTY;
    if (value.kind === 'scalar' && typeof value.value === 'string' && SCOPE_STRING.test(value.value))
      return value.value.split(' ');
    if (
      !r.stringOnly &&
      value.kind === 'list' &&
      value.values.every((e) => typeof e === 'string' && SCOPE_TOKEN.test(e))
    )
      return value.values as readonly string[];
    return undefined;
  }
  return EMPTY;
}

function unionList(
  readers: readonly Reader[],
  claims: Claims,
  separator: string,
  acceptString: boolean,
): readonly string[] | undefined {
  if (readers.length === 1) return stringsOf(valueOf(readers[0]!, claims, separator), acceptString);
  let out: string[] | undefined;
  for (const r of readers) {
    const values = stringsOf(valueOf(r, claims, separator), acceptString);
    if (values === undefined) return undefined;
    for (const v of values) {
      out ??= [];
      if (!out.includes(v)) out.push(v);
    }
  }
  return out ?? EMPTY;
}

/** The first non-empty usable string; null when the first present value is of another shape or unusable. */
function firstString(readers: readonly Reader[], claims: Claims, separator: string): string | undefined | null {
  for (const r of readers) {
    const value = valueOf(r, claims, separator);
    if (value.kind === 'absent') continue;
    if (value.kind !== 'scalar' || typeof value.value !== 'string') return null;
    if (value.value !== '') return value.value;
  }
  return undefined;
}
