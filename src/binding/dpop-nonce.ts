/**
 * Server-provided DPoP nonces (RFC 9449 §8, §9): stateless, so any replica sharing the secret accepts
 * them. A nonce is `base64url(window ‖ HMAC-SHA256(secret, window)[0..16])`, where `window` is the
 * current time divided by the lifetime; the current and the previous window are accepted, so a nonce
 * lives between one and two lifetimes. Without a configured secret each process draws its own, and a
 * nonce from one replica is refused by another (the client then retries with the nonce it is given).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface NonceIssuer {
  /** A nonce to send in `DPoP-Nonce`. */
  current(nowMs: number): string;
  /** True for a nonce of the current or the previous window. */
  accepts(nonce: string, nowMs: number): boolean;
}

const TAG_BYTES = 16;

export function createNonceIssuer(lifetimeSeconds: number, secret: Buffer = randomBytes(32)): NonceIssuer {
  const lifetimeMs = lifetimeSeconds * 1000;
  const make = (window: number): Buffer => {
    const counter = Buffer.alloc(8);
    counter.writeBigUInt64BE(BigInt(window));
    const tag = createHmac('sha256', secret).update(counter).digest().subarray(0, TAG_BYTES);
    return Buffer.concat([counter, tag]);
  };
  return {
    current(nowMs) {
      return make(Math.floor(nowMs / lifetimeMs)).toString('base64url');
    },
    accepts(nonce, nowMs) {
      if (nonce.length !== 32 || !/^[A-Za-z0-9_-]+$/.test(nonce)) return false;
      const given = Buffer.from(nonce, 'base64url');
      if (given.length !== 8 + TAG_BYTES) return false;
      const window = Number(given.readBigUInt64BE(0));
      const now = Math.floor(nowMs / lifetimeMs);
      if (window !== now && window !== now - 1) return false;
      return timingSafeEqual(given, make(window));
    },
  };
}
