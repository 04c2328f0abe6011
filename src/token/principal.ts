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
import { compileClaimPath, splitClaimPath, type ClaimReader, type Claims } from './claims.js';

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
}

/** Compiled claim readers of one issuer: how its tokens become principals. */
export type PrincipalReader = (claims: Claims, subject: string, tenantQualifier: string | undefined) => Principal;

const EMPTY: readonly string[] = Object.freeze([]);

/**
 * - scopes: the first path present wins (a present `scope` is authoritative even with a wrong type,
 *   as before profiles); a string is split on spaces (RFC 6749 §3.3), an array keeps its strings
 *   (Okta's `scp`), except in a claim named `scope`, which RFC 9068 §2.2.3 makes a string.
 * - roles, groups: the union of every path (Keycloak realm and client roles); a string is one value.
 * - permissions: the union of every path; arrays only (Auth0's `permissions` is an array).
 * - tenant, email, client_id: the first path holding a non-empty string.
 * Values of any other JSON type grant nothing.
 */
export function compilePrincipalReader(
  issuerName: string,
  paths: Readonly<Record<ClaimField, readonly ClaimPathSpec[]>>,
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
    const principal: Record<string, unknown> = {
      subject,
      qualified_subject: qualifiedSubject(issuerName, tenantQualifier, subject),
      issuer: issuerName,
      scopes: firstPresentList(scopes, claims),
      roles: unionList(roles, claims, true),
      permissions: unionList(permissions, claims, false),
      groups: unionList(groups, claims, true),
    };
    const t = firstString(tenant, claims);
    if (t !== undefined) principal.tenant = t;
    const e = firstString(email, claims);
    if (e !== undefined) principal.email = e;
    const c = firstString(clientId, claims);
    if (c !== undefined) principal.client_id = c;
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
      const p = parent(claims);
      return typeof p === 'object' && p !== null && !Array.isArray(p) && Object.hasOwn(p, last);
    },
  };
}

function stringsOf(value: unknown, string: 'split' | 'one' | 'none', array: boolean): readonly string[] {
  if (typeof value === 'string') {
    if (string === 'none' || value === '') return EMPTY;
    return string === 'one' ? [value] : value.split(' ').filter((s) => s !== '');
  }
  if (array && Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string' && v !== '');
  return EMPTY;
}

function firstPresentList(readers: readonly Reader[], claims: Claims): readonly string[] {
  for (const r of readers) if (r.present(claims)) return stringsOf(r.read(claims), 'split', !r.stringOnly);
  return EMPTY;
}

function unionList(readers: readonly Reader[], claims: Claims, acceptString: boolean): readonly string[] {
  const string = acceptString ? 'one' : 'none';
  if (readers.length === 1) return stringsOf(readers[0]!.read(claims), string, true);
  let out: string[] | undefined;
  for (const r of readers) {
    for (const v of stringsOf(r.read(claims), string, true)) {
      out ??= [];
      if (!out.includes(v)) out.push(v);
    }
  }
  return out ?? EMPTY;
}

function firstString(readers: readonly Reader[], claims: Claims): string | undefined {
  for (const r of readers) {
    const v = r.read(claims);
    if (typeof v === 'string' && v !== '') return v;
  }
  return undefined;
}
