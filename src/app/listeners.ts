/**
 * The listeners of one process: gRPC (Envoy ext_authz), the admin listener and the optional HTTP front
 * door. They start in order; if one fails, everything started before it is stopped again. Listen
 * addresses, TLS and limits are read once, from the config the process started with.
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/log.js';
import type { SetTimer } from '../core/timers.js';
import type { DecisionObserver } from '../core/types.js';
import type { Decide } from '../engine/decide.js';
import { startGrpcServer, type GrpcServer } from '../envoy/server.js';
import { frontDoorOptionsFromConfig, startHttpFrontDoor, type HttpFrontDoor } from '../http/server.js';
import { refusalReporter } from '../net/listener-bounds.js';
import { compileClientCheck, grpcServerCredentials } from '../net/tls.js';
import { startAdminServer, type AdminServer, type AdminStatus } from '../ops/admin-server.js';
import type { Metrics } from '../ops/metrics.js';

export interface ListenerContext {
  readonly log: Logger;
  readonly metrics: Metrics;
  /** The decider of the current config, read per request (reload swaps it). */
  readonly decider: () => Decide;
  readonly realm: () => string;
  readonly observe: DecisionObserver;
  readonly ready: () => boolean;
  readonly status: () => AdminStatus;
  /** The upstream-identity JWKS the admin listener publishes, when one is configured. */
  readonly jwks: () => object | undefined;
  /** Start the admin listener (cluster workers leave it to the primary). */
  readonly admin: boolean;
  /** The process's timer; TLS certificate files are re-read on it. */
  readonly setTimer: SetTimer;
}

export interface Listeners {
  readonly grpc: GrpcServer;
  readonly admin: AdminServer | undefined;
  readonly frontDoor: HttpFrontDoor | undefined;
  /** Reloads the gRPC certificate when its files change; stopped at shutdown. */
  readonly grpcTls: ReturnType<typeof grpcServerCredentials> | undefined;
}

export async function startListeners(initial: Config, ctx: ListenerContext): Promise<Listeners> {
  const grpcRefused = refusalReporter({
    listener: 'grpc',
    logger: ctx.log,
    refused: (r) => ctx.metrics.observeRefused('grpc', r),
  });
  let grpcTls: ReturnType<typeof grpcServerCredentials> | undefined;
  let grpc: GrpcServer | undefined;
  let admin: AdminServer | undefined;
  let frontDoor: HttpFrontDoor | undefined;
  // Listeners start in order; if one fails, everything started before it is stopped again.
  try {
    grpcTls =
      initial.tls === undefined
        ? undefined
        : grpcServerCredentials(
            initial.tls,
            (e) => ctx.log.error({ err: e.message }, 'cannot reload TLS certificate; keeping the previous one'),
            ctx.setTimer,
          );
    grpc = await startGrpcServer({
      address: initial.server.grpc_address,
      decider: ctx.decider,
      observe: ctx.observe,
      realm: ctx.realm,
      bounds: initial.limits.grpc,
      streamTimedOut: () => grpcRefused('request_timeout'),
      ...(grpcTls === undefined
        ? {}
        : { credentials: grpcTls.credentials, clientAllowed: compileClientCheck(initial.tls?.allowed_clients) }),
    });
    if (ctx.admin) {
      admin = await startAdminServer({
        address: initial.server.admin_address,
        metrics: () => ctx.metrics.registry.metrics(),
        metricsContentType: ctx.metrics.registry.contentType,
        ready: ctx.ready,
        status: ctx.status,
        jwks: ctx.jwks,
        bounds: initial.limits.admin,
        logger: ctx.log,
        refused: (reason) => ctx.metrics.observeRefused('admin', reason),
      });
    }
    if (initial.http !== undefined) {
      frontDoor = await startHttpFrontDoor(
        frontDoorOptionsFromConfig(initial.http, {
          decider: ctx.decider,
          realm: ctx.realm,
          observe: ctx.observe,
          logger: ctx.log,
          tls: initial.tls,
          setTimer: ctx.setTimer,
          bounds: initial.limits.http,
          refused: (reason) => ctx.metrics.observeRefused('http', reason),
        }),
      );
    }
  } catch (e) {
    await Promise.all([grpc?.shutdown(0), admin?.close(), frontDoor?.close(0)]);
    grpcTls?.stop();
    throw e;
  }
  return { grpc, admin, frontDoor, grpcTls };
}
