/**
 * The node:http(s) listener under the HTTP front door: HTTPS with certificates re-read from files,
 * connection bounds, a bare status for requests Node cannot parse, listening, and a graceful close.
 * What each request is answered is the handler's job (./server.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../core/log.js';
import type { SetTimer } from '../core/timers.js';
import {
  applyHttpBounds,
  descriptorLimit,
  descriptorWarning,
  HTTP_BOUNDS,
  httpServerOptions,
  type BoundReason,
  type HttpListenerBounds,
} from '../net/listener-bounds.js';
import { readSecureContextOptions, watchSecureContext, type TlsConfig } from '../net/tls.js';

/** Largest total size of a request head; above the largest token (64 KiB) plus ordinary headers. */
const MAX_HEAD_BYTES = 96 * 1024;

export interface HttpListenerOptions {
  /** The configured `host:port` (messages) and its parts; port 0 picks a free port. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly tls?: TlsConfig;
  /** The timer the TLS files are re-read on; unref'd real timers by default. */
  readonly setTimer?: SetTimer;
  /** {@link HTTP_BOUNDS} by default. */
  readonly bounds?: HttpListenerBounds;
  readonly refused?: (reason: BoundReason) => void;
  readonly log: Logger;
}

export interface HttpListener {
  readonly port: number;
  /** Stops accepting, lets in-flight requests finish for up to graceMs, then closes every connection. */
  close(graceMs?: number): Promise<void>;
}

export async function listenHttp(
  handle: (req: IncomingMessage, res: ServerResponse) => void,
  options: HttpListenerOptions,
): Promise<HttpListener> {
  const { host, port, log } = options;
  const bounds = options.bounds ?? HTTP_BOUNDS;
  const serverOptions = { maxHeaderSize: MAX_HEAD_BYTES, ...httpServerOptions(bounds) };
  const tlsServer =
    options.tls === undefined
      ? undefined
      : createHttpsServer({ ...serverOptions, ...readSecureContextOptions(options.tls) }, handle);
  const server: Server = tlsServer ?? createServer(serverOptions, handle);
  const stopTlsWatch =
    tlsServer === undefined || options.tls === undefined
      ? () => undefined
      : watchSecureContext(
          options.tls,
          (ctx) => tlsServer.setSecureContext(ctx),
          (e) => log.error({ err: e.message }, 'cannot reload TLS certificate; keeping the previous one'),
          options.setTimer,
        );
  applyHttpBounds(server, bounds, { listener: 'http', logger: log, refused: options.refused });
  const fdWarning = descriptorWarning(bounds.max_connections, descriptorLimit());
  if (fdWarning !== undefined) log.warn({ setting: 'limits.http.max_connections' }, fdWarning);
  // Header lines beyond this are dropped by Node; one more than the adapter accepts lets it notice.
  server.maxHeadersCount = 201;
  server.on('clientError', answerClientError);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((err: Error) => {
    stopTlsWatch();
    throw new Error(`cannot listen on ${options.address}: ${err.message}`);
  });
  // After start-up a listener error (e.g. EMFILE on accept) is logged, never an uncaught exception.
  server.on('error', (err: Error) => log.error({ err: err.message }, 'http front door listener error'));

  return {
    port: (server.address() as AddressInfo).port,
    close(graceMs = 1000) {
      stopTlsWatch();
      return new Promise<void>((resolve) => {
        let done = false;
        const finish = () => {
          if (done) return;
          done = true;
          clearTimeout(force);
          resolve();
        };
        const force = setTimeout(() => {
          server.closeAllConnections();
          finish();
        }, graceMs);
        force.unref();
        server.close(() => finish());
        server.closeIdleConnections();
      });
    },
  };
}

/** Unparseable request, a head over the size cap, or a timeout: a bare status, then close. */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const status =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? '431 Request Header Fields Too Large'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? '408 Request Timeout'
        : err.code?.startsWith('HPE_')
          ? '400 Bad Request'
          : '500 Internal Server Error';
  socket.end(`HTTP/1.1 ${status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
}
