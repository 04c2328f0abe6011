/**
 * Bounds on the HTTP listeners (the front door and the admin listener): a connection cap and timeouts
 * for a request head, a whole request, a kept-alive connection and an idle socket. Past a bound the
 * connection is refused or closed cleanly, counted, and logged at most once per interval per reason.
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../log.js';

export interface HttpListenerBounds {
  /** Open connections; more are closed as soon as they are accepted. */
  readonly max_connections: number;
  /** Time to receive a complete request head. */
  readonly headers_timeout_ms: number;
  /** Time to receive a complete request. */
  readonly request_timeout_ms: number;
  /** How long an idle kept-alive connection stays open after a response. */
  readonly keep_alive_timeout_ms: number;
  /** A socket with no traffic at all for this long is closed. */
  readonly idle_timeout_ms: number;
}

/** Bounds of the gRPC listener (`limits.grpc`), applied through grpc-js server options. */
export interface GrpcListenerBounds {
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS: streams one connection may have open; more are refused. */
  readonly max_concurrent_streams: number;
  /** Node's HTTP/2 session memory cap (MiB) per connection; past it new streams are refused. */
  readonly max_session_memory_mib: number;
  /** A stream must deliver its whole CheckRequest within this, or it is cancelled (half-open streams). */
  readonly request_timeout_ms: number;
  /** A connection with no open stream for this long is closed (GOAWAY). */
  readonly max_connection_idle_ms: number;
  /** A connection older than this (±10 % jitter) is asked to go away; clients reconnect. */
  readonly max_connection_age_ms: number;
  /** After that GOAWAY, open streams get this long before the connection is closed. */
  readonly max_connection_age_grace_ms: number;
  /** Ping a connection after this long without traffic ... */
  readonly keepalive_time_ms: number;
  /** ... and close it when the ping is not answered within this. */
  readonly keepalive_timeout_ms: number;
}

export const GRPC_BOUNDS: GrpcListenerBounds = Object.freeze({
  max_concurrent_streams: 256,
  max_session_memory_mib: 32,
  request_timeout_ms: 10_000,
  max_connection_idle_ms: 300_000,
  max_connection_age_ms: 1_800_000,
  max_connection_age_grace_ms: 30_000,
  keepalive_time_ms: 60_000,
  keepalive_timeout_ms: 20_000,
});

/** Defaults of the `limits.http` config block (the HTTP front door). */
export const HTTP_BOUNDS: HttpListenerBounds = Object.freeze({
  max_connections: 4096,
  headers_timeout_ms: 10_000,
  request_timeout_ms: 10_000,
  keep_alive_timeout_ms: 5_000,
  idle_timeout_ms: 60_000,
});

/** Defaults of the `limits.admin` config block: probes and scrapes need few connections. */
export const ADMIN_BOUNDS: HttpListenerBounds = Object.freeze({
  max_connections: 64,
  headers_timeout_ms: 5_000,
  request_timeout_ms: 10_000,
  keep_alive_timeout_ms: 5_000,
  idle_timeout_ms: 30_000,
});

/** Options node:http takes only at creation. Timeouts are checked every second (Node's default: 30 s). */
export function httpServerOptions(bounds: HttpListenerBounds): {
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  connectionsCheckingInterval: number;
} {
  return {
    headersTimeout: bounds.headers_timeout_ms,
    requestTimeout: bounds.request_timeout_ms,
    keepAliveTimeout: bounds.keep_alive_timeout_ms,
    connectionsCheckingInterval: Math.min(1000, bounds.headers_timeout_ms),
  };
}

export type BoundReason = 'max_connections' | 'request_timeout' | 'idle_timeout';

export interface BoundsObserver {
  /** Counts one refusal (metrics). Must not throw. */
  readonly refused?: (reason: BoundReason) => void;
  readonly logger?: Logger;
  /** Name in log lines: `http`, `admin`. */
  readonly listener: string;
}

/** At most one log line per reason per interval, with the count since the last line. */
const LOG_INTERVAL_MS = 10_000;

/** Turns refusals into counts and rate-limited warnings. */
export function refusalReporter(
  observer: BoundsObserver,
  nowMs: () => number = Date.now,
): (reason: BoundReason) => void {
  const pending = new Map<BoundReason, { count: number; lastLogMs: number }>();
  return (reason) => {
    try {
      observer.refused?.(reason);
    } catch {
      // Metrics must never change how a listener behaves.
    }
    if (observer.logger === undefined) return;
    const entry = pending.get(reason) ?? { count: 0, lastLogMs: -Infinity };
    entry.count++;
    pending.set(reason, entry);
    const now = nowMs();
    if (now - entry.lastLogMs < LOG_INTERVAL_MS) return;
    observer.logger.warn(
      { listener: observer.listener, reason, count: entry.count },
      'listener bound reached: connections refused or closed',
    );
    entry.count = 0;
    entry.lastLogMs = now;
  };
}

/** Applies the rest of the bounds to a node:http(s) server created with {@link httpServerOptions}. */
export function applyHttpBounds(server: Server, bounds: HttpListenerBounds, observer: BoundsObserver): void {
  const report = refusalReporter(observer);
  server.maxConnections = bounds.max_connections;
  server.setTimeout(bounds.idle_timeout_ms, (socket: Socket) => {
    report('idle_timeout');
    socket.destroy();
  });
  // Node closes a connection over maxConnections right after accepting it and emits 'drop'.
  server.on('drop', () => report('max_connections'));
  server.on('clientError', (err: NodeJS.ErrnoException) => {
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') report('request_timeout');
  });
}

/** The process's soft limit on open descriptors (Linux /proc), or undefined where it cannot be read. */
export function descriptorLimit(limitsText?: string): number | undefined {
  let text = limitsText;
  try {
    text ??= readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return undefined;
  }
  const soft = /^Max open files\s+(\d+)/m.exec(text)?.[1];
  return soft === undefined ? undefined : Number(soft);
}

/**
 * A connection cap above half the descriptor limit lets idle connections on this listener take the
 * descriptors the gRPC port, key fetches and files need (measured: 2,000 idle HTTP connections under a
 * limit of 1,024 blocked new gRPC connections for ~27 s). Returns the warning to log, if any.
 */
export function descriptorWarning(maxConnections: number, limit: number | undefined): string | undefined {
  if (limit === undefined || maxConnections <= limit / 2) return undefined;
  return `max_connections ${maxConnections} exceeds half the open-file limit (${limit}); lower it or raise ulimit -n`;
}
