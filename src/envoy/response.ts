/**
 * Decision → CheckResponse. Denials and errors travel inside a gRPC OK reply: a non-zero
 * `status.code` plus the HTTP answer Envoy should send. Every header is sent with
 * OVERWRITE_IF_EXISTS_OR_ADD because Envoy's default action (0) appends to a client's copy.
 */
import { denialHeaders, problemBody } from '../engine/answer.js';
import type { AllowDecision, Decision, DenyDecision, HeaderToSet } from '../engine/types.js';
import type {
  CheckResponseMessage,
  DeniedHttpResponseMessage,
  HeaderValueOptionMessage,
  StructMessage,
  ValueMessage,
} from './messages.js';

/** google.rpc.Code numbers used in `CheckResponse.status.code`. */
export const RpcCode = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  PERMISSION_DENIED: 7,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** Key of claimgate's entry in `dynamic_metadata` (Envoy: `%DYNAMIC_METADATA(envoy.filters.http.ext_authz:claimgate)%`). */
export const METADATA_NAMESPACE = 'claimgate';

/** `envoy.type.v3.StatusCode` name for every HTTP status the enum defines (0 `Empty` excluded: Envoy rejects it). */
export const HTTP_STATUS_NAMES: ReadonlyMap<number, string> = new Map([
  [100, 'Continue'],
  [200, 'OK'],
  [201, 'Created'],
  [202, 'Accepted'],
  [203, 'NonAuthoritativeInformation'],
  [204, 'NoContent'],
  [205, 'ResetContent'],
  [206, 'PartialContent'],
  [207, 'MultiStatus'],
  [208, 'AlreadyReported'],
  [226, 'IMUsed'],
  [300, 'MultipleChoices'],
  [301, 'MovedPermanently'],
  [302, 'Found'],
  [303, 'SeeOther'],
  [304, 'NotModified'],
  [305, 'UseProxy'],
  [307, 'TemporaryRedirect'],
  [308, 'PermanentRedirect'],
  [400, 'BadRequest'],
  [401, 'Unauthorized'],
  [402, 'PaymentRequired'],
  [403, 'Forbidden'],
  [404, 'NotFound'],
  [405, 'MethodNotAllowed'],
  [406, 'NotAcceptable'],
  [407, 'ProxyAuthenticationRequired'],
  [408, 'RequestTimeout'],
  [409, 'Conflict'],
  [410, 'Gone'],
  [411, 'LengthRequired'],
  [412, 'PreconditionFailed'],
  [413, 'PayloadTooLarge'],
  [414, 'URITooLong'],
  [415, 'UnsupportedMediaType'],
  [416, 'RangeNotSatisfiable'],
  [417, 'ExpectationFailed'],
  [421, 'MisdirectedRequest'],
  [422, 'UnprocessableEntity'],
  [423, 'Locked'],
  [424, 'FailedDependency'],
  [426, 'UpgradeRequired'],
  [428, 'PreconditionRequired'],
  [429, 'TooManyRequests'],
  [431, 'RequestHeaderFieldsTooLarge'],
  [500, 'InternalServerError'],
  [501, 'NotImplemented'],
  [502, 'BadGateway'],
  [503, 'ServiceUnavailable'],
  [504, 'GatewayTimeout'],
  [505, 'HTTPVersionNotSupported'],
  [506, 'VariantAlsoNegotiates'],
  [507, 'InsufficientStorage'],
  [508, 'LoopDetected'],
  [510, 'NotExtended'],
  [511, 'NetworkAuthenticationRequired'],
]);

/** The CheckResponse Envoy acts on for a decision. */
export function toCheckResponse(decision: Decision): CheckResponseMessage {
  return decision.outcome === 'allow'
    ? { ...allowResponseWithoutMetadata(decision), dynamic_metadata: decisionMetadata(decision) }
    : denyResponse(decision);
}

/** The allow response minus `dynamic_metadata`, for callers that append pre-encoded metadata bytes. */
export function allowResponseWithoutMetadata(decision: AllowDecision): CheckResponseMessage {
  return {
    status: {},
    ok_response: { headers: decision.headersToSet.map(overwrite), headers_to_remove: allowRemovals(decision) },
  };
}

/** An allow's `headers_to_remove`: lower case, once each, never a header it also sets. */
export function allowRemovals(decision: AllowDecision): string[] {
  const setNames = new Set(decision.headersToSet.map((h) => h.name.toLowerCase()));
  // Envoy removes after it sets, so removing a header we also set would delete our own value.
  const toRemove = new Set<string>();
  for (const name of decision.headersToRemove) {
    const lower = name.toLowerCase();
    if (!setNames.has(lower)) toRemove.add(lower);
  }
  return [...toRemove];
}

function denyResponse(decision: DenyDecision): CheckResponseMessage {
  const http: DeniedHttpResponseMessage = {
    status: { code: httpStatusName(decision) },
    headers: denialHeaders(decision).map(overwrite),
    body: problemBody(decision),
  };
  const status = { code: rpcCode(decision), message: decision.reason };
  const dynamic_metadata = decisionMetadata(decision);
  // error_response (field 5) lets new Envoy builds tell "authz server failed" from "denied";
  // older builds skip the unknown field and answer 403 because status.code is not OK.
  return decision.outcome === 'error'
    ? { status, error_response: http, dynamic_metadata }
    : { status, denied_response: http, dynamic_metadata };
}

function rpcCode(decision: DenyDecision): number {
  if (decision.outcome === 'error') return decision.status === 503 ? RpcCode.UNAVAILABLE : RpcCode.INTERNAL;
  switch (decision.status) {
    case 400:
      return RpcCode.INVALID_ARGUMENT;
    case 401:
      return RpcCode.UNAUTHENTICATED;
    default:
      return RpcCode.PERMISSION_DENIED;
  }
}

/** A status the enum lacks cannot be sent (Envoy validates `defined_only`): fall back to 403 / 500. */
function httpStatusName(decision: DenyDecision): string {
  const name = HTTP_STATUS_NAMES.get(decision.status);
  if (name !== undefined) return name;
  return decision.outcome === 'error' ? 'InternalServerError' : 'Forbidden';
}

function overwrite(header: HeaderToSet): HeaderValueOptionMessage {
  return { header: { key: header.name, value: header.value }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' };
}

/** Route, issuer name and reason only: never token contents, so access logs may show it. */
export function decisionMetadata(decision: Decision): StructMessage {
  const fields: Record<string, ValueMessage> = { reason: { stringValue: decision.reason } };
  if (decision.route !== undefined) fields.route = { stringValue: decision.route };
  if (decision.issuer !== undefined) fields.issuer = { stringValue: decision.issuer };
  return { fields: { [METADATA_NAMESPACE]: { structValue: { fields } } } };
}
