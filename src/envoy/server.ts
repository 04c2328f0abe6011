/**
 * The Envoy adapter: `envoy.service.auth.v3.Authorization/Check` over gRPC, plus grpc.health.v1.
 * The handler always answers with a CheckResponse: any exception becomes an error answer (fail
 * closed), never a gRPC transport error (which Envoy would treat under failure_mode_allow).
 */
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import type { ClientCheck } from '../net/tls.js';
import type { Decide } from '../engine/decide.js';
import { REASONS } from '../engine/reasons.js';
import type { Decision, RequestView } from '../engine/types.js';
import type { CheckRequestMessage, CheckResponseMessage } from './messages.js';
import { AUTHORIZATION_SERVICE, loadAuthorizationService } from './proto.js';
import { toRequestView } from './request.js';
import { toCheckResponse } from './response.js';

/** Called once per answered Check (metrics, decision logs). Must not throw. */
export type DecisionObserver = (view: RequestView | undefined, decision: Decision, startedNs: bigint) => void;

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
}

export interface GrpcServer {
  readonly port: number;
  readonly health: HealthImplementation;
  setServing(status: ServingStatus): void;
  /** Stops accepting calls, lets in-flight Checks finish up to graceMs, then forces the rest. */
  shutdown(graceMs: number): Promise<void>;
}

export const INTERNAL_ERROR_DECISION: Decision = Object.freeze({
  outcome: 'error',
  reason: 'ERR_INTERNAL',
  status: REASONS.ERR_INTERNAL.status,
});

const INTERNAL_ERROR_RESPONSE = toCheckResponse(INTERNAL_ERROR_DECISION);

/** Answers one Check; never rejects. */
export async function answerCheck(request: CheckRequestMessage, decide: Decide, observe?: DecisionObserver): Promise<CheckResponseMessage> {
  const started = process.hrtime.bigint();
  let view: RequestView | undefined;
  let decision: Decision;
  let response: CheckResponseMessage;
  try {
    view = toRequestView(request);
    decision = await decide(view);
    response = toCheckResponse(decision);
  } catch {
    // Any failure, including a malformed decision the response builder cannot shape, fails closed.
    decision = INTERNAL_ERROR_DECISION;
    response = INTERNAL_ERROR_RESPONSE;
  }
  try {
    observe?.(view, decision, started);
  } catch {
    // Observability must never change an answer.
  }
  return response;
}

export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServer> {
  const clientAllowed = options.clientAllowed;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': options.maxReceiveMessageBytes ?? 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024,
  });
  server.addService(loadAuthorizationService(), {
    Check(call: grpc.ServerUnaryCall<CheckRequestMessage, CheckResponseMessage>, callback: grpc.sendUnaryData<CheckResponseMessage>) {
      // A caller that is not an allowed proxy gets no decision at all, only a transport-level refusal.
      if (clientAllowed !== undefined && !clientAllowed(call.getAuthContext()?.sslPeerCertificate)) {
        callback({ code: grpc.status.PERMISSION_DENIED, details: 'client certificate identity is not allowed' });
        return;
      }
      void answerCheck(call.request ?? {}, options.decider(), options.observe).then((response) => callback(null, response));
    },
  });
  const health = new HealthImplementation({ '': 'NOT_SERVING', [AUTHORIZATION_SERVICE]: 'NOT_SERVING' });
  health.addToServer(server);

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(options.address, options.credentials ?? grpc.ServerCredentials.createInsecure(), (err, boundPort) =>
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
