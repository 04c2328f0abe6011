/** A running claimgate (gRPC and HTTP doors on loopback) with captured log lines, for the policy tests. */
import { request as httpRequest } from 'node:http';
import type { Claimgate } from '../../src/app/claimgate.js';
import { createCheckClient, type CheckClient } from '../../src/cli/check-client.js';
import { validateConfig } from '../../src/validation/load.js';
import { createLogger } from '../../src/core/log.js';
import { ISSUER_CONFIG } from './policy-harness.js';
import { startSettledGate } from '../support/gate.js';

export class Capture {
  readonly lines: Record<string, unknown>[] = [];
  write(chunk: string): void {
    for (const line of chunk.split('\n')) if (line !== '') this.lines.push(JSON.parse(line) as Record<string, unknown>);
  }
  withMessage(msg: string) {
    return this.lines.filter((l) => l.msg === msg);
  }
}

export function config(extra: Record<string, unknown>) {
  return validateConfig({
    server: { grpc_address: '127.0.0.1:0', admin_address: '127.0.0.1:0', shutdown_grace_ms: 200, watch_config: false },
    http: { address: '127.0.0.1:0' },
    issuers: [ISSUER_CONFIG],
    upstream: { headers: [{ name: 'x-user-id', claim: 'sub' }], strip_token: true },
    ...extra,
  });
}

export interface Running {
  gate: Claimgate;
  client: CheckClient;
  capture: Capture;
}
const running: Running[] = [];
export async function start(extra: Record<string, unknown>): Promise<Running> {
  const capture = new Capture();
  const gate = await startSettledGate(config(extra), { logger: createLogger('info', capture) });
  const run = { gate, client: createCheckClient(`127.0.0.1:${gate.grpcPort}`), capture };
  running.push(run);
  return run;
}
afterAll(async () => {
  for (const r of running) {
    r.client.close();
    await r.gate.close(100);
  }
});

/** The forward-auth door (nginx/Traefik/Caddy style) over loopback: status and response headers. */
export function forwardAuth(port: number, path: string, headers: Record<string, string>, method = 'GET') {
  return new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/auth',
        headers: {
          'x-forwarded-method': method,
          'x-forwarded-uri': path,
          'x-forwarded-host': 'api.example.com',
          ...headers,
        },
        timeout: 5000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}
