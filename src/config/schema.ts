/**
 * The configuration schema: one source for validation, defaults, TypeScript types and the published
 * JSON Schema (`claimgate schema`). Every object is strict, so an unknown or misspelled key is an
 * error rather than a silently ignored setting.
 */
import { z } from 'zod';
import { issValuesOf } from './issuer-values.js';
import { PRINCIPAL_FIELDS, PROFILE_NAMES, PROFILES } from './profiles.js';
import { ADMIN_BOUNDS, GRPC_BOUNDS, HTTP_BOUNDS, type HttpListenerBounds } from '../net/listener-bounds.js';

/** Asymmetric JWS algorithms claimgate can verify. `none` and HMAC are never accepted. */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;
export type Algorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

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

const keysPolicy = z.strictObject({
  /** Minimum seconds between two refetches caused by an unknown `kid`. */
  cooldown_seconds: z.number().min(0).max(3600).default(30),
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
    /** Plain HTTP for discovery/JWKS; only for loopback tests and demos. */
    allow_insecure_http: z.boolean().default(false),
    keys: keysPolicy.prefault({}),
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
    ] as const) {
      if (url === undefined || (iss.jwks_file !== undefined && field === 'issuer')) continue;
      if (url.startsWith('http://') && !iss.allow_insecure_http) {
        ctx.addIssue({
          code: 'custom',
          message: 'uses plain http; set allow_insecure_http: true to allow it (loopback tests only)',
          path: [field],
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
  | { claim: ClaimCondition };

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
    ],
    { error: 'must be exactly one of all, any, not, scope, permission, role, group, tenant, issuer, claim' },
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
  })
  .superRefine((r, ctx) => {
    if (r.public && r.require !== undefined)
      ctx.addIssue({ code: 'custom', message: 'a public route cannot have requirements', path: ['require'] });
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
      trusted_proxies: z
        .array(
          z.string().refine(
            (entry) => {
              const [address = '', prefix, ...extra] = entry.split('/');
              if (extra.length > 0 || (prefix !== undefined && !/^\d{1,3}$/.test(prefix))) return false;
              const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
              if (v4)
                return (
                  v4.slice(1).every((o) => Number(o) <= 255 && String(Number(o)) === o) && Number(prefix ?? 32) <= 32
                );
              if (!address.includes(':') || !/^[0-9A-Fa-f:.]+$/.test(address)) return false;
              try {
                new URL(`http://[${address}]/`);
              } catch {
                return false;
              }
              return Number(prefix ?? 128) <= 128;
            },
            { error: 'must be an IP address or CIDR, e.g. 10.0.0.0/8 or ::1/128' },
          ),
        )
        .default(['127.0.0.0/8', '::1/128']),
    })
    .superRefine((h, ctx) => {
      if (h.forward_auth_path === h.envoy_path_prefix || h.forward_auth_path.startsWith(`${h.envoy_path_prefix}/`)) {
        ctx.addIssue({ code: 'custom', message: 'must not be under envoy_path_prefix', path: ['forward_auth_path'] });
      }
    })
    .optional(),
});

export type Config = z.output<typeof configSchema>;
export type IssuerConfig = Config['issuers'][number];
export type RouteConfig = Config['routes'][number];
export type KeysPolicy = IssuerConfig['keys'];
export type TokenLocation = IssuerConfig['token_locations'][number];
