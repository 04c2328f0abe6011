/**
 * The configuration schema: one source for validation, defaults, TypeScript types and the published
 * JSON Schema (`claimgate schema`). Every object is strict, so an unknown or misspelled key is an
 * error rather than a silently ignored setting.
 */
import { z } from 'zod';
import { ASYMMETRIC_ALGORITHMS } from '../core/algorithms.js';
import { PRINCIPAL_FIELDS, PROFILE_NAMES, PROFILES } from './profiles.js';
import { parseCel } from './cel.js';
import { ADMIN_BOUNDS, GRPC_BOUNDS, HTTP_BOUNDS, type HttpListenerBounds } from '../net/listener-bounds.js';

const nonEmpty = (what: string) => z.string().min(1, { error: `must be a non-empty ${what}` });

/** `host:port`, `[v6]:port`; port 0 picks a free port (used by tests). */
const listenAddress = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, {
    error: 'must be host:port, e.g. 127.0.0.1:9001 or [::1]:9001',
  })
  .refine((a) => Number(a.slice(a.lastIndexOf(':') + 1)) <= 65535, {
    error: (issue) =>
      `port must be 0-65535 (found ${String(issue.input).slice(String(issue.input).lastIndexOf(':') + 1)})`,
    abort: true,
  });

export const headerName = z
  .string()
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: 'must be a valid HTTP header name' })
  .transform((s) => s.toLowerCase());

/** A claim path: `a.b.c`, a URL-shaped claim name kept whole (`https://example.com/roles`), or explicit segments. */
export const claimPath = z.union([nonEmpty('claim path'), z.array(nonEmpty('claim name')).min(1)], {
  error: 'must be a claim path string (a.b.c) or a list of claim names',
});

const oneOrMany = (what: string) =>
  z.union([nonEmpty(what), z.array(nonEmpty(what)).min(1, { error: `must list at least one ${what}` })], {
    error: `must be a ${what} or a list of them`,
  });

/** A scope is one space-free token (RFC 6749 §3.3): "a b" in one entry can never be granted. */
const oneScope = nonEmpty('scope').refine((s) => !/\s/.test(s), {
  error: (issue) =>
    `must be one scope without spaces (found ${JSON.stringify(issue.input)}); list each scope separately: [${String(issue.input).split(/\s+/).filter(Boolean).join(', ')}]`,
});
const scopeList = z.union([oneScope, z.array(oneScope).min(1, { error: 'must list at least one scope' })], {
  error: 'must be a scope or a list of them',
});

/**
 * An `iss` value: any string (RFC 7519 StringOrURI), but one that looks like a URL missing its scheme
 * (`partner.okta.com/oauth2/default`) can never equal what a provider puts in its tokens.
 */
const issuerValue = nonEmpty('issuer URL').refine((v) => v.includes(':') || !/[./]/.test(v), {
  error: (issue) =>
    `must be the exact issuer URL with its scheme (found ${JSON.stringify(issue.input)}; did you mean "https://${String(issue.input)}"?)`,
});

const tokenLocation = z.union(
  [
    z.strictObject({
      header: headerName,
      /** Auth scheme in front of the token; `Bearer` for `Authorization`. Omit for a bare-token header. */
      scheme: z
        .string()
        .regex(/^[A-Za-z][A-Za-z0-9-]*$/)
        .optional(),
    }),
    z.strictObject({
      cookie: z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: 'must be a valid cookie name' }),
    }),
  ],
  { error: 'must be {header, scheme?} or {cookie}' },
);

export const DEFAULT_TOKEN_LOCATIONS = [{ header: 'authorization', scheme: 'Bearer' }] as const;

/** Sender-constrained tokens (docs/binding.md): `required`, `allowed` (verified when present) or `none`. */
export const BINDING_MODES = ['required', 'allowed', 'none'] as const;
export type BindingMode = (typeof BINDING_MODES)[number];
const bindingMode = z.enum(BINDING_MODES, { error: `must be one of ${BINDING_MODES.join(', ')}` });

/** An IP address or CIDR (`10.0.0.0/8`, `::1/128`). */
const cidrEntry = z.string().refine(
  (entry) => {
    const [address = '', prefix, ...extra] = entry.split('/');
    if (extra.length > 0 || (prefix !== undefined && !/^\d{1,3}$/.test(prefix))) return false;
    const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
    if (v4) return v4.slice(1).every((o) => Number(o) <= 255 && String(Number(o)) === o) && Number(prefix ?? 32) <= 32;
    if (!address.includes(':') || !/^[0-9A-Fa-f:.]+$/.test(address)) return false;
    try {
      new URL(`http://[${address}]/`);
    } catch {
      return false;
    }
    return Number(prefix ?? 128) <= 128;
  },
  { error: 'must be an IP address or CIDR, e.g. 10.0.0.0/8 or ::1/128' },
);

/** Proof algorithms accepted by default: what DPoP clients and IdPs advertise (asymmetric only). */
export const DEFAULT_DPOP_ALGORITHMS = ['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA', 'Ed25519'] as const;

const bindingSettings = z.strictObject({
  dpop: z
    .strictObject({
      /** Algorithms a DPoP proof may use; `none` and HMAC are never accepted. */
      algorithms: z
        .array(z.enum(ASYMMETRIC_ALGORITHMS, { error: `must be one of ${ASYMMETRIC_ALGORITHMS.join(', ')}` }))
        .min(1)
        .default([...DEFAULT_DPOP_ALGORITHMS]),
      /** How old a proof's iat may be (RFC 9449 §11.1); the replay memory keeps each jti this long plus twice the skew. */
      proof_max_age_seconds: z.number().int().min(1).max(600).default(60),
      /** How far a proof's iat may be ahead of (or behind, beyond the max age) this server's clock. */
      clock_skew_seconds: z.number().int().min(0).max(300).default(5),
      /** Bound of the jti replay memory (per process); when it is full of live proofs new proofs get 503. */
      replay_cache_entries: z.number().int().min(100).max(10_000_000).default(100_000),
      nonce: z
        .strictObject({
          /** Every proof must carry a current server nonce (RFC 9449 §9); a missing one gets use_dpop_nonce. */
          required: z.boolean().default(false),
          /** Nonce window; a nonce is accepted for one to two windows. */
          lifetime_seconds: z.number().int().min(10).max(3600).default(300),
          /** File with a shared secret (≥ 32 bytes) so that every replica accepts the same nonces. */
          secret_file: nonEmpty('file path').optional(),
        })
        .prefault({}),
    })
    .prefault({}),
  certificate: z
    .strictObject({
      /** Where the client certificate may come from (docs/binding.md); never from a header a client sets. */
      sources: z
        .array(z.enum(['peer_certificate', 'tls_connection', 'xfcc']))
        .min(1)
        .default(['peer_certificate']),
      /** Peers (gRPC caller or HTTP peer) whose x-forwarded-client-cert is read; required with xfcc. */
      xfcc_trusted_proxies: z.array(cidrEntry).min(1).optional(),
    })
    .superRefine((c, ctx) => {
      if (c.sources.includes('xfcc') && c.xfcc_trusted_proxies === undefined)
        ctx.addIssue({
          code: 'custom',
          message: 'lists xfcc: set xfcc_trusted_proxies (a client could otherwise set the header itself)',
          path: ['sources'],
        });
    })
    .prefault({}),
});

const keysPolicy = z.strictObject({
  /**
   * Issuer-wide minimum seconds between two on-demand refetches (an unknown `kid`, or a signature
   * failure under a known one). Bounds IdP traffic under a flood of random kids, and is also the
   * longest a newly published key waits for a refetch under such a flood (docs/keys.md).
   */
  cooldown_seconds: z.number().min(0).max(3600).default(2),
  /**
   * Per kid: a kid a refetch did not find triggers no other refetch for this long (so one hot unknown
   * kid cannot use every issuer-wide slot), yet is re-checked within seconds once its key is published.
   */
  kid_cooldown_seconds: z.number().min(0).max(3600).default(5),
  /** Key set TTL bounds; the IdP's `Cache-Control: max-age` is clamped into them. */
  min_refresh_seconds: z.number().min(1).max(86400).default(60),
  max_refresh_seconds: z.number().min(1).max(86400).default(600),
  /** How long the last good keys keep verifying while refreshes fail. */
  max_stale_seconds: z
    .number()
    .min(0)
    .max(7 * 86400)
    .default(6 * 3600),
  /** Timeout of one HTTP fetch (discovery or JWKS). */
  fetch_timeout_ms: z.number().int().min(50).max(60000).default(2000),
  /** Largest accepted discovery or JWKS body. */
  max_response_bytes: z
    .number()
    .int()
    .min(1024)
    .max(16 * 1024 * 1024)
    .default(512 * 1024),
});

/** One or more claim paths; list fields take the union, single fields the first present. */
const claimPaths = z.array(claimPath).min(1, { error: 'must list at least one claim path' });

const principalClaims = z.strictObject({
  scopes: claimPaths.optional(),
  roles: claimPaths.optional(),
  permissions: claimPaths.optional(),
  groups: claimPaths.optional(),
  tenant: claimPaths.optional(),
  email: claimPaths.optional(),
  client_id: claimPaths.optional(),
});

const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;

/** claimgate's own client credentials at an IdP endpoint; the secret or key is read from a file or env var. */
const clientAuthFields = {
  client_id: nonEmpty('client id'),
  auth_method: z
    .enum(CLIENT_AUTH_METHODS, { error: `must be one of ${CLIENT_AUTH_METHODS.join(', ')}` })
    .default('client_secret_basic'),
  /** File holding the client secret (one trailing newline ignored); re-read on reload. */
  client_secret_file: nonEmpty('file path').optional(),
  /** Environment variable holding the client secret. */
  client_secret_env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'must be an environment variable name' })
    .optional(),
  /** PEM private key for private_key_jwt (RSA, EC P-256/P-384 or Ed25519). */
  private_key_file: nonEmpty('file path').optional(),
  /** `kid` put in private_key_jwt assertions. */
  private_key_kid: nonEmpty('key id').optional(),
};

function checkClientAuth(
  auth: { auth_method: string; client_secret_file?: string; client_secret_env?: string; private_key_file?: string },
  ctx: z.RefinementCtx,
): void {
  const secrets = [auth.client_secret_file, auth.client_secret_env].filter((v) => v !== undefined).length;
  if (auth.auth_method === 'private_key_jwt') {
    if (auth.private_key_file === undefined)
      ctx.addIssue({ code: 'custom', message: 'private_key_jwt needs private_key_file', path: ['private_key_file'] });
    if (secrets > 0)
      ctx.addIssue({ code: 'custom', message: 'private_key_jwt uses no client secret', path: ['auth_method'] });
  } else {
    if (secrets !== 1)
      ctx.addIssue({
        code: 'custom',
        message: `${auth.auth_method} needs exactly one of client_secret_file, client_secret_env`,
        path: ['auth_method'],
      });
    if (auth.private_key_file !== undefined)
      ctx.addIssue({ code: 'custom', message: 'is only used with private_key_jwt', path: ['private_key_file'] });
  }
}

/** RFC 7662 introspection of this issuer's opaque tokens (RFC 9701 JWT responses optional). */
const introspectionSchema = z
  .strictObject({
    /** Introspection endpoint; default: `introspection_endpoint` from the issuer's discovery document. */
    endpoint: z.url({ error: 'must be an absolute URL' }).optional(),
    ...clientAuthFields,
    /** `token_type_hint` sent with each request; false sends none. */
    token_type_hint: z.union([z.literal('access_token'), z.literal(false)]).default('access_token'),
    /** Ask for an RFC 9701 signed JWT response, verified with this issuer's keys. */
    jwt_response: z.boolean().default(false),
    /** Refuse an active answer without `aud` (RFC 7662 makes it optional). */
    require_audience: z.boolean().default(true),
    /** Timeout of one introspection call (never longer than server.check_deadline_ms). */
    timeout_ms: z.number().int().min(10).max(10000).default(1000),
    /** Introspection calls in flight toward this endpoint at once. */
    max_concurrent: z.number().int().min(1).max(10000).default(32),
    /** Longest an answer is reused (never past the token's exp); a revocation takes up to this long. */
    max_cache_ttl_seconds: z.number().min(0).max(86400).default(30),
    max_cache_entries: z.number().int().min(0).max(10_000_000).default(100_000),
    /** How long past its expiry a cached answer may stand in while the endpoint fails; 0 = never. */
    stale_if_error_seconds: z.number().min(0).max(3600).default(0),
  })
  .superRefine(checkClientAuth);

export const issuerSchema = z
  .strictObject({
    /** Short name used in logs, metrics and route requirements. */
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, { error: 'must be a short lower-case name ([a-z0-9_.-], up to 63 chars)' }),
    /** Exact `iss` value; compared byte for byte (Auth0 issuers end in `/`). */
    issuer: issuerValue,
    /** Key source: OIDC discovery (default when neither jwks_uri nor jwks_file is set). */
    discovery: z.boolean().optional(),
    jwks_uri: z.url({ error: 'must be an absolute URL' }).optional(),
    jwks_file: nonEmpty('file path').optional(),
    audiences: z
      .array(nonEmpty('audience'), {
        error: (issue) =>
          issue.input === undefined
            ? 'must list at least one audience'
            : typeof issue.input === 'string'
              ? `must be a list (found the string ${JSON.stringify(issue.input)}; write [${issue.input}])`
              : 'must be a list of audiences',
      })
      .min(1, { error: 'must list at least one audience' }),
    algorithms: z
      .array(
        z.enum(ASYMMETRIC_ALGORITHMS, {
          error: `must be one of ${ASYMMETRIC_ALGORITHMS.join(', ')} (asymmetric only)`,
        }),
      )
      .min(1)
      .default(['RS256']),
    /** What this provider puts in its access tokens (typ, claim names); see docs/providers.md. */
    profile: z.enum(PROFILE_NAMES, { error: `must be one of ${PROFILE_NAMES.join(', ')}` }).default('rfc9068'),
    /** Several exact `iss` values sharing this entry's keys (Auth0 custom domains, Google's two forms). */
    /** Google's tokens carry `accounts.google.com` without a scheme too: aliases take any exact value. */
    issuer_aliases: z.array(nonEmpty('issuer URL')).min(1).optional(),
    /** The tenants a `{tenant}` issuer template allows (Entra ID); required with a template. */
    tenants: z
      .array(
        z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.-]{0,99}$/, {
          error: 'must be a tenant id (letters, digits, dots, dashes), e.g. a directory GUID',
        }),
      )
      .min(1)
      .optional(),
    /** Readiness: the replica is not ready while a required issuer has no usable keys. */
    required: z.boolean().default(false),
    /** `at+jwt` requires RFC 9068 typing; `legacy` also accepts `JWT` or no `typ`. Default: the profile's. */
    token_type: z.enum(['at+jwt', 'legacy']).optional(),
    /** Claim the audience check reads: `aud`, or `client_id` (Cognito access tokens have no `aud`). */
    audience_claim: z.enum(['aud', 'client_id']).optional(),
    /** A claim that marks an access token (Cognito `token_use: access`, Keycloak `typ: Bearer`); false = none. */
    access_token_claim: z
      .union([z.strictObject({ path: claimPath, equals: nonEmpty('value') }), z.literal(false)], {
        error: 'must be {path, equals} or false',
      })
      .optional(),
    /** Where the principal's fields live in this issuer's tokens; each overrides the profile's. */
    claims: principalClaims.optional(),
    clock_skew_seconds: z.number().min(0).max(600).default(60),
    max_token_age_seconds: z.number().positive().optional(),
    max_token_bytes: z.number().int().min(256).max(65536).default(8192),
    token_locations: z
      .array(tokenLocation)
      .min(1)
      .default([...DEFAULT_TOKEN_LOCATIONS]),
    /** Claim that the `role` requirement reads, e.g. `realm_access.roles`; same as `claims.roles: [path]`. */
    roles_claim: claimPath.optional(),
    /**
     * Egress policy (docs/keys.md): hosts (`host` or `host:port`, port when not the scheme's default)
     * besides the issuer's own origin that a discovery document's `jwks_uri` may point at.
     */
    jwks_hosts: z
      .array(
        z
          .string()
          .regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/, { error: 'must be host or host:port' })
          .transform((s) => s.toLowerCase()),
      )
      .default([]),
    /** Let a listed `jwks_hosts` entry resolve to loopback or private addresses (never link-local/metadata). */
    allow_private_jwks_hosts: z.boolean().default(false),
    /** Plain HTTP for discovery/JWKS; only for loopback tests and demos. */
    allow_insecure_http: z.boolean().default(false),
    /** Sender-constrained tokens of this issuer: `required`, `allowed` or `none` (the default); see docs/binding.md. */
    binding: bindingMode.optional(),
    keys: keysPolicy.prefault({}),
    /** Introspection of opaque tokens; which tokens go here is set by top-level opaque_tokens. */
    introspection: introspectionSchema.optional(),
  })
  .superRefine((iss, ctx) => {
    const sources = [iss.discovery === true, iss.jwks_uri !== undefined, iss.jwks_file !== undefined].filter(
      Boolean,
    ).length;
    if (sources > 1)
      ctx.addIssue({ code: 'custom', message: 'set only one of discovery, jwks_uri, jwks_file', path: [] });
    if (iss.discovery === false && iss.jwks_uri === undefined && iss.jwks_file === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'discovery is off, so jwks_uri or jwks_file is required',
        path: ['discovery'],
      });
    }
    for (const [field, url] of [
      ['issuer', iss.issuer],
      ['jwks_uri', iss.jwks_uri],
      ['introspection.endpoint', iss.introspection?.endpoint],
    ] as const) {
      if (url === undefined || (iss.jwks_file !== undefined && field === 'issuer')) continue;
      if (url.startsWith('http://') && !iss.allow_insecure_http) {
        ctx.addIssue({
          code: 'custom',
          message: 'uses plain http; set allow_insecure_http: true to allow it (loopback tests only)',
          path: field.split('.'),
        });
      }
    }
    if (iss.jwks_uri === undefined && iss.jwks_file === undefined && !/^https?:\/\//.test(iss.issuer))
      ctx.addIssue({
        code: 'custom',
        message: `must be an https:// URL to discover its keys (found ${JSON.stringify(iss.issuer)}); or set jwks_uri or jwks_file`,
        path: ['issuer'],
      });
    const template = iss.issuer.includes('{tenant}');
    if (template && iss.tenants === undefined)
      ctx.addIssue({
        code: 'custom',
        message: 'is a {tenant} template: list the allowed tenants in tenants (no list means no tenant is allowed)',
        path: ['issuer'],
      });
    if (!template && iss.tenants !== undefined)
      ctx.addIssue({ code: 'custom', message: 'needs an issuer template containing {tenant}', path: ['tenants'] });
    if (template && iss.jwks_uri === undefined && iss.jwks_file === undefined)
      ctx.addIssue({
        code: 'custom',
        message:
          'is a template: set jwks_uri (Entra ID: https://login.microsoftonline.com/common/discovery/v2.0/keys) or jwks_file',
        path: ['issuer'],
      });
    if (template && (iss.claims?.tenant ?? PROFILES[iss.profile].claims.tenant).length === 0)
      ctx.addIssue({
        code: 'custom',
        message: `is a template, but profile ${iss.profile} reads no tenant claim: use profile entra or set claims.tenant`,
        path: ['issuer'],
      });
    if (template && iss.introspection !== undefined)
      ctx.addIssue({ code: 'custom', message: 'cannot be combined with an issuer template', path: ['introspection'] });
    if (template && iss.issuer_aliases !== undefined)
      ctx.addIssue({ code: 'custom', message: 'cannot be combined with an issuer template', path: ['issuer_aliases'] });
    if ((iss.issuer.match(/\{/g) ?? []).length !== (template ? 1 : 0))
      ctx.addIssue({ code: 'custom', message: 'may contain {tenant} once and no other placeholder', path: ['issuer'] });
    if (iss.keys.min_refresh_seconds > iss.keys.max_refresh_seconds) {
      ctx.addIssue({
        code: 'custom',
        message: 'must not exceed keys.max_refresh_seconds',
        path: ['keys', 'min_refresh_seconds'],
      });
    }
  });

/** A requirement tree node: exactly one key per node. */
export type Requirement =
  | { all: Requirement[] }
  | { any: Requirement[] }
  | { not: Requirement }
  | { scope: string | string[] }
  | { permission: string | string[] }
  | { role: string | string[] }
  | { group: string | string[] }
  | { tenant: string | string[] }
  | { issuer: string | string[] }
  | { claim: ClaimCondition }
  | { cel: string | CelCondition };

/** A CEL condition with the request headers it may read (docs/policy.md). */
export interface CelCondition {
  expression: string;
  headers?: string[];
}

export interface ClaimCondition {
  path: string | string[];
  equals?: string | number | boolean;
  one_of?: (string | number | boolean)[];
  prefix?: string;
  regex?: string;
  exists?: boolean;
}

const scalar = z.union([z.string(), z.number(), z.boolean()]);

const claimCondition = z
  .strictObject({
    path: claimPath,
    equals: scalar.optional(),
    one_of: z.array(scalar).min(1).optional(),
    prefix: z.string().optional(),
    regex: z.string().optional(),
    exists: z.boolean().optional(),
  })
  .superRefine((c, ctx) => {
    const tests = ['equals', 'one_of', 'prefix', 'regex', 'exists'].filter(
      (k) => (c as Record<string, unknown>)[k] !== undefined,
    );
    if (tests.length !== 1)
      ctx.addIssue({
        code: 'custom',
        message: 'must set exactly one of equals, one_of, prefix, regex, exists',
        path: [],
      });
    if (c.regex !== undefined) {
      try {
        new RegExp(c.regex, 'u');
      } catch (e) {
        ctx.addIssue({
          code: 'custom',
          message: `is not a valid regular expression (${(e as Error).message})`,
          path: ['regex'],
        });
      }
    }
  });

/** Headers that carry credentials: a CEL condition never reads them. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie']);

const celExpression = z
  .string()
  .min(1, { error: 'must be a non-empty CEL expression' })
  .superRefine((expression, ctx) => {
    try {
      parseCel(expression);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: `is not a valid condition: ${(e as Error).message}` });
    }
  });

const celCondition = z.union(
  [
    celExpression,
    z.strictObject({
      expression: celExpression,
      /** Request headers the expression reads as `request.headers[name]`; credential headers are refused. */
      headers: z
        .array(
          headerName.refine((h) => !CREDENTIAL_HEADERS.has(h), {
            error: 'carries credentials; a CEL condition cannot read it',
          }),
        )
        .min(1)
        .optional(),
    }),
  ],
  { error: 'must be a CEL expression or {expression, headers}' },
);

export const requirementSchema: z.ZodType<Requirement> = z.lazy(() =>
  z.union(
    [
      z.strictObject({ all: z.array(requirementSchema).min(1) }),
      z.strictObject({ any: z.array(requirementSchema).min(1) }),
      z.strictObject({ not: requirementSchema }),
      z.strictObject({ scope: scopeList }),
      z.strictObject({ permission: oneOrMany('permission') }),
      z.strictObject({ role: oneOrMany('role') }),
      z.strictObject({ group: oneOrMany('group') }),
      z.strictObject({ tenant: oneOrMany('tenant') }),
      z.strictObject({ issuer: oneOrMany('issuer name') }),
      z.strictObject({ claim: claimCondition }),
      z.strictObject({ cel: celCondition }),
    ],
    { error: 'must be exactly one of all, any, not, scope, permission, role, group, tenant, issuer, claim, cel' },
  ),
);

const pathMatch = z.union(
  [
    z.strictObject({ exact: z.string().startsWith('/', { error: 'must start with /' }) }),
    z.strictObject({ prefix: z.string().startsWith('/', { error: 'must start with /' }) }),
    z.strictObject({
      template: z
        .string()
        .startsWith('/', { error: 'must start with /' })
        .regex(/^(\/([^/{}]*|\{[A-Za-z_][A-Za-z0-9_]*\}))+\/?$/, {
          error: 'must be segments of literals or {name} placeholders, e.g. /orders/{id}',
        }),
    }),
  ],
  { error: 'must be one of {exact}, {prefix}, {template}' },
);

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE'] as const;

export const routeSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$/, { error: 'must be a short name ([A-Za-z0-9_.:-], up to 63 chars)' }),
    match: z
      .strictObject({
        /** Exact host names or `*.example.com` wildcards; any host when omitted. */
        hosts: z
          .array(z.string().regex(/^(\*\.)?[A-Za-z0-9.-]+$/, { error: 'must be a host name or *.domain wildcard' }))
          .min(1)
          .optional(),
        methods: z
          .array(z.enum(HTTP_METHODS, { error: `must be one of ${HTTP_METHODS.join(', ')}` }))
          .min(1)
          .optional(),
        path: pathMatch.optional(),
        /** Compare paths case-insensitively (after normalization). */
        ignore_case: z.boolean().default(false),
      })
      .prefault({}),
    /** No token needed; identity headers are still stripped. */
    public: z.boolean().default(false),
    /** Claims the verified token must satisfy; any valid token when omitted. */
    require: requirementSchema.optional(),
    /** A candidate requirement evaluated beside `require`; disagreements are logged and counted, never enforced. */
    shadow: z.strictObject({ require: requirementSchema }).optional(),
    /** Sender-constrained tokens on this route; overrides the issuer's, except that `required` there stays. */
    binding: bindingMode.optional(),
  })
  .superRefine((r, ctx) => {
    if (r.public && r.require !== undefined)
      ctx.addIssue({ code: 'custom', message: 'a public route cannot have requirements', path: ['require'] });
    if (r.require !== undefined) checkRequirementTraps(r.require, ['require'], false, ctx);
    if (r.public && r.shadow !== undefined)
      ctx.addIssue({
        code: 'custom',
        message: 'a public route verifies no token, so it has nothing to shadow',
        path: ['shadow'],
      });
    if (r.shadow !== undefined) checkRequirementTraps(r.shadow.require, ['shadow', 'require'], false, ctx);
  });

const ms = (min: number, max: number, fallback: number) => z.number().int().min(min).max(max).default(fallback);

const httpBounds = (defaults: HttpListenerBounds) =>
  z
    .strictObject({
      max_connections: z.number().int().min(1).max(1_000_000).default(defaults.max_connections),
      headers_timeout_ms: ms(100, 600_000, defaults.headers_timeout_ms),
      request_timeout_ms: ms(100, 600_000, defaults.request_timeout_ms),
      keep_alive_timeout_ms: ms(100, 600_000, defaults.keep_alive_timeout_ms),
      idle_timeout_ms: ms(100, 3_600_000, defaults.idle_timeout_ms),
    })
    .superRefine((b, ctx) => {
      if (b.headers_timeout_ms > b.request_timeout_ms)
        ctx.addIssue({ code: 'custom', message: 'must not exceed request_timeout_ms', path: ['headers_timeout_ms'] });
    })
    .prefault({});

const listenerLimits = z
  .strictObject({
    grpc: z
      .strictObject({
        max_concurrent_streams: z.number().int().min(1).max(100_000).default(GRPC_BOUNDS.max_concurrent_streams),
        max_session_memory_mib: z.number().int().min(1).max(4096).default(GRPC_BOUNDS.max_session_memory_mib),
        request_timeout_ms: ms(100, 600_000, GRPC_BOUNDS.request_timeout_ms),
        max_connection_idle_ms: ms(1000, 86_400_000, GRPC_BOUNDS.max_connection_idle_ms),
        max_connection_age_ms: ms(1000, 86_400_000, GRPC_BOUNDS.max_connection_age_ms),
        max_connection_age_grace_ms: ms(0, 3_600_000, GRPC_BOUNDS.max_connection_age_grace_ms),
        keepalive_time_ms: ms(1000, 86_400_000, GRPC_BOUNDS.keepalive_time_ms),
        keepalive_timeout_ms: ms(100, 600_000, GRPC_BOUNDS.keepalive_timeout_ms),
      })
      .prefault({}),
    http: httpBounds(HTTP_BOUNDS),
    admin: httpBounds(ADMIN_BOUNDS),
  })
  .prefault({});

/** A header from a raw claim path, or from a field of the principal (the same whatever the issuer). */
export const identityHeader = z.union(
  [
    z.strictObject({ name: headerName, claim: claimPath }),
    z.strictObject({
      name: headerName,
      principal: z.enum(PRINCIPAL_FIELDS, { error: `must be one of ${PRINCIPAL_FIELDS.join(', ')}` }),
    }),
  ],
  { error: 'must be {name, claim} or {name, principal}' },
);

const ENRICHED_FIELDS = ['roles', 'permissions', 'groups'] as const;

/** A lookup keyed by the verified subject whose answer adds principal fields (e.g. Auth0 roles). */
export const enrichmentSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, { error: 'must be a short lower-case name' }),
    /** Issuer names whose tokens are enriched; all when omitted. */
    issuers: z.array(nonEmpty('issuer name')).min(1).optional(),
    /** GET URL; `{subject}` becomes the token's `sub`, percent-encoded (Auth0 ids contain `|`). */
    url: z
      .url({ error: 'must be an absolute URL' })
      .refine((u) => u.includes('%7Bsubject%7D') || u.includes('{subject}'), {
        error: 'must contain {subject}',
      }),
    /** claimgate's own M2M token for the lookup (client credentials), renewed before it expires. */
    client_credentials: z
      .strictObject({
        token_url: z.url({ error: 'must be an absolute URL' }),
        ...clientAuthFields,
        audience: nonEmpty('audience').optional(),
        scope: nonEmpty('scope').optional(),
        renew_before_seconds: z.number().min(0).max(86400).default(300),
      })
      .superRefine(checkClientAuth)
      .optional(),
    /** How the answer becomes principal fields: a path into the JSON (the whole body when omitted), then each element's `item` member. */
    map: z
      .array(
        z.strictObject({
          field: z.enum(ENRICHED_FIELDS, { error: `must be one of ${ENRICHED_FIELDS.join(', ')}` }),
          path: claimPath.optional(),
          item: nonEmpty('member name').optional(),
        }),
      )
      .min(1),
    cache_ttl_seconds: z.number().min(0).max(86400).default(60),
    max_cache_entries: z.number().int().min(0).max(10_000_000).default(100_000),
    stale_if_error_seconds: z.number().min(0).max(86400).default(0),
    timeout_ms: z.number().int().min(10).max(10000).default(1000),
    max_concurrent: z.number().int().min(1).max(10000).default(16),
    max_response_bytes: z
      .number()
      .int()
      .min(1024)
      .max(16 * 1024 * 1024)
      .default(256 * 1024),
    /** Plain HTTP for the lookup and token URL; only for loopback tests and demos. */
    allow_insecure_http: z.boolean().default(false),
  })
  .superRefine((e, ctx) => {
    for (const [field, url] of [
      ['url', e.url],
      ['client_credentials.token_url', e.client_credentials?.token_url],
    ] as const) {
      if (url?.startsWith('http://') && !e.allow_insecure_http)
        ctx.addIssue({
          code: 'custom',
          message: 'uses plain http; set allow_insecure_http: true to allow it',
          path: field.split('.'),
        });
    }
  });

const REGISTERED_JWT_CLAIMS = new Set(['iss', 'aud', 'iat', 'exp', 'nbf', 'jti']);

/** A signed JWT for the upstream, issued by claimgate itself (docs/upstream-identity.md). */
export const identityJwtSchema = z.strictObject({
  /** Header that carries the JWT to the upstream; claimgate owns it (a client copy is removed). */
  header: headerName.default('x-claimgate-identity'),
  /** `iss` of the JWT: claimgate's name as the upstream knows it. */
  issuer: nonEmpty('issuer'),
  /** `aud` of the JWT: the upstream. */
  audience: nonEmpty('audience'),
  lifetime_seconds: z.number().int().min(5).max(3600).default(60),
  /** Principal fields carried as claims, under the given names; exactly these (besides iss, aud, iat, exp). */
  claims: z
    .array(
      z.strictObject({
        name: nonEmpty('claim name').refine((n) => !REGISTERED_JWT_CLAIMS.has(n), {
          error: 'is set by claimgate itself (iss, aud, iat, exp, nbf, jti)',
        }),
        principal: z.enum(PRINCIPAL_FIELDS, { error: `must be one of ${PRINCIPAL_FIELDS.join(', ')}` }),
      }),
    )
    .min(1),
  /** PEM private keys; the first signs, all are published in the JWKS (rotation with overlap). */
  keys: z
    .array(z.strictObject({ private_key_file: nonEmpty('file path'), kid: nonEmpty('key id') }))
    .min(1)
    .max(4),
});

/** One opaque_tokens rule: tokens starting with `prefix` (any token when omitted) go to `issuer`'s introspection. */
export const opaqueTokenRule = z.strictObject({
  issuer: nonEmpty('issuer name'),
  prefix: nonEmpty('prefix').optional(),
});

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      grpc_address: listenAddress.default('127.0.0.1:9001'),
      /** Admin HTTP listener: /metrics, /healthz, /readyz. Separate from the gRPC port. */
      admin_address: listenAddress.default('127.0.0.1:9090'),
      /** Longest a Check may wait for keys before it gets an error answer. */
      check_deadline_ms: z.number().int().min(1).max(10000).default(150),
      /**
       * Ready (health SERVING): `required_issuers` when every issuer marked `required` has keys and at
       * least one issuer has; `all_issuers` when every issuer has; `any_issuer` when any has.
       */
      readiness: z.enum(['required_issuers', 'all_issuers', 'any_issuer']).default('required_issuers'),
      /** How long in-flight Checks may take to finish on shutdown. */
      shutdown_grace_ms: z.number().int().min(0).max(120000).default(10000),
      /** Reload when the config file changes (also on SIGHUP, always). */
      watch_config: z.boolean().default(true),
      /** Checks in flight per process (worker) before new ones get ERR_OVERLOADED (503); 0 = no bound. */
      max_concurrent_checks: z.number().int().min(0).max(1_000_000).default(2000),
      /** Worker processes sharing the listeners (node:cluster); `auto` = one per available core. */
      workers: z
        .union([z.number().int().min(1).max(256), z.literal('auto')], {
          error: 'must be a number of workers (1-256) or auto',
        })
        .default(1),
    })
    .prefault({}),
  logging: z
    .strictObject({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
      /** Fraction of allow decisions logged (denials and errors are always logged). */
      allow_sample_rate: z.number().min(0).max(1).default(1),
      /** Decision lines per second for each kind of denial (decision, reason, route, issuer); 0 = no limit. */
      denial_lines_per_second: z.number().int().min(0).max(1_000_000).default(20),
      /** Log the verified `sub` on decision lines (an identifier, but personal data in some regimes). */
      include_subject: z.boolean().default(true),
      /** Log output waiting for a slow reader; lines past it are dropped and counted, never buffered. */
      max_buffer_bytes: z
        .number()
        .int()
        .min(64 * 1024)
        .max(1024 * 1024 * 1024)
        .default(8 * 1024 * 1024),
    })
    .prefault({}),
  /** TLS (and mutual TLS) for the gRPC and HTTP listeners the proxies call; the admin listener stays separate. */
  tls: z
    .strictObject({
      cert_file: nonEmpty('file path'),
      key_file: nonEmpty('file path'),
      /** CA bundle for client certificates: set it and every caller must present a certificate it signed. */
      client_ca_file: nonEmpty('file path').optional(),
      /** Client identities allowed to call: `spiffe://…`, `uri:…`, `dns:…` or `cn:…`, exact match. */
      allowed_clients: z
        .array(
          z.string().regex(/^(spiffe:\/\/|uri:|dns:|cn:).+/, { error: 'must start with spiffe://, uri:, dns: or cn:' }),
        )
        .min(1)
        .optional(),
      /** How often certificate files are re-read, so rotation needs no restart. */
      reload_interval_seconds: z.number().min(1).max(86400).default(60),
    })
    .superRefine((t, ctx) => {
      if (t.allowed_clients !== undefined && t.client_ca_file === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: 'needs client_ca_file: identities are only trusted from verified client certificates',
          path: ['allowed_clients'],
        });
      }
    })
    .optional(),
  token_cache: z
    .strictObject({
      /** Verified tokens kept; 0 turns the cache (positive and negative) off. */
      max_entries: z.number().int().min(0).max(10_000_000).default(100_000),
      /** Bound on the estimated memory of verified entries (token length + 1 KiB each). */
      max_bytes: z
        .number()
        .int()
        .min(1024 * 1024)
        .max(64 * 1024 * 1024 * 1024)
        .default(256 * 1024 * 1024),
      /** How long a token that failed verification for good is answered from the cache. */
      negative_ttl_seconds: z.number().min(0).max(3600).default(10),
      max_negative_entries: z.number().int().min(0).max(1_000_000).default(10_000),
    })
    .prefault({}),
  /** How DPoP proofs and client certificates are checked for sender-constrained tokens (docs/binding.md). */
  binding: bindingSettings.prefault({}),
  /** Connection, stream and time bounds of the listeners (restart only). */
  limits: listenerLimits,
  /** Realm in `WWW-Authenticate: Bearer realm="..."`. */
  realm: z
    .string()
    .regex(/^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,128}$/, {
      error: 'must be 1-128 printable ASCII characters without " or \\',
    })
    .default('claimgate'),
  issuers: z.array(issuerSchema).min(1, { error: 'must list at least one issuer' }),
  routes: z.array(routeSchema).default([]),
  /**
   * Whole-config shadow mode (onboarding): decide and log as usual, then allow every request the
   * policy would refuse, with no identity headers. Off by default; logged loudly at start.
   */
  shadow_mode: z.boolean().default(false),
  /**
   * Opaque (non-JWT) tokens: the first rule whose prefix the token starts with names the issuer whose
   * introspection endpoint receives it; no rule, no introspection (docs/opaque-tokens.md).
   */
  opaque_tokens: z.array(opaqueTokenRule).default([]),
  /** Lookups that add principal fields before authorization (docs/opaque-tokens.md#enrichment). */
  enrichment: z.array(enrichmentSchema).default([]),
  /** What a request that matches no route gets: deny, or allow for any valid token. */
  unmatched: z.enum(['deny', 'authenticated']).default('deny'),
  upstream: z
    .strictObject({
      /** Identity headers set from verified claims; claimgate owns these names. */
      headers: z.array(identityHeader).default([]),
      /** Put the whole verified payload, base64url JSON, in this header. */
      payload_header: headerName.optional(),
      /** Remove the header that carried the token before the request reaches the upstream. */
      strip_token: z.boolean().default(false),
      /** Values longer than this are never forwarded. */
      max_header_bytes: z.number().int().min(16).max(65536).default(4096),
      /** Separator used to join array claims. */
      array_separator: z.string().min(1).max(4).default(','),
      /** A signed identity JWT for the upstream, beside or instead of plain headers. */
      identity_jwt: identityJwtSchema.optional(),
    })
    .prefault({}),
  /**
   * RFC 9728 protected-resource metadata, served at the API's own origin through the Check (off when
   * omitted); its URL is then added to every Bearer challenge as `resource_metadata`.
   */
  resource_metadata: z
    .strictObject({
      /** The API's resource identifier: an https URL without a fragment (RFC 9728 §2); usually the audience. */
      resource: z
        .url({ error: 'must be an absolute URL' })
        .refine((u) => u.startsWith('https://') && !u.includes('#'), {
          error: 'must be an https URL without a fragment (RFC 9728 §2)',
        }),
      /** Human-readable name of the API, shown to people choosing what to call. */
      resource_name: z.string().min(1).max(200).optional(),
      /** URL of the API's documentation for developers. */
      resource_documentation: z.url({ error: 'must be an absolute URL' }).optional(),
    })
    .optional(),
  /** HTTP front doors (Envoy HTTP ext_authz, nginx/Traefik/Caddy forward auth); no listener when omitted. */
  http: z
    .strictObject({
      address: listenAddress.default('127.0.0.1:9002'),
      /** Envoy `http_service.path_prefix`: the original path follows it. */
      envoy_path_prefix: z
        .string()
        .regex(/^(\/[A-Za-z0-9._~!$&'()*+,;=:@-]+)+$/, {
          error: 'must be a path such as /envoy (no trailing slash, no query)',
        })
        .default('/envoy'),
      /** The forward-auth endpoint (exact path) for nginx auth_request, Traefik ForwardAuth, Caddy forward_auth. */
      forward_auth_path: z
        .string()
        .regex(/^(\/[A-Za-z0-9._~!$&'()*+,;=:@-]+)+$/, {
          error: 'must be a path such as /auth (no trailing slash, no query)',
        })
        .default('/auth'),
      /** Peers whose forwarded headers are honoured (CIDRs or single addresses). */
      trusted_proxies: z.array(cidrEntry).default(['127.0.0.0/8', '::1/128']),
    })
    .superRefine((h, ctx) => {
      if (h.forward_auth_path === h.envoy_path_prefix || h.forward_auth_path.startsWith(`${h.envoy_path_prefix}/`)) {
        ctx.addIssue({ code: 'custom', message: 'must not be under envoy_path_prefix', path: ['forward_auth_path'] });
      }
    })
    .optional(),
});

/**
 * Requirement spellings that read one way and mean another, refused outright:
 * - a list of scopes/permissions/roles/groups directly under `not` means "not all of them" (`not: {role:
 *   [banned, suspended]}` lets a user who is only `banned` through), almost never what was meant;
 * - a number in `equals`/`one_of` that a double cannot hold exactly (an integer beyond 2^53, more than
 *   15 significant digits): the YAML reader has already rounded it, so it would match another value.
 */
function checkRequirementTraps(
  req: Requirement,
  path: (string | number)[],
  underNot: boolean,
  ctx: z.RefinementCtx,
): void {
  if ('all' in req) req.all.forEach((r, i) => checkRequirementTraps(r, [...path, 'all', i], false, ctx));
  else if ('any' in req) req.any.forEach((r, i) => checkRequirementTraps(r, [...path, 'any', i], false, ctx));
  else if ('not' in req) checkRequirementTraps(req.not, [...path, 'not'], true, ctx);
  else if (underNot) {
    for (const key of ['scope', 'permission', 'role', 'group'] as const) {
      const value = (req as Record<string, unknown>)[key];
      if (Array.isArray(value) && value.length > 1)
        ctx.addIssue({
          code: 'custom',
          message: `a list under not means "not all of them"; write not: {any: [{${key}: ${value[0]}}, …]} for "none of them", or not: {all: […]} for "not all"`,
          path: [...path, key],
        });
    }
  }
  if ('claim' in req) {
    const values = req.claim.equals !== undefined ? [req.claim.equals] : (req.claim.one_of ?? []);
    for (const v of values) {
      if (typeof v === 'number' && !isExactConfigNumber(v))
        ctx.addIssue({
          code: 'custom',
          message: `${v} cannot be compared exactly (integers beyond 2^53 and numbers with more than 15 significant digits are rounded); no token value would match it reliably`,
          path: [...path, 'claim', req.claim.equals !== undefined ? 'equals' : 'one_of'],
        });
    }
  }
}

/** A configured number that no other decimal is rounded to: a safe integer, or at most 15 significant digits. */
function isExactConfigNumber(v: number): boolean {
  if (!Number.isFinite(v)) return false;
  if (Number.isInteger(v)) return Number.isSafeInteger(v);
  const digits = v.toExponential().split('e')[0]!.replace(/[-.]/g, '');
  return digits.length <= 15;
}

export type Config = z.output<typeof configSchema>;
export type IssuerConfig = Config['issuers'][number];
export type RouteConfig = Config['routes'][number];
export type KeysPolicy = IssuerConfig['keys'];
export type TokenLocation = IssuerConfig['token_locations'][number];
export type BindingSettings = Config['binding'];
