/**
 * Incoming HTTP authorization request → RequestView, for the two HTTP front doors:
 *
 * - **Envoy HTTP service mode**: Envoy's `http_service` sends the original request itself, with its
 *   original method, `Host` and headers, at `<path_prefix><original path>`. Forwarded headers are
 *   never read in this mode.
 * - **Forward-auth mode** (nginx `auth_request`, Traefik `ForwardAuth`, Caddy `forward_auth`): the
 *   request arrives at the auth endpoint and describes the original one in forwarded headers. They
 *   are honoured only from trusted proxies, each must appear at most once, and the two spellings of
 *   the same fact (`X-Forwarded-Uri` / `X-Original-URI`, `X-Forwarded-Method` / `X-Original-Method`)
 *   must agree when both are present: a disagreement can only come from a client-sent copy that the
 *   proxy did not overwrite, so it is refused rather than resolved by a precedence rule.
 *
 * Everything here is pure (no sockets) and never throws: a request it cannot read becomes a refusal
 * with a fixed problem text, never a guess. Judgement of the described request is the engine's.
 */
import type { RequestView } from '../core/types.js';
import { MAX_HEADER_ENTRIES, MAX_HEADER_VALUE_BYTES } from '../core/request-limits.js';
import { cachedHostOf } from '../routes/authority.js';

export { MAX_HEADER_ENTRIES, MAX_HEADER_VALUE_BYTES };

/** What the server knows about one incoming HTTP request before any judgement. */
export interface IncomingAuthRequest {
  /** Request method as received. */
  readonly method: string;
  /** Request target as received (`req.url`). */
  readonly url: string;
  /** Node's `rawHeaders`: name, value, name, value, ... (duplicates kept apart, order kept). */
  readonly rawHeaders: readonly string[];
  /** The TCP peer's address. */
  readonly peer?: string | undefined;
  /** DER client certificate of the TLS connection, when claimgate terminates mutual TLS. */
  readonly peerCertificate?: Uint8Array | undefined;
}

/** The one value of a header, or undefined when absent or repeated. */
function single(headers: ReadonlyMap<string, readonly string[]>, name: string): string | undefined {
  const values = headers.get(name);
  return values?.length === 1 ? values[0] : undefined;
}

/** Which endpoint of the listener a request is for. */
export type Endpoint =
  | { readonly kind: 'envoy'; readonly originalPath: string }
  | { readonly kind: 'forward-auth' }
  | { readonly kind: 'unknown' };

/** A request the adapter refuses before the engine sees it; `problem` is fixed text (never request data). */
export interface Refusal {
  readonly ok: false;
  readonly problem: string;
}

export type ViewResult = { readonly ok: true; readonly view: RequestView } | Refusal;

export const PROBLEMS = {
  tooManyHeaders: 'too many request headers, or a header line over the size cap',
  untrustedPeer: 'forward-auth request from a peer that is not in http.trusted_proxies',
  missingMethod: 'forward-auth request without X-Forwarded-Method or X-Original-Method',
  missingUri: 'forward-auth request without X-Forwarded-Uri or X-Original-URI',
  missingHost: 'forward-auth request without X-Forwarded-Host',
  duplicated: 'a forwarded header appears more than once',
  conflicting: 'X-Forwarded-* and X-Original-* describe different requests',
  badMethod: 'forwarded method is not an HTTP method token',
  duplicateHost: 'the Host header appears more than once',
  unknownEndpoint: 'not an endpoint of the claimgate HTTP listener',
  bodyTooLarge: 'authorization requests carry no body',
  internal: 'internal error',
} as const;

const refuse = (problem: string): Refusal => ({ ok: false, problem });

/** RFC 9110 token (method names). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Which endpoint a target addresses. The forward-auth path is matched exactly (query ignored);
 * the Envoy prefix segment-wise: `/envoy/orders` → `/orders`, `/envoy` or `/envoy?x` → `/` plus the
 * query (Envoy prefixes the original `:path`, which always starts with `/` or is `*`).
 */
export function endpointOf(url: string, envoyPathPrefix: string, forwardAuthPath: string): Endpoint {
  const q = url.indexOf('?');
  const pathPart = q === -1 ? url : url.slice(0, q);
  if (pathPart === forwardAuthPath) return { kind: 'forward-auth' };
  if (url.startsWith(envoyPathPrefix)) {
    const rest = url.slice(envoyPathPrefix.length);
    if (rest === '' || rest.startsWith('?')) return { kind: 'envoy', originalPath: `/${rest}` };
    if (rest.startsWith('/')) return { kind: 'envoy', originalPath: rest };
    // `/envoy*` (an OPTIONS * request) is handed on as is and refused by the engine; `/envoyx` is not ours.
    if (rest.startsWith('*')) return { kind: 'envoy', originalPath: rest };
  }
  return { kind: 'unknown' };
}

/**
 * Lower-case name → every value, in order. Returns undefined when there are more header lines than
 * {@link MAX_HEADER_ENTRIES} or a name or value is over the byte cap: silently dropping a line could
 * drop a second credential that the upstream would still receive.
 */
export function readHeaders(rawHeaders: readonly string[]): Map<string, string[]> | undefined {
  if (rawHeaders.length / 2 > MAX_HEADER_ENTRIES) return undefined;
  const headers = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    const value = rawHeaders[i + 1];
    if (typeof name !== 'string' || typeof value !== 'string' || name === '') continue;
    if (name.length > MAX_HEADER_VALUE_BYTES || value.length > MAX_HEADER_VALUE_BYTES) return undefined;
    const key = name.toLowerCase();
    const values = headers.get(key);
    if (values === undefined) headers.set(key, [value]);
    else values.push(value);
  }
  return headers;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * The view of a request the door has read, as one object with its optional fields added only when present
 * (no spread copies: this runs once per request).
 */
function viewOf(
  req: IncomingAuthRequest,
  headers: Map<string, string[]>,
  method: string,
  authority: string,
  path: string,
  scheme: string | undefined,
): RequestView {
  const host = cachedHostOf(authority);
  const view: Writable<RequestView> = { method: method.toUpperCase(), host: host.host, path, headers };
  if (host.hostInvalid === true) view.hostInvalid = true;
  if (scheme !== undefined && scheme !== '') view.scheme = scheme;
  if (authority !== '') view.authority = authority;
  if (req.peer !== undefined) view.peerAddress = req.peer;
  if (req.peerCertificate !== undefined) view.tlsPeerCertificate = req.peerCertificate;
  const requestId = headers.get('x-request-id')?.[0];
  if (requestId !== undefined && requestId !== '') view.requestId = requestId;
  return view;
}

/** Envoy HTTP service mode: the request is the original one, under the prefix. */
export function envoyView(req: IncomingAuthRequest, originalPath: string): ViewResult {
  const headers = readHeaders(req.rawHeaders);
  if (headers === undefined) return refuse(PROBLEMS.tooManyHeaders);
  const hosts = headers.get('host') ?? [];
  if (hosts.length > 1) return refuse(PROBLEMS.duplicateHost);
  return {
    ok: true,
    // Envoy sets x-forwarded-proto on the requests it handles (and overwrites a client's at the edge).
    view: viewOf(req, headers, req.method, hosts[0] ?? '', originalPath, single(headers, 'x-forwarded-proto')),
  };
}

/**
 * The single value of one forwarded fact, read from its X-Forwarded-* and (optionally) X-Original-*
 * spellings: each at most once, equal when both are given.
 */
function forwardedFact(
  headers: ReadonlyMap<string, readonly string[]>,
  primary: string,
  alternate: string | undefined,
): string | undefined | Refusal {
  const a = headers.get(primary) ?? [];
  const b = alternate === undefined ? [] : (headers.get(alternate) ?? []);
  if (a.length > 1 || b.length > 1) return refuse(PROBLEMS.duplicated);
  const first = a[0];
  const second = b[0];
  if (first !== undefined && second !== undefined && first !== second) return refuse(PROBLEMS.conflicting);
  return first ?? second;
}

const isRefusal = (v: unknown): v is Refusal => typeof v === 'object' && v !== null && (v as Refusal).ok === false;

/**
 * Forward-auth mode: the original request is described by forwarded headers. `peerTrusted` says
 * whether the TCP peer is one of `http.trusted_proxies`; from anyone else the request is refused
 * (it would otherwise let a client describe whatever request it likes).
 */
export function forwardAuthView(req: IncomingAuthRequest, peerTrusted: boolean): ViewResult {
  if (!peerTrusted) return refuse(PROBLEMS.untrustedPeer);
  const headers = readHeaders(req.rawHeaders);
  if (headers === undefined) return refuse(PROBLEMS.tooManyHeaders);

  const method = forwardedFact(headers, 'x-forwarded-method', 'x-original-method');
  if (isRefusal(method)) return method;
  const uri = forwardedFact(headers, 'x-forwarded-uri', 'x-original-uri');
  if (isRefusal(uri)) return uri;
  const host = forwardedFact(headers, 'x-forwarded-host', undefined);
  if (isRefusal(host)) return host;
  const proto = forwardedFact(headers, 'x-forwarded-proto', undefined);
  if (isRefusal(proto)) return proto;

  if (method === undefined || method === '') return refuse(PROBLEMS.missingMethod);
  if (uri === undefined || uri === '') return refuse(PROBLEMS.missingUri);
  if (host === undefined || host === '') return refuse(PROBLEMS.missingHost);
  if (!TOKEN.test(method)) return refuse(PROBLEMS.badMethod);

  // A forwarded host that is not one host[:port] reaches the engine flagged: 400 ERR_HOST_INVALID.
  return { ok: true, view: viewOf(req, headers, method, host, uri, proto) };
}
