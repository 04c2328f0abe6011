/**
 * The jti replay memory stays within its bound under a flood of distinct jtis, never forgets a live
 * proof to make room (it refuses instead), and frees entries once their window has passed.
 */
import { generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { jwkThumbprint } from '../../src/binding/dpop.js';
import { createReplayMemory } from '../../src/binding/dpop-replay.js';
import { createNonceIssuer } from '../../src/binding/dpop-nonce.js';
import { parseXfcc, xfccThumbprint } from '../../src/binding/certificate.js';

const T0 = 1_750_000_000_000;
const LIFETIME = 70_000;

describe('DPoP jti replay memory', () => {
  it('holds at most maxEntries under a flood of distinct jtis, refusing (not forgetting) past the bound', () => {
    const memory = createReplayMemory(1000);
    const verdicts = { fresh: 0, replayed: 0, full: 0 };
    for (let i = 0; i < 20_000; i++) verdicts[memory.remember('key-a', `jti-${i}`, T0 + i, LIFETIME)]++;
    expect(verdicts).toEqual({ fresh: 1000, replayed: 0, full: 19_000 });
    expect(memory.size).toBe(1000);
    // Every accepted proof is still remembered: none was evicted to make room.
    for (let i = 0; i < 1000; i++) expect(memory.remember('key-a', `jti-${i}`, T0 + 20_000, LIFETIME)).toBe('replayed');
  });

  it('frees entries once the window that admitted them has passed', () => {
    const memory = createReplayMemory(1000);
    for (let i = 0; i < 1000; i++) memory.remember('key-a', `jti-${i}`, T0, LIFETIME);
    expect(memory.remember('key-a', 'one-more', T0 + LIFETIME - 1, LIFETIME)).toBe('full');
    expect(memory.remember('key-a', 'one-more', T0 + LIFETIME, LIFETIME)).toBe('fresh');
    expect(memory.size).toBe(1);
    // After its own window a jti may be seen again: by then its proof's iat is outside the window anyway.
    expect(memory.remember('key-a', 'one-more', T0 + 2 * LIFETIME, LIFETIME)).toBe('fresh');
  });

  it('keys entries by proof key and jti, at a fixed size whatever the jti length', () => {
    const memory = createReplayMemory(10);
    expect(memory.remember('key-a', 'x'.repeat(256), T0, LIFETIME)).toBe('fresh');
    expect(memory.remember('key-b', 'x'.repeat(256), T0, LIFETIME)).toBe('fresh');
    expect(memory.remember('key-a', 'x'.repeat(256), T0, LIFETIME)).toBe('replayed');
    // No ambiguity between (key, jti) splits.
    expect(memory.remember('key-a\0x', 'y', T0, LIFETIME)).toBe('fresh');
    expect(memory.remember('key-a', 'x\0y', T0, LIFETIME)).toBe('fresh');
  });
});

describe('RFC 7638 thumbprints', () => {
  it.each([
    ['RSA', () => generateKeyPairSync('rsa', { modulusLength: 2048 })],
    ['EC P-256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' })],
    ['EC P-384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' })],
    ['Ed25519', () => generateKeyPairSync('ed25519')],
  ])('%s: equal to jose calculateJwkThumbprint, and ignore non-required members', async (_name, make) => {
    const jwk = make().publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
    const expected = await calculateJwkThumbprint(jwk as JWK, 'sha256');
    expect(jwkThumbprint(jwk)).toBe(expected);
    expect(jwkThumbprint({ ...jwk, kid: 'k', alg: 'x', use: 'sig' })).toBe(expected);
  });

  it('the RFC 7638 §3.1 example', () => {
    const n =
      '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw';
    expect(jwkThumbprint({ kty: 'RSA', n, e: 'AQAB', alg: 'RS256', kid: '2011-04-29' })).toBe(
      'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
    );
  });

  it('refuses key types and members it cannot hash', () => {
    expect(jwkThumbprint({ kty: 'oct', k: 'abc' })).toBeUndefined();
    expect(jwkThumbprint({ kty: 'EC', crv: 'P-256', x: 'a' })).toBeUndefined();
    expect(jwkThumbprint({ kty: 'RSA', n: 1, e: 'AQAB' })).toBeUndefined();
  });
});

describe('DPoP nonces', () => {
  it('accept the current and the previous window only, and only with the right secret', () => {
    const secret = Buffer.alloc(32, 7);
    const issuer = createNonceIssuer(60, secret);
    const nonce = issuer.current(T0);
    expect(issuer.accepts(nonce, T0 + 59_000)).toBe(true);
    expect(issuer.accepts(nonce, T0 + 60_000 + 59_000)).toBe(
      Math.floor((T0 + 119_000) / 60_000) - 1 === Math.floor(T0 / 60_000),
    );
    expect(issuer.accepts(nonce, T0 + 180_000)).toBe(false);
    expect(createNonceIssuer(60, Buffer.alloc(32, 8)).accepts(nonce, T0)).toBe(false);
    expect(createNonceIssuer(60, Buffer.alloc(32, 7)).accepts(nonce, T0)).toBe(true);
    expect(issuer.accepts(`${nonce.slice(0, -1)}A`, T0)).toBe(nonce.endsWith('A'));
    expect(issuer.accepts('short', T0)).toBe(false);
  });
});

describe('x-forwarded-client-cert parsing', () => {
  const hex = 'ab'.repeat(32);
  it('reads Hash (hex SHA-256) as base64url, with quoted members around it', () => {
    expect(xfccThumbprint([`By=spiffe://a/b;Hash=${hex};Subject="CN=x;O=y,z"`])).toBe(
      Buffer.from(hex, 'hex').toString('base64url'),
    );
  });
  it('refuses several elements, several header lines, bad hashes and bad syntax', () => {
    expect(xfccThumbprint([`Hash=${hex},Hash=${hex}`])).toBeUndefined();
    expect(xfccThumbprint([`Hash=${hex}`, `Hash=${hex}`])).toBeUndefined();
    expect(xfccThumbprint([`Hash=${hex.slice(2)}`])).toBeUndefined();
    expect(xfccThumbprint(['Subject="unterminated'])).toBeUndefined();
    expect(parseXfcc(`Hash=${hex};Hash=${hex}`)).toBeUndefined();
    expect(xfccThumbprint(undefined)).toBeUndefined();
  });
});

describe('DPoP replay memory across reloads', () => {
  it('keeps its entries when a reload changes the bound', () => {
    const memory = createReplayMemory(3);
    for (const jti of ['a', 'b', 'c']) memory.remember('k', jti, T0, LIFETIME);
    memory.setMaxEntries(2);
    expect(memory.remember('k', 'a', T0, LIFETIME)).toBe('replayed');
    expect(memory.remember('k', 'd', T0, LIFETIME)).toBe('full');
    memory.setMaxEntries(10);
    expect(memory.remember('k', 'd', T0, LIFETIME)).toBe('fresh');
    expect(memory.size).toBe(4);
  });
});
