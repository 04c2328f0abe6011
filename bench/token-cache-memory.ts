/**
 * Token cache memory: fills claimgate's real verified-token cache (`createCachedVerifier`) with N
 * distinct realistic entries and measures RSS and V8 heap per entry. Run with `--expose-gc`.
 *
 * Signing a million tokens would take minutes, so the inner verify is a stub that returns what
 * verifyToken returns for a real token: a VerifiedToken whose `claims` is JSON.parse of that token's
 * own (distinct) payload, whose `payloadSegment` is a slice of the token, and which shares the issuer,
 * key and location objects (as real entries do). Each token is a flat ~800-character string, like a
 * header value taken off the wire.
 *
 *   --entries N      entries inserted (default 1,000,000)
 *   --max-bytes B    cache max_bytes (default: effectively unbounded, to measure per-entry cost)
 * Prints one JSON line.
 */
import { PROFILES } from '../src/config/profiles.js';
import { compilePrincipalReader } from '../src/engine/principal.js';
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { CompiledLocation } from '../src/token/extract.js';
import { createCachedVerifier, estimateEntryBytes } from '../src/token/token-cache.js';
import type { CompiledIssuer, VerifiedToken, VerifyResult } from '../src/token/verify.js';
import type { VerifyKey } from '../src/keys/jwk.js';
import { realisticClaims, RSA_KID } from './lib/fixtures.js';

const { values } = parseArgs({
  options: { entries: { type: 'string', default: '1000000' }, 'max-bytes': { type: 'string' } },
});
const N = Number(values.entries);
const MAX_BYTES = values['max-bytes'] === undefined ? 64 * 1024 * 1024 * 1024 : Number(values['max-bytes']);

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');
const settle = () => {
  for (let i = 0; i < 3; i++) gc();
};
const mem = () => {
  settle();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external + m.arrayBuffers };
};

const location: CompiledLocation = { id: 'authorization:bearer', header: 'authorization', find: () => [] };
const key = { kid: RSA_KID, kty: 'RSA', algorithms: new Set(['RS256']) } as unknown as VerifyKey;
const issuer = {
  name: 'bench',
  iss: 'https://auth.example.com/',
  locationIds: new Set([location.id]),
  keys: { lookup: () => ({ ok: true, key }) },
} as unknown as CompiledIssuer;

// The principal each cached entry carries, read as the default profile reads it.
const principalOf = compilePrincipalReader('bench', PROFILES.rfc9068.claims);

const HEADER = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'at+jwt', kid: RSA_KID })).toString('base64url');
const nowS = Math.floor(Date.now() / 1000);

/** A distinct realistic token (~800 chars, flat one-byte string) for entry n. */
function tokenFor(n: number): string {
  const payload = Buffer.from(JSON.stringify(realisticClaims(nowS, n))).toString('base64url');
  const digest = createHash('sha256').update(`sig-${n}`).digest();
  const signature = Buffer.concat(Array.from({ length: 8 }, () => digest)).toString('base64url');
  // Buffer → latin1 string: a flat sequential string, like a header value decoded off the wire.
  return Buffer.from(`${HEADER}.${payload}.${signature}`, 'latin1').toString('latin1');
}

let stubCalls = 0;

/** What verifyToken returns for that token, without the signature check. */
function stubVerify(raw: string): Promise<VerifyResult> {
  stubCalls++;
  const first = raw.indexOf('.');
  const second = raw.indexOf('.', first + 1);
  const payloadSegment = raw.slice(first + 1, second);
  const claims = JSON.parse(Buffer.from(payloadSegment, 'base64url').toString('utf8')) as Record<string, unknown>;
  const token: VerifiedToken = {
    issuer,
    claims,
    subject: claims.sub as string,
    payloadSegment,
    principal: principalOf(claims, claims.sub as string, undefined),
    location,
    validUntilMs: ((claims.exp as number) + 60) * 1000,
    kid: RSA_KID,
    alg: 'RS256',
    key,
  };
  return Promise.resolve({ ok: true, token });
}

const base = mem();
const cache = createCachedVerifier(
  (raw) => stubVerify(raw),
  { maxEntries: 10_000_000, maxBytes: MAX_BYTES, negativeTtlMs: 10_000, maxNegativeEntries: 10_000 },
  Date.now,
);
const empty = mem();

let tokenChars = 0;
let estimatedBytes = 0;
let peakRss = empty.rss;
const t0 = Date.now();
for (let n = 0; n < N; n++) {
  const raw = tokenFor(n);
  tokenChars += raw.length;
  estimatedBytes += estimateEntryBytes(raw);
  const r = await cache(raw, location);
  if (!r.ok) throw new Error('stub verify failed');
  if (n % 50_000 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
}
const fillMs = Date.now() - t0;
const full = mem();
peakRss = Math.max(peakRss, full.rss);

const avgToken = tokenChars / N;
// The cache's own size estimate per entry (src/token/token-cache.ts sizeCalculation).
const estimatePerEntry = estimatedBytes / N;
const boundedRun = values['max-bytes'] !== undefined;
// Entries the cache kept. Unbounded: all of them. Bounded: walk from the newest token back; a hit
// answers without calling the stub, the first miss marks the end of what the LRU kept.
let kept = N;
if (boundedRun) {
  kept = 0;
  for (let n = N - 1; n >= 0; n--) {
    const calls = stubCalls;
    await cache(tokenFor(n), location);
    if (stubCalls !== calls) break;
    kept++;
  }
}
const keptEstimate = kept;
const rssDelta = full.rss - empty.rss;
const heapDelta = full.heapUsed - empty.heapUsed;

const result = {
  entriesInserted: N,
  maxBytes: boundedRun ? MAX_BYTES : null,
  entriesKept: kept,
  avgTokenChars: Math.round(avgToken),
  estimatePerEntryBytes: Math.round(estimatePerEntry),
  baselineRssBytes: empty.rss,
  rssBytes: full.rss,
  peakRssBytes: peakRss,
  rssDeltaBytes: rssDelta,
  heapUsedDeltaBytes: heapDelta,
  rssPerEntryBytes: Math.round(rssDelta / keptEstimate),
  heapPerEntryBytes: Math.round(heapDelta / keptEstimate),
  measuredOverEstimate: Math.round((heapDelta / keptEstimate / estimatePerEntry) * 100) / 100,
  // Bounded run: the live heap the cache holds must stay under max_bytes (what the bound promises).
  boundHolds: boundedRun ? heapDelta <= MAX_BYTES : null,
  // RSS is reported beside it: after heavy churn V8 keeps some freed pages (documented).
  rssWithinBound: boundedRun ? rssDelta <= MAX_BYTES : null,
  fillSeconds: fillMs / 1000,
  baseRssBeforeCacheBytes: base.rss,
};
process.stderr.write(
  `  ${N} entries${boundedRun ? ` into max_bytes ${MAX_BYTES}` : ''}: RSS +${(rssDelta / 2 ** 20).toFixed(1)} MiB, heap +${(heapDelta / 2 ** 20).toFixed(1)} MiB` +
    ` → ${result.heapPerEntryBytes} B heap / ${result.rssPerEntryBytes} B RSS per kept entry (estimate ${result.estimatePerEntryBytes} B)` +
    `${boundedRun ? `, heap bound ${result.boundHolds ? 'holds' : 'EXCEEDED'}, RSS ${result.rssWithinBound ? 'within' : 'over'} it (peak RSS +${((peakRss - empty.rss) / 2 ** 20).toFixed(1)} MiB)` : ''}\n`,
);
process.stdout.write(`${JSON.stringify(result)}\n`);
