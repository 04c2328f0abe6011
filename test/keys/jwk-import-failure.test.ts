/**
 * A key whose import throws is skipped, not fatal. Node's JWK import accepts almost anything that
 * passes our own checks, so the failure is injected by replacing createPublicKey for this suite.
 */
import { jest } from '@jest/globals';
import * as realCrypto from 'node:crypto';

/** Moduli whose import the mocked createPublicKey makes throw. */
const poisonedModuli = new Set<string>();

jest.unstable_mockModule('node:crypto', () => ({
  ...realCrypto,
  createPublicKey: (input: { key: { n?: string } }) => {
    if (input.key.n !== undefined && poisonedModuli.has(input.key.n)) throw new TypeError('simulated import failure');
    return realCrypto.createPublicKey(input as Parameters<typeof realCrypto.createPublicKey>[0]);
  },
}));
const { importJwks } = await import('../../src/keys/jwk.js');

it('skips a key whose import throws and keeps the others', () => {
  const good = realCrypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
  const other = realCrypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
  poisonedModuli.add(other.n!);
  const poisoned = { ...other, kid: 'poisoned' };
  const result = importJwks({ keys: [poisoned, { ...good, kid: 'good' }] }, ['RS256']);
  expect(result.skipped).toEqual([{ kid: 'poisoned', reason: 'import_failed' }]);
  expect(result.keys.map((k) => k.kid)).toEqual(['good']);
});
