/**
 * jose vs node:crypto, one core (run under `taskset -c 0`): verifies per second of
 *   - `crypto.verify` on an imported KeyObject (claimgate's path, src/token/signature.ts), signature only;
 *   - claimgate's own `verifyToken` (strict parse + issuer + alg/typ + key lookup + signature + claims),
 *     i.e. the whole uncached verification a Check does;
 *   - `jose.jwtVerify` with an imported CryptoKey, awaited one at a time;
 *   - `jose.jwtVerify` with 64 verifications in flight (its WebCrypto verify hops to the libuv pool).
 * For RS256 and ES256. Prints one JSON line.
 */
import { generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { parseArgs } from 'node:util';
import { importJWK, jwtVerify, type CryptoKey as JoseKey } from 'jose';
import type { IssuerConfig } from '../src/config/schema.js';
import type { KeySource } from '../src/keys/key-source.js';
import type { VerifyKey } from '../src/keys/jwk.js';
import type { CompiledLocation } from '../src/token/extract.js';
import { compileIssuer, verifyToken, type VerifierOptions } from '../src/token/verify.js';
import { AUDIENCE, ISSUER, realisticClaims } from './lib/fixtures.js';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const SECONDS = values.quick ? 0.2 : 2;
const REPS = values.quick ? 1 : 3;

type Alg = 'RS256' | 'ES256';

function keyPair(alg: Alg): { privateKey: KeyObject; publicKey: KeyObject } {
  return alg === 'RS256'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

function token(alg: Alg, privateKey: KeyObject): string {
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${enc({ alg, typ: 'at+jwt', kid: 'k1' })}.${enc(realisticClaims(Math.floor(Date.now() / 1000)))}`;
  const sig =
    alg === 'RS256'
      ? sign('sha256', Buffer.from(input), privateKey)
      : sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

/** Runs `fn` (sync) for SECONDS; returns calls per second. */
function rateSync(fn: () => boolean): number {
  let n = 0;
  const end = process.hrtime.bigint() + BigInt(Math.round(SECONDS * 1e9));
  const t0 = process.hrtime.bigint();
  let now = t0;
  while (now < end) {
    for (let i = 0; i < 100; i++) if (!fn()) throw new Error('verification failed');
    n += 100;
    now = process.hrtime.bigint();
  }
  return n / (Number(now - t0) / 1e9);
}

/** Runs async `fn` with `inFlight` concurrent loops for SECONDS; returns completions per second. */
async function rateAsync(fn: () => Promise<unknown>, inFlight: number): Promise<number> {
  let n = 0;
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(Math.round(SECONDS * 1e9));
  const loop = async () => {
    while (process.hrtime.bigint() < end) {
      await fn();
      n++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, loop));
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function repeat(fn: () => Promise<number> | number): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < REPS; i++) xs.push(await fn());
  return Math.round(median(xs));
}

/** A verifier over claimgate's real verifyToken with a fixed in-memory key (no key source machinery). */
function claimgateVerifier(alg: Alg, publicKey: KeyObject): (raw: string) => Promise<boolean> {
  const vk: VerifyKey = { kid: 'k1', kty: alg === 'RS256' ? 'RSA' : 'EC', key: publicKey, algorithms: new Set([alg]) };
  const keys = { lookup: () => ({ ok: true, key: vk }) } as unknown as KeySource;
  const config = {
    name: 'bench',
    issuer: ISSUER,
    audiences: [AUDIENCE],
    algorithms: [alg],
    profile: 'rfc9068',
    token_type: 'at+jwt',
    clock_skew_seconds: 60,
    max_token_bytes: 8192,
  } as unknown as IssuerConfig;
  const location: CompiledLocation = { id: 'authorization:bearer', header: 'authorization', find: () => [] };
  const issuer = compileIssuer(config, keys, new Set([location.id]));
  const opts: VerifierOptions = {
    issuers: new Map([[ISSUER, issuer]]),
    maxTokenBytes: 8192,
    nowMs: Date.now,
    keyDeadlineMs: 150,
  };
  return async (raw) => (await verifyToken(raw, location, opts)).ok;
}

async function measure(alg: Alg) {
  const { privateKey, publicKey } = keyPair(alg);
  const jwt = token(alg, privateKey);
  const dot = jwt.lastIndexOf('.');
  const input = Buffer.from(jwt.slice(0, dot), 'latin1');
  const signature = Buffer.from(jwt.slice(dot + 1), 'base64url');
  const options = alg === 'RS256' ? publicKey : { key: publicKey, dsaEncoding: 'ieee-p1363' as const };
  const joseKey = (await importJWK({ ...publicKey.export({ format: 'jwk' }), alg }, alg)) as JoseKey;
  const joseOptions = { issuer: ISSUER, audience: AUDIENCE, algorithms: [alg] };
  const cg = claimgateVerifier(alg, publicKey);
  if (!(await cg(jwt))) throw new Error(`${alg}: claimgate verifyToken refused the benchmark token`);
  await jwtVerify(jwt, joseKey, joseOptions);

  const cryptoVerify = await repeat(() => rateSync(() => verify('sha256', input, options, signature)));
  const claimgateVerify = await repeat(() => rateAsync(() => cg(jwt), 1));
  const joseSequential = await repeat(() => rateAsync(() => jwtVerify(jwt, joseKey, joseOptions), 1));
  const joseConcurrent = await repeat(() => rateAsync(() => jwtVerify(jwt, joseKey, joseOptions), 64));
  return {
    alg,
    tokenBytes: jwt.length,
    verifiesPerSecond: {
      nodeCryptoVerify: cryptoVerify,
      claimgateVerifyToken: claimgateVerify,
      joseJwtVerify: joseSequential,
      joseJwtVerify64InFlight: joseConcurrent,
    },
    microsecondsPerVerify: {
      nodeCryptoVerify: 1e6 / cryptoVerify,
      claimgateVerifyToken: 1e6 / claimgateVerify,
      joseJwtVerify: 1e6 / joseSequential,
      joseJwtVerify64InFlight: 1e6 / joseConcurrent,
    },
  };
}

const results = [];
for (const alg of ['RS256', 'ES256'] as const) {
  const r = await measure(alg);
  process.stderr.write(
    `  ${alg}: node:crypto verify ${r.verifiesPerSecond.nodeCryptoVerify}/s, claimgate verifyToken ${r.verifiesPerSecond.claimgateVerifyToken}/s, ` +
      `jose.jwtVerify ${r.verifiesPerSecond.joseJwtVerify}/s (64 in flight: ${r.verifiesPerSecond.joseJwtVerify64InFlight}/s)\n`,
  );
  results.push(r);
}
process.stdout.write(`${JSON.stringify({ seconds: SECONDS, reps: REPS, results })}\n`);
