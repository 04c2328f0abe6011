/**
 * A small ext_authz client: sends one CheckRequest the way Envoy would and summarises the answer.
 * Used by `claimgate check`, the demo, and tests that want real gRPC.
 */
import * as grpc from '@grpc/grpc-js';
import type { CheckRequestMessage, CheckResponseMessage, HeaderValueOptionMessage } from '../envoy/messages.js';
import { loadAuthorizationService, loadProtoRoot } from '../envoy/proto.js';

export interface CheckInput {
  readonly method?: string;
  readonly host?: string;
  readonly path?: string;
  /** Extra request headers (lower-cased on send). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly token?: string;
}

export interface CheckSummary {
  /** google.rpc code: 0 allow, 16/7/3 deny, 14/13 error. */
  readonly grpcCode: number;
  readonly kind: 'allow' | 'deny' | 'error';
  readonly httpStatus: number;
  readonly reason?: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly headersToRemove: readonly string[];
  readonly body?: string;
  readonly raw: CheckResponseMessage;
}

export function buildCheckRequest(input: CheckInput): CheckRequestMessage {
  const method = (input.method ?? 'GET').toUpperCase();
  const host = input.host ?? 'api.example.com';
  const path = input.path ?? '/';
  const headers: Record<string, string> = { ':method': method, ':path': path, ':authority': host, ':scheme': 'https' };
  for (const [k, v] of Object.entries(input.headers ?? {})) headers[k.toLowerCase()] = v;
  if (input.token !== undefined) headers.authorization = `Bearer ${input.token}`;
  return { attributes: { request: { http: { method, host, path, scheme: 'https', protocol: 'HTTP/1.1', headers } } } };
}

let statusCodes: Record<string, number> | undefined;
/** envoy.type.v3.StatusCode name → HTTP status number, read from our protos. */
function httpStatusOf(code: string | number | undefined): number {
  if (typeof code === 'number') return code;
  statusCodes ??= loadProtoRoot().lookupEnum('envoy.type.v3.StatusCode').values;
  return statusCodes[code ?? ''] ?? 403;
}

function headerRecord(options: readonly HeaderValueOptionMessage[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of options ?? []) out[h.header.key] = h.header.value;
  return out;
}

export function summarise(response: CheckResponseMessage): CheckSummary {
  const grpcCode = response.status?.code ?? 0;
  const http = response.denied_response ?? response.error_response;
  if (grpcCode === 0) {
    return {
      grpcCode,
      kind: 'allow',
      httpStatus: 200,
      headers: headerRecord(response.ok_response?.headers),
      headersToRemove: response.ok_response?.headers_to_remove ?? [],
      raw: response,
    };
  }
  const headers = headerRecord(http?.headers);
  const httpStatus = httpStatusOf(http?.status?.code);
  return {
    grpcCode,
    kind: response.error_response ? 'error' : 'deny',
    httpStatus,
    reason: headers['x-claimgate-reason'],
    headers,
    headersToRemove: [],
    body: http?.body,
    raw: response,
  };
}

export interface CheckClient {
  check(input: CheckInput | CheckRequestMessage, deadlineMs?: number): Promise<CheckSummary>;
  close(): void;
}

export function createCheckClient(
  address: string,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  options: grpc.ChannelOptions = {},
): CheckClient {
  const Client = grpc.makeGenericClientConstructor(loadAuthorizationService(), 'Authorization');
  const client = new Client(address, credentials, options) as unknown as grpc.Client & {
    Check(
      req: CheckRequestMessage,
      opts: grpc.CallOptions,
      cb: (err: grpc.ServiceError | null, res?: CheckResponseMessage) => void,
    ): void;
  };
  return {
    check(input, deadlineMs = 5000) {
      const request = 'attributes' in input ? input : buildCheckRequest(input as CheckInput);
      return new Promise((resolve, reject) => {
        client.Check(request, { deadline: Date.now() + deadlineMs }, (err, res) =>
          err ? reject(err) : resolve(summarise(res ?? { status: {} })),
        );
      });
    },
    close: () => client.close(),
  };
}
