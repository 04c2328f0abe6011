/**
 * What a typical CEL rule costs on the cached path: `decide` on a token-cache hit for the same request
 * with (a) one scope, (b) the predicate tree scope + tenant claim, (c) the CEL rule "scope granted and
 * the tenant in the path is the token's tenant" (which builds the `request` variable: path params).
 * One core, same process, medians of 5 rounds.
 *
 *   npm run build:bench && taskset -c 0 node dist-bench/bench/cel-rule.js
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../src/validation/load.js';
import type { Decide } from '../src/engine/decide.js';
import type { Engine } from '../src/engine/engine.js';
import type { RequestView } from '../src/core/types.js';
import type { CheckRequestMessage } from '../src/envoy/messages.js';
import { loadAuthorizationService } from '../src/envoy/proto.js';
import { toRequestView } from '../src/envoy/request.js';
import { startSettledEngine } from '../test/support/gate.js';
import { AUDIENCE, ISSUER, checkRequestBytes, generateKeys, realisticClaims, signToken } from './lib/fixtures.js';

const TEMPLATE = '/v1/tenants/{tenant}/orders/{id}';
const PATH = '/v1/tenants/acme/orders/42';
const RULES: Record<string, unknown> = {
  'scope only': { scope: 'orders:read' },
  'tree: scope + tenant claim': { all: [{ scope: 'orders:read' }, { claim: { path: 'tenant', equals: 'acme' } }] },
  'CEL: scope + path tenant': { cel: '"orders:read" in principal.scopes && request.params.tenant == claims.tenant' },
};

async function time(decide: Decide, view: RequestView, n: number): Promise<number> {
  for (let i = 0; i < n / 10; i++) await decide(view);
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await decide(view);
  return Number(process.hrtime.bigint() - start) / n / 1000;
}

async function main(): Promise<void> {
  const keys = generateKeys();
  const dir = mkdtempSync(join(tmpdir(), 'claimgate-cel-bench-'));
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify(keys.jwks));
  const engines: Engine[] = [];
  const service = loadAuthorizationService().Check!;
  const bytes = checkRequestBytes(signToken('RS256', keys, realisticClaims(Math.floor(Date.now() / 1000))));
  const view: RequestView = { ...toRequestView(service.requestDeserialize(bytes) as CheckRequestMessage), path: PATH };
  const deciders: [string, Decide][] = [];
  for (const [name, require] of Object.entries(RULES)) {
    const config = validateConfig({
      issuers: [{ name: 'auth', issuer: ISSUER, audiences: [AUDIENCE], jwks_file: join(dir, 'jwks.json') }],
      routes: [{ name: 'orders', match: { path: { template: TEMPLATE } }, require }],
    });
    const engine = await startSettledEngine(config);
    engines.push(engine);
    deciders.push([name, engine.decide]);
  }
  for (const [name, decide] of deciders) {
    const d = await decide(view);
    if (d.outcome !== 'allow') throw new Error(`${name}: expected an allow, got ${d.reason}`);
  }
  const rounds: Record<string, number[]> = {};
  for (let round = 0; round < 5; round++)
    for (const [name, decide] of deciders) (rounds[name] ??= []).push(await time(decide, view, 100_000));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const base = median(rounds['scope only'] as number[]);
  for (const [name] of deciders) {
    const us = median(rounds[name] as number[]);
    console.log(
      `${`decide (cache hit), ${name}`.padEnd(46)} ${us.toFixed(2).padStart(6)} µs  (+${(us - base).toFixed(2)} µs)`,
    );
  }
  for (const e of engines) e.close();
}

void main();
