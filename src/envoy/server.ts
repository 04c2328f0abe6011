/**
 * The Envoy adapter: `envoy.service.auth.v3.Authorization/Check` over gRPC, plus grpc.health.v1.
 * The handler always answers with a CheckResponse: any exception becomes an error answer (fail
 * closed), never a gRPC transport error (which Envoy would treat under failure_mode_allow).
 */
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import type { ClientCheck } from '../net/tls.js';
import { GRPC_BOUNDS, type GrpcListenerBounds } from '../net/listener-bounds.js';
import type { Decide } from '../engine/decide.js';
import { CLIENT_NOT_ALLOWED_DECISION, denyDecision, INTERNAL_ERROR_DECISION } from '../core/answer.js';
import { answerObserved } from '../engine/answer-observed.js';
import { perSharedDecision } from '../core/shared-decision.js';
import type { AllowDecision, Decision, DecisionObserver, RequestView } from '../core/types.js';
import type { CheckRequestMessage, CheckResponseMessage } from './messages.js';
import { AUTHORIZATION_SERVICE, loadAuthorizationService } from './proto.js';
import { toRequestView, viewOf } from './request.js';
import { decodeCheckRequest, MALFORMED } from './fast-request.js';
import { encodeAllowResponse } from './fast-response.js';
import { requestDeadlines, type RequestDeadlines, type Ticker, type Watched } from './request-deadline.js';
import { allowResponseWithoutMetadata, decisionMetadata, toCheckResponse } from './response.js';

export interface GrpcServerOptions {
  readonly address: string;
  /** Returns the decider of the current config; read once per Check (hot reload swaps it). */
  readonly decider: () => Decide;
  readonly observe?: DecisionObserver;
  /** Largest CheckRequest accepted (bytes). */
  readonly maxReceiveMessageBytes?: number;
  readonly credentials?: grpc.ServerCredentials;
  /** With mutual TLS: whether the caller's verified certificate names an allowed proxy. */
  readonly clientAllowed?: ClientCheck;
  /** Realm of the challenge on the adapter's own refusals (a malformed request); `claimgate` by default. */
  readonly realm?: () => string;
  /** Stream, memory and connection-age bounds (`limits.grpc`); {@link GRPC_BOUNDS} by default. */
  readonly bounds?: GrpcListenerBounds;
  /** Counts a stream cancelled because its request did not arrive in time (metrics, a log line). */
  readonly streamTimedOut?: () => void;
  /** The timer that sweeps half-open calls (an unref'd setInterval by default; tests inject one). */
  readonly deadlineTicker?: Ticker;
}

export interface GrpcServer {
  readonly port: number;
  readonly health: HealthImplementation;
  setServing(status: ServingStatus): void;
  /** Stops accepting calls, lets in-flight Checks finish up to graceMs, then forces the rest. */
  shutdown(graceMs: number): Promise<void>;
}

/** Wire bytes attached to a reused response object, so the serializer does not encode it again. */
const ENCODED = Symbol('claimgate.encodedCheckResponse');
/** Encoded `dynamic_metadata` field to append to an allow response (fields may come in any order). */
const METADATA_BYTES = Symbol('claimgate.encodedMetadata');
type Encodable = CheckResponseMessage & { [ENCODED]?: Buffer; [METADATA_BYTES]?: Buffer };

/** The metadata of an allow depends only on route, issuer and reason: encoded once per combination. */
const MAX_CACHED_METADATA = 1024;
const cachedMetadata = new Map<string, Buffer>();

function metadataBytes(decision: AllowDecision): Buffer {
  const key = `${decision.reason}\u0000${decision.route}\u0000${decision.issuer ?? ''}`;
  let bytes = cachedMetadata.get(key);
  if (bytes === undefined) {
    if (cachedMetadata.size >= MAX_CACHED_METADATA) cachedMetadata.clear();
    bytes = loadAuthorizationService().Check!.responseSerialize({
      dynamic_metadata: decisionMetadata(decision),
    });
    cachedMetadata.set(key, bytes);
  }
  return bytes;
}

/**
 * Denials and errors depend only on catalogue codes and config values (route, issuer, realm, required
 * scopes), so their responses are built and encoded once and reused: a flood of bad tokens costs a map
 * lookup here. Bounded; cleared when full.
 */
const MAX_CACHED_DENIALS = 1024;
const cachedDenials = new Map<string, Encodable>();

function encodeOnce(response: CheckResponseMessage): Encodable {
  const encodable = response as Encodable;
  encodable[ENCODED] = loadAuthorizationService().Check!.responseSerialize(response);
  return encodable;
}

function responseFor(decision: Decision): CheckResponseMessage {
  if (decision.outcome === 'allow') {
    const response: Encodable = allowResponseWithoutMetadata(decision);
    response[METADATA_BYTES] = metadataBytes(decision);
    return response;
  }
  // A fresh DPoP-Nonce differs per answer: such a denial is built each time, never cached.
  if (decision.responseHeaders !== undefined) return toCheckResponse(decision);
  // A document (RFC 9728 metadata) is per config: never shared through the cache keyed on catalogue values.
  if (decision.document !== undefined) return toCheckResponse(decision);
  const key = `${decision.outcome}\u0000${decision.reason}\u0000${decision.status}\u0000${decision.route ?? ''}\u0000${decision.issuer ?? ''}\u0000${decision.challenge ?? ''}`;
  let response = cachedDenials.get(key);
  if (response === undefined) {
    if (cachedDenials.size >= MAX_CACHED_DENIALS) cachedDenials.clear();
    response = encodeOnce(toCheckResponse(decision));
    cachedDenials.set(key, response);
  }
  return response;
}

/** The wire bytes of the answer to a decision; a reused (frozen) decision's are written once. */
const wireResponseFor: (decision: Decision) => Buffer = perSharedDecision(encodedAnswer);

/** Allows written directly, denials encoded once per catalogue values and reused. */
function encodedAnswer(decision: Decision): Buffer {
  if (decision.outcome === 'allow') return encodeAllowResponse(decision, metadataBytes(decision));
  const response: Encodable = responseFor(decision);
  return response[ENCODED] ?? loadAuthorizationService().Check!.responseSerialize(response);
}

/**
 * What the deserializer yields: the request view, decoded straight from the wire (fast-request.ts), or
 * {@link MALFORMED} for bytes that are not a CheckRequest. grpc-js answers a throwing deserializer with a
 * transport error (INTERNAL), which an Envoy with failure_mode_allow would turn into an allow; with this
 * marker the handler answers in band instead.
 */
type IncomingRequest = RequestView | typeof MALFORMED;

/**
 * The Authorization service with claimgate's own (de)serializers: requests decode to a RequestView without
 * proto-loader's object tree (never throwing), responses are wire bytes (or an object with bytes attached).
 */
function checkService(): grpc.ServiceDefinition {
  const service = loadAuthorizationService();
  const check = service.Check!;
  const deserialize = (bytes: Buffer): IncomingRequest => {
    try {
      return decodeCheckRequest(bytes);
    } catch {
      return MALFORMED;
    }
  };
  const encode = check.responseSerialize;
  const serialize = (value: Encodable | Buffer): Buffer => {
    if (Buffer.isBuffer(value)) return value;
    if (value[ENCODED] !== undefined) return value[ENCODED];
    const bytes = encode(value);
    return value[METADATA_BYTES] === undefined ? bytes : Buffer.concat([bytes, value[METADATA_BYTES]]);
  };
  return { ...service, Check: { ...check, requestDeserialize: deserialize, responseSerialize: serialize } };
}

const INTERNAL_ERROR_RESPONSE = encodeOnce(toCheckResponse(INTERNAL_ERROR_DECISION));
const INTERNAL_ERROR_BYTES: Buffer = INTERNAL_ERROR_RESPONSE[ENCODED]!;

/** The view of a refused call (as the object path makes it of an empty CheckRequest). */
const NO_HTTP_REQUEST: RequestView = viewOf(undefined);

/** Answers one Check; never rejects. */
export function answerCheck(
  request: CheckRequestMessage,
  decide: Decide | Decision,
  observe?: DecisionObserver,
  peerAddress?: string,
): Promise<CheckResponseMessage> {
  const started = process.hrtime.bigint();
  return Promise.resolve(
    answerObserved(toRequestView(request, peerAddress), decide, responseFor, INTERNAL_ERROR_RESPONSE, observe, started),
  );
}

/**
 * Answers one Check decoded by the wire decoder (or refused) with the response's wire bytes: at once when
 * the decider answered at once, else through a promise that never rejects.
 */
export function answerView(
  view: RequestView | undefined,
  decide: Decide | Decision,
  observe?: DecisionObserver,
): Buffer | Promise<Buffer> {
  return answerObserved(view, decide, wireResponseFor, INTERNAL_ERROR_BYTES, observe, process.hrtime.bigint());
}

/** The caller's IP address (grpc-js `getPeer()` is `address:port`), for x-forwarded-client-cert trust. */
function peerAddressOf(call: { getPeer(): string }): string | undefined {
  try {
    const peer = call.getPeer();
    const colon = peer.lastIndexOf(':');
    if (colon <= 0) return undefined;
    // `[::1]:5000` → `::1`
    return peer.charCodeAt(0) === 0x5b && peer.charCodeAt(colon - 1) === 0x5d
      ? peer.slice(1, colon - 1)
      : peer.slice(0, colon);
  } catch {
    return undefined;
  }
}

/**
 * Cancels a call whose request has not fully arrived within `timeoutMs`: a half-open stream (headers
 * sent, message never finished) would otherwise hold its slot and memory for as long as the connection
 * lives. Once the request is in, the Check's own deadline (check_deadline_ms) bounds the rest. One
 * sweeping timer keeps every call's deadline (request-deadline.ts), not a timer per call.
 */
function requestDeadline(deadlines: RequestDeadlines, timedOut: () => void): grpc.ServerInterceptor {
  return (_method, call) => {
    let watched: Watched | undefined;
    const settle = () => {
      watched?.settle();
      watched = undefined;
    };
    return new grpc.ServerInterceptingCall(call, {
      start(next) {
        watched = deadlines.watch(() => {
          watched = undefined;
          try {
            timedOut();
          } catch {
            // Observability must never change an answer.
          }
          call.sendStatus({ code: grpc.status.DEADLINE_EXCEEDED, details: 'request not received in time' });
        });
        next(
          new grpc.ServerListenerBuilder()
            .withOnReceiveHalfClose((halfClose) => {
              settle();
              halfClose();
            })
            .withOnCancel(settle)
            .build(),
        );
      },
      sendStatus(status, next) {
        settle();
        next(status);
      },
    });
  };
}

/** grpc-js server options for the bounds (those grpc-js 1.14 honours on the server side). */
function grpcServerOptions(bounds: GrpcListenerBounds): grpc.ServerOptions {
  return {
    'grpc.max_concurrent_streams': bounds.max_concurrent_streams,
    'grpc-node.max_session_memory': bounds.max_session_memory_mib,
    'grpc.max_connection_idle_ms': bounds.max_connection_idle_ms,
    'grpc.max_connection_age_ms': bounds.max_connection_age_ms,
    'grpc.max_connection_age_grace_ms': bounds.max_connection_age_grace_ms,
    'grpc.keepalive_time_ms': bounds.keepalive_time_ms,
    'grpc.keepalive_timeout_ms': bounds.keepalive_timeout_ms,
  };
}

export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServer> {
  const bounds = options.bounds ?? GRPC_BOUNDS;
  const clientAllowed = options.clientAllowed;
  const realmOf = () => {
    try {
      return options.realm?.() ?? 'claimgate';
    } catch {
      return 'claimgate';
    }
  };
  const server = new grpc.Server({
    'grpc.max_receive_message_length': options.maxReceiveMessageBytes ?? 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024,
    // Channelz bookkeeping costs several µs per call (measured in docs/benchmarks.md) and nothing reads it.
    'grpc.enable_channelz': 0,
    ...grpcServerOptions(bounds),
    interceptors: [
      requestDeadline(
        requestDeadlines(bounds.request_timeout_ms, options.deadlineTicker),
        options.streamTimedOut ?? (() => undefined),
      ),
    ],
  });
  server.addService(checkService(), {
    Check(
      call: grpc.ServerUnaryCall<IncomingRequest, CheckResponseMessage | Buffer>,
      callback: grpc.sendUnaryData<CheckResponseMessage | Buffer>,
    ) {
      const request = call.request ?? MALFORMED;
      const reply = (answer: Buffer | Promise<Buffer>) => {
        if (answer instanceof Promise) void answer.then((response) => callback(null, response));
        else callback(null, answer);
      };
      // A caller that is not an allowed proxy gets an in-band denial (never a transport error, which an
      // Envoy with failure_mode_allow would turn into an allow), and the engine is never consulted.
      if (clientAllowed !== undefined && !clientAllowed(call.getAuthContext()?.sslPeerCertificate)) {
        reply(answerView(NO_HTTP_REQUEST, CLIENT_NOT_ALLOWED_DECISION, options.observe));
        return;
      }
      if (request === MALFORMED) {
        // Bytes that are not a CheckRequest: 400 invalid_request, answered in band like every other refusal.
        reply(answerView(NO_HTTP_REQUEST, denyDecision('ERR_REQUEST_MALFORMED', realmOf()), options.observe));
        return;
      }
      const peerAddress = peerAddressOf(call);
      // The deserializer made this view for this call alone: the peer is added to it rather than copied.
      if (peerAddress !== undefined) (request as { peerAddress?: string }).peerAddress = peerAddress;
      reply(answerView(request, options.decider(), options.observe));
    },
  });
  const health = new HealthImplementation({ '': 'NOT_SERVING', [AUTHORIZATION_SERVICE]: 'NOT_SERVING' });
  health.addToServer(server);

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      options.address,
      options.credentials ?? grpc.ServerCredentials.createInsecure(),
      (err, boundPort) =>
        err ? reject(new Error(`cannot listen on ${options.address}: ${err.message}`)) : resolve(boundPort),
    );
  });

  const setServing = (status: ServingStatus) => {
    health.setStatus('', status);
    health.setStatus(AUTHORIZATION_SERVICE, status);
  };

  return {
    port,
    health,
    setServing,
    shutdown(graceMs) {
      setServing('NOT_SERVING');
      return new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        force.unref();
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    },
  };
}
