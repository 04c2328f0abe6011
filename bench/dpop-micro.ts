/**
 * What a DPoP proof costs on the cached path, on one core: `decide` for the same realistic RS256 token
 * (a token-cache hit) presented as a plain bearer token, and bound to a client key and presented with a
 * fresh proof per request (ES256 and PS256 client keys, as a real client sends: a new jti and iat each
 * time). Proofs are signed before the clock starts (signing is the client's cost). Also measures the
 * jti replay memory's heap per entry.
 *
 *   npm run build:bench && taskset -c 0 node --expose-gc dist-bench/bench/dpop-micro.js
 */
import { generateKeyPairSync, createHash, randomUUID, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requestUri } from '../src/binding/binding.js';
import { jwkThumbprint } from '../src/binding/dpop.js';
import { verifySignature } from '../src/token/signature.js';
import { createReplayMemory } from '../src/binding/dpop-replay.js';
import { validateConfig } from '../src/validation/load.js';
import type { RequestView } from '../src/core/types.js';
import type { CheckRequestMessage } from '../src/envoy/messages.js';
import { loadAuthorizationService } from '../src/envoy/proto.js';
import { toRequestView } from '../src/envoy/request.js';
import { rawSign } from '../test/security/harness.js';
import {
  AUDIENCE,
  IDENTITY_HEADERS,
  ISSUER,
  REQUIRED_SCOPE,
  ROUTE_PREFIX,
  checkRequestBytes,
  generateKeys,
  realisticClaims,
  signToken,
} from './lib/fixtures.js';
import { startSettledEngine } from '../test/support/gate.js';

const N = 20_000;
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

interface Client {
  readonly alg: 'ES256' | 'PS256';
  readonly privateKey: KeyObject;
  readonly jwk: Record<string, unknown>;
  readonly jkt: string;
}

function client(alg: Client['alg']): Client {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = pair.publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
  return { alg, privateKey: pair.privateKey, jwk, jkt: jwkThumbprint(jwk)! };
}

function proof(c: Client, htu: string, token: string, iat: number): string {
  const header = b64({ typ: 'dpop+jwt', alg: c.alg, jwk: c.jwk });
  const ath = createHash('sha256').update(token).digest('base64url');
  const payload = b64({ jti: randomUUID(), htm: 'GET', htu, iat, ath });
  const input = `${header}.${payload}`;
  return `${input}.${rawSign(c.alg, c.privateKey, input).toString('base64url')}`;
}

async function timeEach(name: string, views: readonly RequestView[], decide: (v: RequestView) => unknown) {
  const warm = Math.floor(views.length / 10);
  for (let i = 0; i < warm; i++) await decide(views[i]!);
  const start = process.hrtime.bigint();
  for (let i = warm; i < views.length; i++) await decide(views[i]!);
  const us = Number(process.hrtime.bigint() - start) / (views.length - warm) / 1000;
  console.log(`${name.padEnd(40)} ${us.toFixed(2).padStart(7)} µs`);
  return us;
}

async function main(): Promise<void> {
  // First, before other allocations: the replay memory's heap per remembered jti.: heap per remembered jti.
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    const entries = 200_000;
    gc();
    const before = process.memoryUsage().heapUsed;
    const memory = createReplayMemory(entries);
    for (let i = 0; i < entries; i++) memory.remember('thumbprint', randomUUID(), 0, 1e12);
    gc();
    const after = process.memoryUsage().heapUsed;
    console.log(
      `${'replay memory heap per entry'.padEnd(40)} ${((after - before) / entries).toFixed(0).padStart(7)} B (${memory.size} entries)`,
    );
  }
  const keys = generateKeys();
  const dir = mkdtempSync(join(tmpdir(), 'claimgate-dpop-micro-'));
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify(keys.jwks));
  const config = validateConfig({
    issuers: [
      { name: 'auth', issuer: ISSUER, audiences: [AUDIENCE], jwks_file: join(dir, 'jwks.json'), binding: 'allowed' },
    ],
    routes: [{ name: 'orders', match: { path: { prefix: ROUTE_PREFIX } }, require: { scope: REQUIRED_SCOPE } }],
    upstream: { headers: [...IDENTITY_HEADERS] },
    binding: { dpop: { replay_cache_entries: 1_000_000 } },
  });
  const { decide, close } = await startSettledEngine(config);

  const nowS = Math.floor(Date.now() / 1000);
  const service = loadAuthorizationService().Check!;
  const bearerToken = signToken('RS256', keys, realisticClaims(nowS));
  const base = toRequestView(service.requestDeserialize(checkRequestBytes(bearerToken)) as CheckRequestMessage);
  const htu = requestUri(base);
  if (htu === undefined) throw new Error('fixture request has no scheme');
  const withHeaders = (authorization: string, dpop?: string): RequestView => {
    const headers = new Map(base.headers);
    headers.set('authorization', [authorization]);
    if (dpop !== undefined) headers.set('dpop', [dpop]);
    return { ...base, headers };
  };

  const bearerViews = Array.from({ length: N }, () => withHeaders(`Bearer ${bearerToken}`));
  const runs: [string, RequestView[]][] = [['decide, bearer token (cache hit)', bearerViews]];
  for (const alg of ['ES256', 'PS256'] as const) {
    const c = client(alg);
    const token = signToken('RS256', keys, { ...realisticClaims(nowS), cnf: { jkt: c.jkt } });
    const views = Array.from({ length: N }, () => withHeaders(`DPoP ${token}`, proof(c, htu, token, nowS)));
    runs.push([`decide, DPoP ${alg} proof (token cached)`, views]);
  }
  for (const [, views] of runs) {
    const d = await decide(views[0]!);
    if (d.outcome !== 'allow') throw new Error(`expected an allow, got ${d.reason}`);
  }
  const results: number[] = [];
  for (const [name, views] of runs) results.push(await timeEach(name, views.slice(1), decide));
  for (let i = 1; i < runs.length; i++)
    console.log(
      `${`  DPoP cost over bearer (${runs[i]![0].slice(13, 18)})`.padEnd(40)} +${(results[i]! - results[0]!).toFixed(2)} µs, ×${(results[i]! / results[0]!).toFixed(1)}`,
    );
  // The floor: one bare signature verification of a proof-sized input with an imported key.
  for (const alg of ['ES256', 'PS256'] as const) {
    const c = client(alg);
    const p = proof(c, htu, bearerToken, nowS);
    const dot = p.lastIndexOf('.');
    const input = p.slice(0, dot);
    const signature = Buffer.from(p.slice(dot + 1), 'base64url');
    const publicKey = (await import('node:crypto')).createPublicKey({ key: c.jwk, format: 'jwk' });
    const views = Array.from({ length: N / 4 }, () => base);
    await timeEach(`bare ${alg} verify of a proof (floor)`, views, async () =>
      verifySignature(alg, publicKey, input, signature),
    );
  }

  close();
}

void main();
