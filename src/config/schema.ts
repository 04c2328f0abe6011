/**
 * The configuration schema: one source for validation, defaults, TypeScript types and the published
 * JSON Schema (`claimgate schema`). Every object is strict, so an unknown or misspelled key is an
 * error rather than a silently ignored setting.
 */
import { z } from 'zod';
import { issValuesOf } from './issuer-values.js';
import { PRINCIPAL_FIELDS, PROFILE_NAMES, PROFILES } from './profiles.js';
import { compileCel } from '../policy/cel.js';

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
const listenAddress = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, {
  error: 'must be host:port, e.g. 127.0.0.1:9001 or [::1]:9001',
});

const headerName = z
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

const issuerSchema = z
  .strictObject({
    /** Short name used in logs, metrics and route requirements. */
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, { error: 'must be a short lower-case name ([a-z0-9_.-], up to 63 chars)' }),
    /** Exact `iss` value; compared byte for byte (Auth0 issuers end in `/`). */
    issuer: nonEmpty('issuer URL'),
    /** Key source: OIDC discovery (default when neither jwks_uri nor jwks_file is set). */
    discovery: z.boolean().optional(),
    jwks_uri: z.url({ error: 'must be an absolute URL' }).optional(),
    jwks_file: nonEmpty('file path').optional(),
    audiences: z
      .array(nonEmpty('audience'), { error: 'must list at least one audience' })
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
      compileCel(expression);
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
      z.strictObject({ scope: oneOrMany('scope') }),
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

const routeSchema = z
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
  })
  .superRefine((r, ctx) => {
    if (r.public && r.require !== undefined)
      ctx.addIssue({ code: 'custom', message: 'a public route cannot have requirements', path: ['require'] });
    if (r.public && r.shadow !== undefined)
      ctx.addIssue({
        code: 'custom',
        message: 'a public route verifies no token, so it has nothing to shadow',
        path: ['shadow'],
      });
  });

/** A header from a raw claim path, or from a field of the principal (the same whatever the issuer). */
const identityHeader = z.union(
  [
    z.strictObject({ name: headerName, claim: claimPath }),
    z.strictObject({
      name: headerName,
      principal: z.enum(PRINCIPAL_FIELDS, { error: `must be one of ${PRINCIPAL_FIELDS.join(', ')}` }),
    }),
  ],
  { error: 'must be {name, claim} or {name, principal}' },
);

export const configSchema = z
  .strictObject({
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
            z
              .string()
              .regex(/^(spiffe:\/\/|uri:|dns:|cn:).+/, { error: 'must start with spiffe://, uri:, dns: or cn:' }),
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
  })
  .superRefine((cfg, ctx) => {
    const seen = new Map<string, number>();
    cfg.issuers.forEach((iss, i) => {
      const previous = seen.get(iss.name);
      if (previous !== undefined)
        ctx.addIssue({
          code: 'custom',
          message: `duplicates the name of issuers[${previous}]`,
          path: ['issuers', i, 'name'],
        });
      seen.set(iss.name, i);
    });
    const byIss = new Map<string, number>();
    cfg.issuers.forEach((iss, i) => {
      for (const value of issValuesOf(iss)) {
        const previous = byIss.get(value);
        if (previous !== undefined)
          ctx.addIssue({
            code: 'custom',
            message: `duplicates the issuer of issuers[${previous}]${value === iss.issuer ? '' : ` (${value})`}`,
            path: ['issuers', i, 'issuer'],
          });
        byIss.set(value, i);
      }
    });
    const routeNames = new Set<string>();
    cfg.routes.forEach((r, i) => {
      if (routeNames.has(r.name))
        ctx.addIssue({ code: 'custom', message: 'duplicates another route name', path: ['routes', i, 'name'] });
      routeNames.add(r.name);
      if (r.require) checkIssuerRefs(r.require, ['routes', i, 'require'], seen, ctx);
      if (r.shadow) checkIssuerRefs(r.shadow.require, ['routes', i, 'shadow', 'require'], seen, ctx);
    });
    const headerNames = new Set<string>();
    cfg.upstream.headers.forEach((h, i) => {
      if (headerNames.has(h.name))
        ctx.addIssue({
          code: 'custom',
          message: 'duplicates another identity header',
          path: ['upstream', 'headers', i, 'name'],
        });
      headerNames.add(h.name);
      if (RESERVED_HEADERS.has(h.name) || h.name.startsWith(':'))
        ctx.addIssue({
          code: 'custom',
          message: 'is a protocol header claimgate must not set',
          path: ['upstream', 'headers', i, 'name'],
        });
    });
    // A condition reading a header claimgate owns would read the client's (spoofable) copy of it.
    const owned = new Set([...headerNames, ...(cfg.upstream.payload_header ? [cfg.upstream.payload_header] : [])]);
    cfg.routes.forEach((r, i) => {
      for (const [req, path] of [
        [r.require, ['routes', i, 'require']],
        [r.shadow?.require, ['routes', i, 'shadow', 'require']],
      ] as const)
        if (req) checkCelHeaders(req, [...path], owned, ctx);
    });
    if (
      cfg.upstream.payload_header !== undefined &&
      (RESERVED_HEADERS.has(cfg.upstream.payload_header) || cfg.upstream.payload_header.startsWith(':'))
    ) {
      ctx.addIssue({
        code: 'custom',
        message: 'is a protocol header claimgate must not set',
        path: ['upstream', 'payload_header'],
      });
    }
    if (cfg.upstream.payload_header !== undefined && headerNames.has(cfg.upstream.payload_header)) {
      ctx.addIssue({
        code: 'custom',
        message: 'is already used by upstream.headers',
        path: ['upstream', 'payload_header'],
      });
    }
  });

const RESERVED_HEADERS = new Set([
  'host',
  'authorization',
  'cookie',
  'content-length',
  'transfer-encoding',
  'connection',
  'te',
  'upgrade',
]);

function checkCelHeaders(
  req: Requirement,
  path: (string | number)[],
  owned: ReadonlySet<string>,
  ctx: z.RefinementCtx,
): void {
  if ('all' in req) req.all.forEach((r, i) => checkCelHeaders(r, [...path, 'all', i], owned, ctx));
  else if ('any' in req) req.any.forEach((r, i) => checkCelHeaders(r, [...path, 'any', i], owned, ctx));
  else if ('not' in req) checkCelHeaders(req.not, [...path, 'not'], owned, ctx);
  else if ('cel' in req && typeof req.cel !== 'string')
    (req.cel.headers ?? []).forEach((h, i) => {
      if (owned.has(h))
        ctx.addIssue({
          code: 'custom',
          message: 'is an identity header claimgate owns; a condition would read the client-sent copy',
          path: [...path, 'cel', 'headers', i],
        });
    });
}

function checkIssuerRefs(
  req: Requirement,
  path: (string | number)[],
  issuers: Map<string, number>,
  ctx: z.RefinementCtx,
): void {
  if ('all' in req) req.all.forEach((r, i) => checkIssuerRefs(r, [...path, 'all', i], issuers, ctx));
  else if ('any' in req) req.any.forEach((r, i) => checkIssuerRefs(r, [...path, 'any', i], issuers, ctx));
  else if ('not' in req) checkIssuerRefs(req.not, [...path, 'not'], issuers, ctx);
  else if ('issuer' in req) {
    for (const name of Array.isArray(req.issuer) ? req.issuer : [req.issuer]) {
      if (!issuers.has(name))
        ctx.addIssue({ code: 'custom', message: `names unknown issuer "${name}"`, path: [...path, 'issuer'] });
    }
  }
}

export type Config = z.output<typeof configSchema>;
export type IssuerConfig = Config['issuers'][number];
export type RouteConfig = Config['routes'][number];
export type KeysPolicy = IssuerConfig['keys'];
export type TokenLocation = IssuerConfig['token_locations'][number];
