/**
 * Shared pieces of the integration suites: the claimgate config they run (validated by the real
 * config loader), a running claimgate with a real gRPC client, and small helpers for reading answers.
 * Token surgery (tokens no IdP would issue) comes from test/support/tokens.ts.
 */
import type { Claimgate, ClaimgateOptions } from '../../src/app/claimgate.js';
import { createCheckClient, type CheckClient, type CheckInput, type CheckSummary } from '../../src/cli/check-client.js';
import { validateConfig } from '../../src/validation/load.js';
import type { Config } from '../../src/config/schema.js';
import { startSettledGate } from '../support/gate.js';
import { claimsOf } from '../support/tokens.js';

export const REALM = 'claimgate-it';
export const HOST = 'api.example.com';

/** Identity headers claimgate owns in these suites, by claim. */
export const IDENTITY_HEADERS = [
  { name: 'x-auth-sub', claim: 'sub' },
  { name: 'x-auth-issuer', claim: 'iss' },
  { name: 'x-auth-client', claim: 'client_id' },
  { name: 'x-auth-scope', claim: 'scope' },
  { name: 'x-auth-permissions', claim: 'permissions' },
  { name: 'x-auth-roles', claim: 'https://example.com/roles' },
] as const;
export const OWNED_HEADERS: readonly string[] = IDENTITY_HEADERS.map((h) => h.name);

/** Routes: one per requirement kind the suites exercise. */
export const ROUTES = [
  { name: 'health', match: { path: { exact: '/healthz' } }, public: true },
  {
    name: 'orders-read',
    match: { hosts: [HOST], methods: ['GET'], path: { template: '/orders/{id}' } },
    require: { scope: 'orders:read' },
  },
  {
    name: 'orders-write',
    match: { hosts: [HOST], methods: ['POST'], path: { exact: '/orders' } },
    require: { scope: 'orders:write' },
  },
  { name: 'billing', match: { hosts: [HOST], path: { prefix: '/billing' } }, require: { permission: 'billing:read' } },
  { name: 'admin', match: { hosts: [HOST], path: { prefix: '/admin' } }, require: { role: 'admin' } },
] as const;

export interface IssuerEntry {
  readonly name: string;
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly [key: string]: unknown;
}

/** A full config around these issuers, run through the real schema (defaults filled, typos refused). */
export function gateConfig(issuers: readonly IssuerEntry[], server: Record<string, unknown> = {}): Config {
  return validateConfig(
    {
      server: { grpc_address: '127.0.0.1:0', admin_address: '127.0.0.1:0', shutdown_grace_ms: 1000, ...server },
      logging: { level: 'silent' },
      realm: REALM,
      issuers: issuers.map((i) => ({ allow_insecure_http: true, ...i })),
      routes: ROUTES,
      unmatched: 'deny',
      upstream: { headers: IDENTITY_HEADERS },
    },
    'integration-test',
  );
}

export interface RunningGate {
  readonly gate: Claimgate;
  readonly client: CheckClient;
  check(input: CheckInput): Promise<CheckSummary>;
  close(): Promise<void>;
}

/** Starts claimgate on a free loopback port and waits for every issuer's first key fetch to settle. */
export async function startGate(config: Config, options: ClaimgateOptions = {}): Promise<RunningGate> {
  const gate = await startSettledGate(config, options);
  const client = createCheckClient(`127.0.0.1:${gate.grpcPort}`);
  return {
    gate,
    client,
    check: (input) => client.check({ host: HOST, ...input }),
    async close() {
      client.close();
      await gate.close(500);
    },
  };
}

// ---- tokens ----

export { claimsOf, headerOf, withFlippedSignatureBit, withHeader, withPayload } from '../support/tokens.js';

// ---- answers ----

/** Parameters of a `WWW-Authenticate: Bearer k="v", ...` challenge (RFC 6750 §3). */
export function challengeParams(value: string | undefined): { scheme: string; params: Record<string, string> } {
  if (value === undefined) throw new Error('no WWW-Authenticate header');
  const scheme = value.split(' ', 1)[0] ?? '';
  const params: Record<string, string> = {};
  for (const m of value.slice(scheme.length).matchAll(/\s*([A-Za-z_]+)="([^"]*)"\s*,?/g))
    params[m[1] as string] = m[2] as string;
  return { scheme, params };
}

/** Denial answers carry catalogue text only: no part of the token, nor its claims, is echoed. */
export function expectNothingEchoed(summary: CheckSummary, token: string): void {
  const answer = JSON.stringify(summary.headers) + (summary.body ?? '');
  for (const segment of token.split('.')) if (segment.length >= 8) expect(answer).not.toContain(segment);
  const claims = claimsOf(token);
  for (const value of [claims.sub, claims.jti])
    if (typeof value === 'string' && value.length >= 6) expect(answer).not.toContain(value);
}

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
