/**
 * Loads claimgate's own wire-compatible subset of Envoy's ext_authz protos (repo `proto/`).
 * The server goes through @grpc/proto-loader; tests and benchmarks that need to encode or decode
 * messages directly use the protobufjs reflection root.
 */
import { fileURLToPath } from 'node:url';
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

/**
 * Absolute path of the repo's `proto/` directory. Resolved from this module's URL so it works both
 * from `src/envoy` (ts-jest) and from `dist/envoy` (after `tsc`): both sit two levels below the root.
 */
export const PROTO_DIR: string = fileURLToPath(new URL('../../proto/', import.meta.url));

/** Entry file of the ext_authz service, relative to {@link PROTO_DIR}. */
export const EXTERNAL_AUTH_PROTO = 'envoy/service/auth/v3/external_auth.proto';

/** Fully qualified gRPC service name Envoy calls. */
export const AUTHORIZATION_SERVICE = 'envoy.service.auth.v3.Authorization';

/**
 * Options the server decodes requests with. `keepCase` keeps the proto's snake_case names (what
 * messages.ts types); 64-bit ints as strings and enums as names avoid precision loss and magic
 * numbers; `defaults: false` leaves absent fields absent (cheaper, and presence stays visible);
 * `bytes` is not set so `raw_value`/`raw_body` stay Buffers (no base64 round trip).
 */
export const SERVER_LOADER_OPTIONS: Readonly<protoLoader.Options> = Object.freeze({
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: false,
  includeDirs: [PROTO_DIR],
});

let cachedService: grpc.ServiceDefinition | undefined;

/** The `envoy.service.auth.v3.Authorization` service definition for `grpc.Server#addService` (loaded once). */
export function loadAuthorizationService(): grpc.ServiceDefinition {
  if (cachedService === undefined) {
    const definition = protoLoader.loadSync(EXTERNAL_AUTH_PROTO, { ...SERVER_LOADER_OPTIONS });
    const service = definition[AUTHORIZATION_SERVICE];
    if (service === undefined || !('Check' in service)) {
      throw new Error(`${AUTHORIZATION_SERVICE} not found in ${PROTO_DIR}${EXTERNAL_AUTH_PROTO}`);
    }
    cachedService = service;
  }
  return cachedService;
}

let cachedRoot: protobuf.Root | undefined;

/**
 * A protobufjs root of our protos (`keepCase`), for encoding/decoding outside the gRPC stack.
 * The `google/protobuf/*` well-known types come from protobufjs' bundled copies.
 */
export function loadProtoRoot(): protobuf.Root {
  if (cachedRoot === undefined) {
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : PROTO_DIR + target);
    root.loadSync(EXTERNAL_AUTH_PROTO, { keepCase: true });
    root.resolveAll();
    cachedRoot = root;
  }
  return cachedRoot;
}

/** `CheckRequest` and `CheckResponse` reflection types from {@link loadProtoRoot}. */
export function checkMessageTypes(): { CheckRequest: protobuf.Type; CheckResponse: protobuf.Type } {
  const root = loadProtoRoot();
  return {
    CheckRequest: root.lookupType('envoy.service.auth.v3.CheckRequest'),
    CheckResponse: root.lookupType('envoy.service.auth.v3.CheckResponse'),
  };
}
