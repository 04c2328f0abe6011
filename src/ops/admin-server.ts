/**
 * The admin HTTP listener, separate from the gRPC port: /metrics for Prometheus, /healthz (the
 * process is alive), /readyz (config loaded and key readiness met; 503 while draining), /status
 * (per-issuer key state as JSON, for `claimgate status`).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { KeySourceState } from '../keys/key-source.js';

export interface AdminServerOptions {
  readonly address: string;
  readonly registry: Registry;
  readonly ready: () => boolean;
  readonly status: () => { ready: boolean; config_loaded_at: string; issuers: KeySourceState[] };
}

export interface AdminServer {
  readonly port: number;
  close(): Promise<void>;
}

export function splitHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(address.slice(i + 1)) };
}

export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed\n');
    if (path === '/healthz') return send(200, 'text/plain', 'ok\n');
    if (path === '/readyz') return options.ready() ? send(200, 'text/plain', 'ready\n') : send(503, 'text/plain', 'not ready\n');
    if (path === '/status') return send(200, 'application/json', `${JSON.stringify(options.status(), null, 2)}\n`);
    if (path === '/metrics') {
      options.registry.metrics().then(
        (text) => send(200, options.registry.contentType, text),
        () => send(500, 'text/plain', 'metrics unavailable\n'),
      );
      return;
    }
    send(404, 'text/plain', 'not found\n');
  });
  server.keepAliveTimeout = 5000;
  const { host, port } = splitHostPort(options.address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new Error(`cannot listen on ${options.address}: ${e.message}`)));
    server.listen(port, host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
