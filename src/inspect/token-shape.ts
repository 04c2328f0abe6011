/**
 * What a partner's access token carries, read from its claim shapes: the scopes, permissions and roles
 * and where they live, and which provider issued it. A heuristic for onboarding (`issuer inspect`),
 * never used to decide a request.
 */
import type { Claims } from '../token/parse.js';

/** RFC 9068 §2.1 `typ` of an access token, with or without the media-type prefix. */
export const AT_JWT = /^(application\/)?at\+jwt$/i;

export type ProviderGuess = 'auth0' | 'okta' | 'entra' | 'keycloak' | 'cognito' | 'google' | 'rfc9068' | 'unknown';

export interface ClaimLocation {
  /** Claim path as the config writes it (`a.b`, or a URL-shaped name kept whole). */
  readonly claim: string;
  readonly values: readonly string[];
}

export interface TokenShape {
  readonly scopes?: ClaimLocation;
  readonly permissions?: ClaimLocation;
  readonly roles?: ClaimLocation;
  readonly provider: ProviderGuess;
  /** The claim shapes the guess rests on. */
  readonly because: readonly string[];
}

const strings = (v: unknown): string[] | undefined => {
  if (typeof v === 'string') return v.split(' ').filter((s) => s !== '');
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  return undefined;
};

function at(claims: Claims, path: readonly string[]): unknown {
  let value: unknown = claims;
  for (const name of path) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, name)) return undefined;
    value = (value as Record<string, unknown>)[name];
  }
  return value;
}

function firstFound(claims: Claims, paths: readonly (readonly string[])[]): ClaimLocation | undefined {
  for (const path of paths) {
    const values = strings(at(claims, path));
    if (values !== undefined) return { claim: path.join('.'), values };
  }
  return undefined;
}

/** Namespaced claims (Auth0 Actions): a URL-shaped top-level name ending in `roles`, kept whole. */
function namespacedRoles(claims: Claims): ClaimLocation | undefined {
  for (const name of Object.keys(claims)) {
    if (!/^https?:\/\/.+roles$/i.test(name)) continue;
    const values = strings(claims[name]);
    if (values !== undefined) return { claim: name, values };
  }
  return undefined;
}

function hostOf(iss: unknown): string {
  try {
    return typeof iss === 'string' ? new URL(iss).hostname : '';
  } catch {
    return '';
  }
}

function guessProvider(claims: Claims, typ: string | undefined): { provider: ProviderGuess; because: string[] } {
  const host = hostOf(claims.iss);
  const iss = typeof claims.iss === 'string' ? claims.iss : '';
  const has = (name: string) => Object.hasOwn(claims, name);
  if (host.endsWith('.auth0.com') || (has('permissions') && Object.keys(claims).some((k) => k.startsWith('http'))))
    return { provider: 'auth0', because: ['issuer host *.auth0.com, or `permissions` with namespaced claims'] };
  if (host === 'login.microsoftonline.com' || host === 'sts.windows.net' || (has('tid') && has('ver')))
    return { provider: 'entra', because: ['`tid` and `ver` claims or a Microsoft issuer host'] };
  if (iss.includes('/realms/') || has('realm_access'))
    return { provider: 'keycloak', because: ['`/realms/` in the issuer or a `realm_access` claim'] };
  if (host.startsWith('cognito-idp.') || has('token_use'))
    return { provider: 'cognito', because: ['a cognito-idp issuer or a `token_use` claim'] };
  if (host === 'accounts.google.com' || host.endsWith('.googleapis.com'))
    return { provider: 'google', because: ['a Google issuer host'] };
  if (host.includes('okta') || (has('cid') && has('scp')))
    return { provider: 'okta', because: ['an Okta issuer host or `cid` with `scp`'] };
  if (typ !== undefined && AT_JWT.test(typ) && has('client_id'))
    return { provider: 'rfc9068', because: ['typ at+jwt with `client_id` (RFC 9068 profile)'] };
  return { provider: 'unknown', because: [] };
}

export function describeTokenShape(claims: Claims, typ: string | undefined): TokenShape {
  const scopes = firstFound(claims, [['scope'], ['scp']]);
  const permissions = firstFound(claims, [['permissions']]);
  const roles =
    firstFound(claims, [['roles'], ['realm_access', 'roles'], ['cognito:groups'], ['groups']]) ??
    namespacedRoles(claims);
  const { provider, because } = guessProvider(claims, typ);
  return {
    ...(scopes ? { scopes } : {}),
    ...(permissions ? { permissions } : {}),
    ...(roles ? { roles } : {}),
    provider,
    because,
  };
}
