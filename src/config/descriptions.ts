/** Generated from docs/configuration.md by scripts/config-descriptions.mjs; do not edit. */
export const CONFIG_DESCRIPTIONS: Readonly<Record<string, string>> = {
  server: 'Listener and process settings.',
  'server.grpc_address':
    'Where the ext_authz gRPC service (and `grpc.health.v1`) listens. Use `0.0.0.0:9001` in containers; port `0` picks a free port.',
  'server.admin_address':
    "Admin HTTP listener: `/metrics` (Prometheus), `/healthz` (alive), `/readyz` (config loaded and key readiness met). Keep it off the proxies' network.",
  'server.check_deadline_ms':
    "Longest a Check waits for an issuer's keys (a cold or refetching key set) before it gets an error answer (503). Below Envoy's default ext_authz timeout of 200 ms so Envoy gets claimgate's answer rather than its own timeout.",
  'server.readiness':
    "When `/readyz` and gRPC health report SERVING. `required_issuers`: every issuer marked `required: true` has usable keys and at least one issuer has, so one partner's IdP outage does not take the replica out for the others (that partner's tokens get 503 `ERR_JWKS_UNAVAILABLE`). `all_issuers`: every issuer has keys (the default of earlier versions; set it to keep that behaviour). `any_issuer`: any one has. See operations.md.",
  'server.shutdown_grace_ms': 'On SIGTERM/SIGINT, how long in-flight Checks may take before the server closes.',
  'server.max_concurrent_checks':
    'Checks in flight per process (per worker) before new ones are answered at once with `ERR_OVERLOADED`: an error answer (gRPC `UNAVAILABLE` with `error_response`, HTTP 503), never an allow and never a transport error. Normal Checks take well under a millisecond; the bound matters when keys are being fetched and Checks wait up to `check_deadline_ms`. `0` disables it.',
  'server.workers':
    'Worker processes (node:cluster) sharing the gRPC and HTTP listeners, so one process tree uses several cores. `auto` is one per available core. With more than one, the primary process runs the admin listener (metrics aggregated over workers; ready while at least one worker serves and every serving worker is ready, see operations.md), forwards SIGHUP and drains every worker on SIGTERM; each worker keeps its own key cache and token cache. See deploy.md for workers vs replicas.',
  'server.watch_config':
    'Reload when the config file changes (including the symlink swap of a Kubernetes ConfigMap mount). SIGHUP always reloads.',
  logging: 'Structured JSON logs on stderr.',
  'logging.level': 'Log level. Decision lines are logged at `info` (allows and denials) and `warn` (error answers).',
  'logging.allow_sample_rate':
    "Fraction of allow decisions logged. A line is written as a pre-serialised string in batched writes, about 1 µs of claimgate's own work plus its share of the write (see benchmarks.md); `0` leaves allows to the metrics.",
  'logging.denial_lines_per_second':
    'Lines per second for each kind of denial or error (same decision, reason, route and issuer); the rest of that second is summarised in one `decision lines suppressed` line with a count. Stops one replayed bad token or a scanner from flooding the log; metrics still count every Check. `0` = no limit.',
  'logging.include_subject':
    "Put the verified token's `sub` on decision lines (only ever a verified one). Turn off where user identifiers must not reach logs. Tokens, header values and other claims are never logged.",
  'logging.max_buffer_bytes':
    'Log output (8 MiB) waiting to be written to stderr. Logs are written asynchronously; when the reader (a pipe, a log collector) falls behind and this much is waiting, further lines are dropped and counted in `claimgate_log_lines_dropped_total` instead of blocking Checks or growing memory (measured: a stalled reader grew an unbounded buffer by 250 MiB in 40 s). Restart only.',
  tls: 'Serve TLS on the gRPC and HTTP listeners.',
  'tls.cert_file': 'Server certificate chain (PEM).',
  'tls.key_file': 'Its private key (PEM).',
  'tls.client_ca_file':
    'CA bundle for client certificates. When set, every caller must present a certificate signed by it (mutual TLS).',
  'tls.allowed_clients':
    'Client identities allowed to call, exact match: `spiffe://…` or `uri:…` (URI SAN), `dns:…` (DNS SAN), `cn:…` (subject CN). Others get an in-band 403 `ERR_CLIENT_NOT_ALLOWED` denial (gRPC: a CheckResponse with status `PERMISSION_DENIED`, never a transport error that `failure_mode_allow` could turn into an allow; HTTP: 403). Needs `client_ca_file`.',
  'tls.reload_interval_seconds': 'How often the certificate, key and CA files are re-read.',
  token_cache: 'Verified-token cache.',
  'token_cache.max_entries':
    'Verified tokens kept (least recently used are evicted). `0` turns the cache off, positive and negative.',
  'token_cache.max_bytes':
    'Bound on the estimated memory of verified entries, each counted as 2 × (token length + 1 KiB): measured, an entry holds token length + ~0.8 KiB of live heap, and a cache that keeps evicting costs about twice its live heap in resident memory. With the default 100,000 entries of ~1 KB tokens the byte bound is the one reached (~66,000 entries). `claimgate_token_cache_estimated_bytes` shows the estimate; plan RSS with the rule in benchmarks.md.',
  'token_cache.negative_ttl_seconds': 'How long a token that failed for good is refused from the cache.',
  'token_cache.max_negative_entries': 'Failed tokens kept (their total size is also capped at 8 MiB).',
  binding: 'How DPoP proofs and client certificates are checked.',
  'binding.dpop': 'DPoP proof checks (RFC 9449 §4.3).',
  'binding.dpop.algorithms':
    'Algorithms a proof may be signed with; also the `algs` of the `DPoP` challenge. Asymmetric only: `none` and HMAC are never accepted.',
  'binding.dpop.proof_max_age_seconds': "How old a proof's `iat` may be.",
  'binding.dpop.clock_skew_seconds':
    "How far a proof's `iat` may be ahead of this server's clock (and added to the maximum age).",
  'binding.dpop.replay_cache_entries':
    'Bound of the per-process `jti` replay memory (118 bytes of heap per entry measured, see benchmarks.md; a full memory refuses new proofs with 503 rather than forget a live one). Each `jti` is kept for `proof_max_age_seconds` + 2 × `clock_skew_seconds`.',
  'binding.dpop.nonce': 'Server nonces (RFC 9449 §8-9).',
  'binding.dpop.nonce.required':
    'Every proof must carry a current server nonce; a proof without one, or with an old one, gets 401 `use_dpop_nonce` and a fresh `DPoP-Nonce` header.',
  'binding.dpop.nonce.lifetime_seconds': 'Nonce window: a nonce is accepted for one to two windows.',
  'binding.dpop.nonce.secret_file':
    "File with at least 32 secret bytes shared by every replica, so each accepts the others' nonces.",
  'binding.certificate': 'Where the client certificate of a certificate-bound token is read from.',
  'binding.certificate.sources':
    "In order: Envoy's `attributes.source.certificate` (`include_peer_certificate: true`), the certificate of a mutual-TLS connection to claimgate's HTTP door, the `x-forwarded-client-cert` header from a trusted proxy.",
  'binding.certificate.xfcc_trusted_proxies':
    "Peers (the gRPC caller or the HTTP door's TCP peer) whose `x-forwarded-client-cert` is read; required when `sources` lists `xfcc`.",
  limits: 'Listener bounds.',
  'limits.grpc': 'The gRPC port (grpc-js server options).',
  'limits.grpc.max_concurrent_streams':
    'HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS`: streams one connection may have open; more are refused by HTTP/2 (`REFUSED_STREAM`; gRPC clients retry them). Envoy opens streams up to its own circuit-breaker limits and new connections beyond this.',
  'limits.grpc.max_session_memory_mib':
    "Node's HTTP/2 session memory cap per connection (`grpc-node.max_session_memory`); past it new streams are refused with `ENHANCE_YOUR_CALM`. Bounds what answers a client never reads can hold.",
  'limits.grpc.request_timeout_ms':
    'A stream must deliver its complete CheckRequest within this or it is cancelled (`DEADLINE_EXCEEDED`, counted as `reason="request_timeout"`): half-open streams do not live as long as their connection. One timer sweeps every call four times per timeout, so a stream is cancelled between 1× and 1.25× this, never earlier.',
  'limits.grpc.max_connection_idle_ms': 'A connection with no open stream for this long is closed with a GOAWAY.',
  'limits.grpc.max_connection_age_ms':
    'A connection older than this (±10 % jitter) gets a GOAWAY; clients reconnect (this also rebalances over replicas).',
  'limits.grpc.max_connection_age_grace_ms':
    'After that GOAWAY, open streams get this long before the connection is closed.',
  'limits.grpc.keepalive_time_ms': 'Ping a connection after this long without traffic ...',
  'limits.grpc.keepalive_timeout_ms':
    '... and close it when the ping is not answered within this (a peer that vanished).',
  'limits.http': 'The HTTP front door (`http`).',
  'limits.http.max_connections':
    'Open connections; more are closed as soon as they are accepted (`reason="max_connections"`). Keep it below the process\'s descriptor limit minus what the gRPC port and key fetches need, so idle HTTP connections can never starve the gRPC port of descriptors; claimgate logs a warning at start when it exceeds half the soft open-file limit (`/proc/self/limits`).',
  'limits.http.headers_timeout_ms':
    'Time to receive a request head; then 408 and close (`reason="request_timeout"`). Checked every second. At most `request_timeout_ms`.',
  'limits.http.request_timeout_ms': 'Time to receive a whole request.',
  'limits.http.keep_alive_timeout_ms': 'How long an idle kept-alive connection stays open after a response.',
  'limits.http.idle_timeout_ms': 'A socket with no traffic at all for this long is closed (`reason="idle_timeout"`).',
  'limits.admin': 'The admin listener (`/metrics`, `/healthz`, `/readyz`, `/status`): the same keys as `limits.http`.',
  'limits.admin.max_connections': 'Probes and scrapes need few connections.',
  'limits.admin.headers_timeout_ms': 'As `limits.http.headers_timeout_ms`, for the admin listener.',
  'limits.admin.request_timeout_ms': 'As `limits.http.request_timeout_ms`, for the admin listener.',
  'limits.admin.keep_alive_timeout_ms': 'As `limits.http.keep_alive_timeout_ms`, for the admin listener.',
  'limits.admin.idle_timeout_ms': 'As `limits.http.idle_timeout_ms`, for the admin listener.',
  realm: 'The realm in `WWW-Authenticate: Bearer realm="..."`. Printable ASCII without `"` or `\\`.',
  issuers: 'Allowed token issuers.',
  'issuers[].name': 'Short name used in logs, metrics, `issuer` requirements and `x-`headers. Unique.',
  'issuers[].issuer':
    'The exact `iss` value. Unique. May be a template with one `{tenant}` placeholder (Entra ID: `https://login.microsoftonline.com/{tenant}/v2.0`); it then needs `tenants` and `jwks_uri` (or `jwks_file`).',
  'issuers[].profile':
    'What this provider puts in its access tokens: accepted `typ` values, the audience claim, an access-token marker claim, and where scopes, roles, permissions, groups, tenant, email and client id live. The table and its sources are in providers.md. Every setting it makes can be overridden by the keys below.',
  'issuers[].issuer_aliases':
    "More exact `iss` values accepted by this entry, sharing its key set and its name (an Auth0 tenant behind several custom domains; Google's `accounts.google.com` and `https://accounts.google.com`). Discovery uses `issuer`. Not with a template.",
  'issuers[].tenants':
    "The tenants a `{tenant}` template accepts; each becomes one exact `iss` value. A token naming any other tenant is refused with `ERR_ISSUER_NOT_ALLOWED` before any network call, and a template without a list is a config error. The token's tenant claim (`tid` with the `entra` profile; a template needs a profile or `claims.tenant` that reads one) must equal the tenant its `iss` names, else 401 `ERR_TENANT_MISMATCH`. Use the directory (tenant) GUIDs exactly as `tid` and `iss` carry them (lower case); the comparison is exact.",
  'issuers[].required':
    'With `server.readiness: required_issuers`, the replica is not ready while this issuer has no usable keys. Mark the partners whose outage should pull the replica.',
  'issuers[].audience_claim':
    'Claim the audience check reads. Cognito access tokens have no `aud`; their `client_id` is the app client id.',
  'issuers[].access_token_claim':
    "A claim that must hold this value, so the issuer's ID tokens are refused (`ERR_TOKEN_TYPE_INVALID`): `token_use: access` for `cognito`, `typ: Bearer` for `keycloak`. `false` turns the profile's check off.",
  'issuers[].access_token_claim.path': 'Claim to read.',
  'issuers[].access_token_claim.equals': 'Value it must have.',
  'issuers[].claims':
    "Where the principal's fields live in this issuer's tokens. Each key is a list of claim paths and replaces the profile's list for that field. `scopes`: the first path present wins (a string is split on spaces, an array is taken as is; a claim named `scope` must be a string). `roles`, `groups`, `permissions`: the union of every path (`permissions` reads arrays only). `tenant`, `email`, `client_id`: the first path holding a non-empty string.",
  'issuers[].claims.scopes': 'E.g. `[scope]`, `[scp]`.',
  'issuers[].claims.roles': 'E.g. `[realm_access.roles, resource_access.my-api.roles]`.',
  'issuers[].claims.permissions': 'E.g. `[permissions]`.',
  'issuers[].claims.groups': 'E.g. `[groups]`, `["cognito:groups"]`.',
  'issuers[].claims.tenant': 'E.g. `[tid]`, `[org_id]`.',
  'issuers[].claims.email': 'E.g. `[email]`, `["https://example.com/email"]`.',
  'issuers[].claims.client_id': 'E.g. `[azp, appid]`, `[cid]`.',
  'issuers[].discovery':
    'Fetch `{issuer}/.well-known/openid-configuration`; its `issuer` must equal `issuer` exactly, and its `jwks_uri` is used.',
  'issuers[].jwks_uri': 'Fetch keys from this JWKS URL instead of discovery.',
  'issuers[].jwks_file':
    'Read keys from a local JWKS file (air-gapped setups, tests). Only one of `discovery`, `jwks_uri`, `jwks_file`.',
  'issuers[].audiences':
    "The token's `aud` (string or array) must contain one of these, by exact match. Mandatory: the audience is what stops an ID token or another API's token from being replayed here.",
  'issuers[].algorithms':
    "Signing algorithms accepted from this issuer. Asymmetric only: `none` and HMAC cannot be configured. A JWK's own `alg` can narrow this, never widen it.",
  'issuers[].token_type':
    "Overrides the profile's accepted `typ` values. `at+jwt` requires the RFC 9068 header `typ: at+jwt` (or `application/at+jwt`). `legacy` also accepts `JWT` or no `typ`. Every profile accepts `at+jwt`; `okta` and `cognito` also accept no `typ`, `auth0`, `entra`, `keycloak` and `google` also `JWT` (see providers.md); the mandatory audience keeps ID tokens out.",
  'issuers[].clock_skew_seconds': 'Tolerance for `exp`, `nbf` and `iat`.',
  'issuers[].max_token_age_seconds': 'If set, tokens whose `iat` is older are refused (and `iat` becomes required).',
  'issuers[].max_token_bytes':
    'Longest token accepted from this issuer. The largest value of all issuers is enforced before the token is even decoded.',
  'issuers[].token_locations':
    "Where this issuer's tokens may be. A request carrying tokens in two places (or two tokens in one) is refused with 400.",
  'issuers[].token_locations[].header':
    'A request header: with `scheme`, the value is `<scheme> <token>` (scheme case-insensitive); without, the whole value is the token.',
  'issuers[].token_locations[].scheme': 'Authentication scheme in front of the token, e.g. `Bearer`.',
  'issuers[].token_locations[].cookie': 'Take the token from this cookie instead of a header.',
  'issuers[].roles_claim':
    'Shorthand for `claims.roles: [path]` (kept from before profiles): `realm_access.roles`, `https://example.com/roles` (Auth0 namespaced claims; a name containing `://` is one claim), `cognito:groups`, or a list of segments. `claims.roles` wins when both are set.',
  'issuers[].allow_insecure_http': 'Allow `http://` for discovery and JWKS. Only for loopback tests and demos.',
  'issuers[].jwks_hosts':
    "Egress policy: hosts besides the issuer's own origin that a discovery document's `jwks_uri` may name (e.g. `www.googleapis.com` for Google). Any other `jwks_uri` is refused without a request (`jwks_uri_not_allowed`). A configured `jwks_uri` is the operator's choice and is not restricted.",
  'issuers[].allow_private_jwks_hosts':
    'Let a `jwks_hosts` entry resolve to loopback or private addresses (RFC 1918, RFC 6598, `fc00::/7`). Link-local and cloud-metadata addresses (`169.254.0.0/16`, `fe80::/10`, `fd00:ec2::254`), unspecified and multicast addresses are refused regardless.',
  'issuers[].binding':
    'Sender-constrained tokens of this issuer (binding.md): `none` accepts only unbound tokens, `allowed` also bound ones with their DPoP proof or client certificate, `required` only bound ones. A token carrying `cnf` is never accepted as a plain bearer token.',
  'issuers[].keys': 'Key fetching policy (see keys.md).',
  'issuers[].keys.cooldown_seconds':
    'Issuer-wide minimum time between two on-demand refetches (an unknown `kid`, or a signature failure under a known `kid`). Bounds IdP traffic under a flood of random kids, and is the longest a newly published key waits under such a flood. See keys.md.',
  'issuers[].keys.kid_cooldown_seconds':
    'Per kid: a `kid` a refetch did not find is refused without another refetch for this long, then re-checked (a token seen just before its key was published is accepted seconds later).',
  'issuers[].keys.min_refresh_seconds':
    "Lower bound for the key set's time to live (from the IdP's `Cache-Control: max-age`).",
  'issuers[].keys.max_refresh_seconds':
    'Upper bound for the time to live, and the TTL when the IdP sends none. Refreshes happen in the background with ±10 % jitter.',
  'issuers[].keys.max_stale_seconds':
    "While refreshes fail, the last good keys keep verifying until this long after the last success (or until the set's own refresh time, if that is later); then the issuer fails closed (503).",
  'issuers[].keys.fetch_timeout_ms': 'Timeout of one discovery or JWKS request.',
  'issuers[].keys.max_response_bytes': 'Largest discovery or JWKS body accepted (also bounds introspection answers).',
  'issuers[].introspection':
    "RFC 7662 introspection of this issuer's opaque tokens; which tokens come here is set by `opaque_tokens` (see opaque-tokens.md). Not with a `{tenant}` template.",
  'issuers[].introspection.endpoint':
    "Introspection endpoint; default: `introspection_endpoint` from the issuer's discovery document. Plain `http` only with `allow_insecure_http`.",
  'issuers[].introspection.client_id': "claimgate's client id at the IdP.",
  'issuers[].introspection.auth_method':
    'How claimgate authenticates (RFC 6749 §2.3.1; RFC 7523 for `private_key_jwt`).',
  'issuers[].introspection.client_secret_file':
    'File holding the client secret (a trailing newline is ignored). Read on start and on every reload; never logged.',
  'issuers[].introspection.client_secret_env': 'Environment variable holding the client secret (instead of a file).',
  'issuers[].introspection.private_key_file':
    'PEM private key (RSA, EC P-256/P-384, Ed25519) for `private_key_jwt`; re-read on reload.',
  'issuers[].introspection.private_key_kid': '`kid` in the `private_key_jwt` assertion header.',
  'issuers[].introspection.token_type_hint': 'RFC 7662 `token_type_hint` sent with each request; `false` sends none.',
  'issuers[].introspection.jwt_response':
    "Ask for an RFC 9701 signed JWT response (`Accept: application/token-introspection+jwt`), verified with this issuer's keys.",
  'issuers[].introspection.require_audience':
    'Refuse an active answer without `aud` (RFC 7662 makes it optional); with `aud`, one of `audiences` must be in it.',
  'issuers[].introspection.timeout_ms':
    "Timeout of one call, never longer than `server.check_deadline_ms` (the Check's own deadline also applies).",
  'issuers[].introspection.max_concurrent':
    'Introspection calls in flight toward this endpoint at once; more wait their turn.',
  'issuers[].introspection.max_cache_ttl_seconds':
    "Longest an answer is reused (never past the token's `exp`): a revocation takes up to this long to be seen.",
  'issuers[].introspection.max_cache_entries': 'Answers kept (LRU); 0 caches nothing (single-flight still applies).',
  'issuers[].introspection.stale_if_error_seconds':
    'How long past its expiry a cached answer may stand in while the endpoint fails; 0 = never (an outage is a 503).',
  routes: 'The route rules, in order.',
  'routes[].name': 'Used in logs, metrics and Envoy dynamic metadata. Unique.',
  'routes[].match': 'Conditions; all given ones must hold.',
  'routes[].match.hosts':
    'Exact host names or `*.example.com` wildcards (any subdomain depth, not the apex). Case-insensitive, port ignored.',
  'routes[].match.methods': '`GET` does not imply `HEAD`.',
  'routes[].match.path': 'Exactly one of `exact`, `prefix`, `template`.',
  'routes[].match.path.exact': 'The normalized path equals this (one trailing slash ignored).',
  'routes[].match.path.prefix': 'Segment-aware prefix: `/admin` matches `/admin`, `/admin/x`, not `/administrator`.',
  'routes[].match.path.template':
    'Literal segments and `{name}` placeholders, each matching one non-empty segment: `/orders/{id}`.',
  'routes[].match.ignore_case':
    "Compare paths case-insensitively. With any such route, request paths holding a character that another router's case folding maps onto ASCII (`İ`, `ı`, `ſ`, Kelvin `K`, …) are refused (400, routing.md).",
  'routes[].public':
    'No token needed (health checks, docs). Identity headers are still removed so a client cannot forge them.',
  'routes[].require': 'What the verified token must satisfy (below).',
  'routes[].shadow':
    'A candidate policy evaluated beside `require` and never enforced; refused on a public route (policy.md).',
  'routes[].shadow.require':
    'The candidate requirement; each verified request where it and `require` disagree is logged and counted in `claimgate_shadow_disagreements_total`.',
  'routes[].binding':
    "Sender-constrained tokens on this route; overrides the issuer's `binding`, except that an issuer's `required` is never lowered.",
  opaque_tokens:
    'Which opaque (non-JWT) tokens are introspected where. A token with exactly two dots is a JWT and is always verified locally; any other token goes to the issuer of the first rule it matches, and is refused (`ERR_TOKEN_MALFORMED`) when none matches. Never sent to several endpoints.',
  'opaque_tokens[].issuer': 'An issuer with `introspection` settings.',
  'opaque_tokens[].prefix':
    'The token must start with this (e.g. a vendor prefix); a rule without prefix takes every other opaque token and must come last.',
  enrichment: 'Lookups, applied in order to every token of the issuers they name.',
  'enrichment[].name': 'Short name used in logs and metrics.',
  'enrichment[].issuers': 'Issuers whose tokens are enriched; all when omitted.',
  'enrichment[].url':
    "GET URL; `{subject}` becomes the token's `sub`, percent-encoded (e.g. `https://TENANT.auth0.com/api/v2/users/{subject}/roles?per_page=100`).",
  'enrichment[].client_credentials':
    "claimgate's own M2M access token for the lookup (RFC 6749 §4.4), sent as `Authorization: Bearer`.",
  'enrichment[].client_credentials.token_url': 'Token endpoint (Auth0: `https://TENANT.auth0.com/oauth/token`).',
  'enrichment[].client_credentials.client_id': "claimgate's M2M client id.",
  'enrichment[].client_credentials.auth_method': 'Client authentication at the token endpoint.',
  'enrichment[].client_credentials.client_secret_file': 'File holding the secret; re-read on reload, never logged.',
  'enrichment[].client_credentials.client_secret_env': 'Environment variable holding the secret.',
  'enrichment[].client_credentials.private_key_file': 'PEM private key for `private_key_jwt`.',
  'enrichment[].client_credentials.private_key_kid': '`kid` of the `private_key_jwt` assertion.',
  'enrichment[].client_credentials.audience':
    '`audience` parameter (Auth0: the API identifier, `https://TENANT.auth0.com/api/v2/`).',
  'enrichment[].client_credentials.scope': '`scope` parameter.',
  'enrichment[].client_credentials.renew_before_seconds':
    'Renew this long before `expires_in` runs out (at the latest at half the lifetime).',
  'enrichment[].map': 'How the JSON answer becomes principal fields.',
  'enrichment[].map[].field': "Principal field the values are added to (union with the token's own).",
  'enrichment[].map[].path':
    "Where the list is in the answer; the whole body when omitted (Auth0's roles endpoint answers an array).",
  'enrichment[].map[].item':
    'Take this member of each element (`name` for Auth0 roles); the elements themselves when omitted.',
  'enrichment[].cache_ttl_seconds':
    "How long a subject's answer is reused; a role change takes up to this long to be seen.",
  'enrichment[].max_cache_entries': 'Subjects kept (LRU).',
  'enrichment[].stale_if_error_seconds':
    'How long past its TTL a cached answer may stand in while the service fails; 0 = never.',
  'enrichment[].timeout_ms': 'Timeout of one call (token or lookup), never longer than `server.check_deadline_ms`.',
  'enrichment[].max_concurrent': 'Lookups in flight at once toward the service.',
  'enrichment[].max_response_bytes': 'Largest answer accepted.',
  'enrichment[].allow_insecure_http': 'Plain `http` for `url` and `token_url`; loopback tests and demos only.',
  shadow_mode:
    "Whole-config shadow mode, for onboarding a deployment: decide and log as usual, then allow every request the policy refuses (`OK_SHADOW_MODE`, the would-be code in the log's `would_deny`) with no identity headers. Forged header spellings, method overrides, invalid paths or hosts and requests with unread header lines are still refused. Logged at `warn` at start and on each reload while on. See policy.md.",
  unmatched:
    'What a request that matches no route gets: 403 `ERR_ROUTE_NOT_FOUND`, or allowed for any valid token of any issuer.',
  upstream: 'Identity headers for the upstream.',
  'upstream.headers':
    'Identity headers set from the verified token: each has `name` and either `claim` or `principal`.',
  'upstream.headers[].name':
    'Header to set (lower-cased). Protocol headers (`host`, `authorization`, `cookie`, ...) are refused.',
  'upstream.headers[].claim':
    'A raw claim to read: strings as is, numbers and booleans as text (numbers too large to be exact as the token wrote them), arrays of scalars joined with `array_separator`, objects as JSON. Unusable values are not forwarded (see Claim values).',
  'upstream.headers[].principal':
    "A field of the token's principal: the same header whatever the partner's claim names (`roles` is Keycloak's `realm_access.roles`, Entra's `roles`, ...). Lists are joined with `array_separator`; an empty list, an absent field or one the principal could not read (see Claim values) removes the header. `qualified_subject` is `<issuer name>|<sub>` (`<issuer name>/<tenant>|<sub>` for a template issuer): it never collides across issuers (see providers.md).",
  'upstream.payload_header':
    "Also forward the whole verified payload, base64url JSON (the token's own payload segment), in this header.",
  'upstream.strip_token':
    'Remove the header that carried the token (e.g. `authorization`) before the upstream. A token in a cookie is not stripped (the cookie header carries other cookies).',
  'upstream.max_header_bytes': 'Values longer than this are never forwarded (the header is removed instead).',
  'upstream.array_separator': 'Separator for array claims.',
  'upstream.identity_jwt': 'A short-lived JWT claimgate signs for the upstream (see upstream-identity.md).',
  'upstream.identity_jwt.header':
    'Header carrying it; owned by claimgate (a client copy is removed, also on public routes).',
  'upstream.identity_jwt.issuer': "The JWT's `iss`: claimgate's name as the upstream knows it.",
  'upstream.identity_jwt.audience': "The JWT's `aud`: the upstream.",
  'upstream.identity_jwt.lifetime_seconds': '`exp` − `iat`. A signed JWT is reused per principal for half of it.',
  'upstream.identity_jwt.claims':
    'Principal fields carried as claims; the JWT has exactly these besides `iss`, `aud`, `iat`, `exp`.',
  'upstream.identity_jwt.claims[].name': 'Claim name (not `iss`, `aud`, `iat`, `exp`, `nbf`, `jti`).',
  'upstream.identity_jwt.claims[].principal':
    'As in `upstream.headers[].principal`; lists become JSON arrays, absent or empty fields are left out.',
  'upstream.identity_jwt.keys':
    'PEM private keys (RSA → RS256, EC P-256 → ES256, P-384 → ES384, Ed25519 → EdDSA); the first signs, all are published at `/.well-known/jwks.json` on the admin listener. Re-read on reload.',
  'upstream.identity_jwt.keys[].private_key_file': 'The key file.',
  'upstream.identity_jwt.keys[].kid': 'Its `kid` in the JWT header and the JWKS.',
  resource_metadata: 'RFC 9728 protected-resource metadata.',
  'resource_metadata.resource': "The API's resource identifier, without a fragment (usually its audience).",
  'resource_metadata.resource_name': 'Human-readable API name.',
  'resource_metadata.resource_documentation': "The API's developer documentation.",
  http: 'HTTP front doors.',
  'http.address': 'Where the HTTP listener binds. Port `0` picks a free port.',
  'http.envoy_path_prefix':
    "Envoy HTTP service mode: requests under this prefix are the original request (original method, `Host` and allowed headers) at `<prefix><original path>`. Set Envoy's `http_service.path_prefix` to the same value. Forwarded headers are never read here.",
  'http.forward_auth_path':
    'Forward-auth endpoint (exact path, any method, query ignored). The original request is read from `X-Forwarded-Method` / `X-Original-Method`, `X-Forwarded-Uri` / `X-Original-URI` and `X-Forwarded-Host`. Must not be under `envoy_path_prefix`.',
  'http.trusted_proxies':
    "Peers allowed to call the forward-auth endpoint. A forward-auth request from any other peer is refused (400 `invalid_request`, `x-claimgate-detail` says why), never treated as a request for the endpoint's own path. An empty list turns forward auth off.",
};
