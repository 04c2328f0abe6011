/**
 * The admin HTTP listener, separate from the gRPC port: /metrics for Prometheus, /healthz (the
 * process is alive), /readyz (config loaded and key readiness met; 503 while draining), /status
 * (per-issuer key state as JSON, for `claimgate status`), and /.well-known/jwks.json (the public keys of
 * the upstream identity JWT, when configured: upstreams reach this internal listener, clients never do).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KeySourceState } from '../keys/key-source.js';
import { parseListenAddress } from '../net/address.js';
import {
  ADMIN_BOUNDS,
  applyHttpBounds,
  httpServerOptions,
  type BoundReason,
  type HttpListenerBounds,
} from '../net/listener-bounds.js';
import type { Logger } from '../log.js';

export interface AdminServerOptions {
  readonly address: string;
  /** Exposition text and its content type (one registry, or the aggregate of cluster workers). */
  readonly metrics: () => Promise<string>;
  readonly metricsContentType: string;
  readonly ready: () => boolean | Promise<boolean>;
  readonly status: () => AdminStatus | Promise<AdminStatus>;
  /** The upstream identity JWKS; 404 when none is configured. */
  readonly jwks?: () => object | undefined | Promise<object | undefined>;
  /** Connection cap and timeouts (`limits.admin`); {@link ADMIN_BOUNDS} by default. */
  readonly bounds?: HttpListenerBounds;
  readonly refused?: (reason: BoundReason) => void;
  readonly logger?: Logger;
}

export const JWKS_PATH = '/.well-known/jwks.json';

export interface AdminStatus {
  readonly ready: boolean;
  readonly config_loaded_at: string;
  readonly issuers: readonly KeySourceState[];
  /** This process's upstream identity JWKS (the cluster primary serves the union of its workers'). */
  readonly upstream_identity_jwks?: { readonly keys: readonly object[] };
  /** Per-worker status when running with several workers. */
  readonly workers?: readonly AdminStatus[];
}

export interface AdminServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const bounds = options.bounds ?? ADMIN_BOUNDS;
  const server: Server = createServer(httpServerOptions(bounds), (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed\n');
    if (path === '/healthz') return send(200, 'text/plain', 'ok\n');
    if (path === '/readyz') {
      Promise.resolve(options.ready()).then(
        (ready) => (ready ? send(200, 'text/plain', 'ready\n') : send(503, 'text/plain', 'not ready\n')),
        () => send(503, 'text/plain', 'not ready\n'),
      );
      return;
    }
    if (path === '/status') {
      Promise.resolve(options.status()).then(
        (status) => send(200, 'application/json', `${JSON.stringify(status, null, 2)}\n`),
        () => send(500, 'text/plain', 'status unavailable\n'),
      );
      return;
    }
    if (path === '/metrics') {
      options.metrics().then(
        (text) => send(200, options.metricsContentType, text),
        () => send(500, 'text/plain', 'metrics unavailable\n'),
      );
      return;
    }
    if (path === JWKS_PATH && options.jwks !== undefined) {
      Promise.resolve(options.jwks()).then(
        (jwks) => {
          if (jwks === undefined) return send(404, 'text/plain', 'no upstream identity configured\n');
          res.writeHead(200, { 'content-type': 'application/jwk-set+json', 'cache-control': 'max-age=60' });
          res.end(req.method === 'HEAD' ? undefined : JSON.stringify(jwks));
        },
        () => send(500, 'text/plain', 'jwks unavailable\n'),
      );
      return;
    }
    send(404, 'text/plain', 'not found\n');
  });
  applyHttpBounds(server, bounds, { listener: 'admin', logger: options.logger, refused: options.refused });
  const { host, port } = parseListenAddress(options.address);
  await new Promise<void>((resolve, reject) => {
    const fail = (e: Error) => reject(new Error(`cannot listen on ${options.address}: ${e.message}`));
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      resolve();
    });
  });
  // After start-up a listener error (e.g. EMFILE on accept) must not become an uncaught exception.
  server.on('error', () => undefined);
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
