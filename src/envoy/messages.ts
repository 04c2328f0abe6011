/**
 * TypeScript shapes of the ext_authz messages as @grpc/proto-loader hands them to us (and takes
 * them back) with `SERVER_LOADER_OPTIONS` (proto.ts): snake_case names, every field optional (absent
 * on the wire = absent here), int64 as decimal strings, enums as names, bytes as Buffers.
 * Only the fields claimgate reads or writes are typed; the rest pass through untyped.
 */

/** `envoy.config.core.v3.HeaderValue` as received (header_map) or sent (mutations). */
export interface HeaderValueMessage {
  key?: string;
  value?: string;
  /** Raw header bytes (request `header_map` only); may be non-UTF-8. */
  raw_value?: Uint8Array;
}

/** `envoy.service.auth.v3.AttributeContext.HttpRequest`, the fields we read. */
export interface HttpRequestMessage {
  id?: string;
  method?: string;
  /** Header name → value; Envoy joins repeated headers with ','. */
  headers?: Record<string, string>;
  path?: string;
  host?: string;
  scheme?: string;
  protocol?: string;
  /** int64 as a decimal string. */
  size?: string;
  /** Filled instead of `headers` when Envoy's `encode_raw_headers` is on. */
  header_map?: { headers?: HeaderValueMessage[] };
}

/** `envoy.service.auth.v3.AttributeContext`, the parts we read. */
export interface AttributeContextMessage {
  /** The downstream peer; `certificate` is its URL-encoded PEM when Envoy's include_peer_certificate is on. */
  source?: { certificate?: string };
  request?: { http?: HttpRequestMessage };
  context_extensions?: Record<string, string>;
  tls_session?: { sni?: string };
}

/** `envoy.service.auth.v3.CheckRequest` as decoded by the server. */
export interface CheckRequestMessage {
  attributes?: AttributeContextMessage;
}

/** `envoy.config.core.v3.HeaderValueOption.HeaderAppendAction` names. */
export type HeaderAppendActionName =
  'APPEND_IF_EXISTS_OR_ADD' | 'ADD_IF_ABSENT' | 'OVERWRITE_IF_EXISTS_OR_ADD' | 'OVERWRITE_IF_EXISTS';

/** `envoy.config.core.v3.HeaderValueOption` as we send it: always `value`, never `raw_value`. */
export interface HeaderValueOptionMessage {
  header: { key: string; value: string };
  append_action: HeaderAppendActionName;
}

/** `google.protobuf.Value` in protobufjs' object form (its bundled struct.proto uses camelCase). */
export type ValueMessage =
  | { stringValue: string }
  | { numberValue: number }
  | { boolValue: boolean }
  | { nullValue: 'NULL_VALUE' }
  | { structValue: StructMessage }
  | { listValue: { values: ValueMessage[] } };

/** `google.protobuf.Struct` in protobufjs' object form. */
export interface StructMessage {
  fields: Record<string, ValueMessage>;
}

/** `google.rpc.Status`: `code` is a google.rpc.Code number (0 = allow, omitted when 0). */
export interface RpcStatusMessage {
  code?: number;
  message?: string;
}

/** `envoy.service.auth.v3.DeniedHttpResponse` (also the type of `error_response`). */
export interface DeniedHttpResponseMessage {
  /** `envoy.type.v3.HttpStatus`; `code` is a `StatusCode` enum name such as `Unauthorized`. */
  status: { code: string };
  headers: HeaderValueOptionMessage[];
  body: string;
}

/** `envoy.service.auth.v3.OkHttpResponse`, the fields we send. */
export interface OkHttpResponseMessage {
  headers?: HeaderValueOptionMessage[];
  headers_to_remove?: string[];
}

/** `envoy.service.auth.v3.CheckResponse` as we send it (at most one of the three http responses). */
export interface CheckResponseMessage {
  status: RpcStatusMessage;
  ok_response?: OkHttpResponseMessage;
  denied_response?: DeniedHttpResponseMessage;
  /** Field 5, new in 2025: Envoy answers with it for authorization-server errors. */
  error_response?: DeniedHttpResponseMessage;
  dynamic_metadata?: StructMessage;
}
