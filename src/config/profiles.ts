/**
 * Provider profiles: what each identity provider really puts in its access tokens. A profile sets
 * the accepted `typ` header values, the claim the audience is read from, an optional claim that
 * marks a token as an access token, and where each principal field lives. Every setting can be
 * overridden per issuer (`token_type`, `audience_claim`, `access_token_claim`, `roles_claim`,
 * `claims`). The facts and their sources are in docs/providers.md.
 */

export const PROFILE_NAMES = ['rfc9068', 'auth0', 'okta', 'entra', 'keycloak', 'cognito', 'google'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

/** Principal fields an identity header can carry (`principal:`). */
export const PRINCIPAL_FIELDS = [
  'subject',
  'qualified_subject',
  'issuer',
  'scopes',
  'roles',
  'permissions',
  'groups',
  'tenant',
  'email',
  'client_id',
] as const;
export type PrincipalField = (typeof PRINCIPAL_FIELDS)[number];

/** Principal fields read from claims (the rest come from verification itself). */
export const CLAIM_FIELDS = ['scopes', 'roles', 'permissions', 'groups', 'tenant', 'email', 'client_id'] as const;
export type ClaimField = (typeof CLAIM_FIELDS)[number];

/** A claim path as the config writes it: `a.b`, a `://` name kept whole, or explicit segments. */
export type ClaimPathSpec = string | readonly string[];

/** Stands for each configured audience in a path segment (Keycloak's `resource_access.<client>`). */
export const EACH_AUDIENCE = '\u0000audience';

export interface Profile {
  /** `typ` values accepted besides `at+jwt` (always accepted: RFC 9068 types access tokens so). */
  readonly alsoTyp: { readonly jwt: boolean; readonly none: boolean };
  readonly audienceClaim: 'aud' | 'client_id';
  /** A claim that must hold this value, so ID or refresh tokens of the same issuer are refused. */
  readonly accessTokenClaim?: { readonly path: ClaimPathSpec; readonly equals: string };
  readonly claims: Readonly<Record<ClaimField, readonly ClaimPathSpec[]>>;
}

const NONE: readonly ClaimPathSpec[] = [];

export const PROFILES: Readonly<Record<ProfileName, Profile>> = {
  rfc9068: {
    alsoTyp: { jwt: false, none: false },
    audienceClaim: 'aud',
    claims: {
      scopes: ['scope', 'scp'],
      roles: ['roles'],
      permissions: ['permissions'],
      groups: ['groups'],
      tenant: NONE,
      email: ['email'],
      client_id: ['client_id', 'azp'],
    },
  },
  auth0: {
    alsoTyp: { jwt: true, none: false },
    audienceClaim: 'aud',
    claims: {
      scopes: ['scope'],
      roles: NONE,
      permissions: ['permissions'],
      groups: NONE,
      tenant: ['org_id'],
      email: NONE,
      client_id: ['client_id', 'azp'],
    },
  },
  okta: {
    alsoTyp: { jwt: false, none: true },
    audienceClaim: 'aud',
    claims: {
      scopes: ['scp'],
      roles: NONE,
      permissions: NONE,
      groups: ['groups'],
      tenant: NONE,
      email: NONE,
      client_id: ['cid'],
    },
  },
  entra: {
    alsoTyp: { jwt: true, none: false },
    audienceClaim: 'aud',
    claims: {
      scopes: ['scp'],
      roles: ['roles'],
      permissions: NONE,
      groups: ['groups'],
      tenant: ['tid'],
      email: ['email'],
      client_id: ['azp', 'appid'],
    },
  },
  keycloak: {
    alsoTyp: { jwt: true, none: false },
    audienceClaim: 'aud',
    accessTokenClaim: { path: 'typ', equals: 'Bearer' },
    claims: {
      scopes: ['scope'],
      roles: ['realm_access.roles', ['resource_access', EACH_AUDIENCE, 'roles']],
      permissions: NONE,
      groups: ['groups'],
      tenant: NONE,
      email: ['email'],
      client_id: ['azp'],
    },
  },
  cognito: {
    alsoTyp: { jwt: false, none: true },
    audienceClaim: 'client_id',
    accessTokenClaim: { path: 'token_use', equals: 'access' },
    claims: {
      scopes: ['scope'],
      roles: ['cognito:groups'],
      permissions: NONE,
      groups: ['cognito:groups'],
      tenant: NONE,
      email: NONE,
      client_id: ['client_id'],
    },
  },
  google: {
    alsoTyp: { jwt: true, none: false },
    audienceClaim: 'aud',
    claims: {
      scopes: ['scope'],
      roles: NONE,
      permissions: NONE,
      groups: NONE,
      tenant: ['hd'],
      email: ['email'],
      client_id: ['azp'],
    },
  },
};

/** The per-issuer settings a profile makes, as the config may override them. */
export interface ProfileOverrides {
  readonly profile: ProfileName;
  readonly audiences: readonly string[];
  readonly token_type?: 'at+jwt' | 'legacy' | undefined;
  readonly audience_claim?: 'aud' | 'client_id' | undefined;
  readonly access_token_claim?: { readonly path: ClaimPathSpec; readonly equals: string } | false | undefined;
  readonly roles_claim?: ClaimPathSpec | undefined;
  readonly claims?: Partial<Record<ClaimField, readonly ClaimPathSpec[] | undefined>> | undefined;
}

/** A profile with the issuer's overrides applied and audience placeholders expanded. */
export function resolveProfile(config: ProfileOverrides): Profile {
  const base = PROFILES[config.profile];
  const claims = {} as Record<ClaimField, readonly ClaimPathSpec[]>;
  for (const field of CLAIM_FIELDS) {
    const paths =
      config.claims?.[field] ??
      (field === 'roles' && config.roles_claim !== undefined ? [config.roles_claim] : base.claims[field]);
    claims[field] = paths.flatMap((p) => expandAudience(p, config.audiences));
  }
  const alsoTyp =
    config.token_type === undefined
      ? base.alsoTyp
      : { jwt: config.token_type === 'legacy', none: config.token_type === 'legacy' };
  const accessTokenClaim =
    config.access_token_claim === undefined ? base.accessTokenClaim : config.access_token_claim || undefined;
  return {
    alsoTyp,
    audienceClaim: config.audience_claim ?? base.audienceClaim,
    ...(accessTokenClaim === undefined ? {} : { accessTokenClaim }),
    claims,
  };
}

function expandAudience(path: ClaimPathSpec, audiences: readonly string[]): ClaimPathSpec[] {
  if (typeof path === 'string' || !path.includes(EACH_AUDIENCE)) return [path];
  return audiences.map((aud) => path.map((segment) => (segment === EACH_AUDIENCE ? aud : segment)));
}
