import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../../src/validation/load.js';
import { createKeySource, MAX_SKIPPED_KEYS_LOGGED } from '../../src/keys/key-source.js';
import { generateSigningKey } from '../support/fake-idp.js';

describe('skipped-key logging', () => {
  it('logs a few skipped keys one by one and the rest as one count, so a hostile key set cannot flood the log', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'claimgate-skip-')), 'jwks.json');
    const junk = Array.from({ length: 50 }, (_, i) => ({ kty: 'oct', kid: `sym-${i}`, k: 'c2VjcmV0' }));
    writeFileSync(file, JSON.stringify({ keys: [...junk, generateSigningKey('RS256', 'good').jwk] }));
    const issuer = validateConfig({
      issuers: [{ name: 'idp', issuer: 'https://idp.example.com', audiences: ['a'], jwks_file: file }],
    }).issuers[0]!;
    const lines: { msg: string; fields?: Record<string, unknown> }[] = [];
    const source = createKeySource(issuer, { log: (_level, msg, fields) => lines.push({ msg, fields }) });
    source.start();
    await source.whenSettled();
    source.close();
    expect(source.state()).toMatchObject({ keyCount: 1, skippedKeys: 50 });
    expect(lines.filter((l) => l.msg === 'JWK skipped')).toHaveLength(MAX_SKIPPED_KEYS_LOGGED);
    expect(lines.filter((l) => l.msg === 'more JWKs skipped').map((l) => l.fields?.count)).toEqual([
      50 - MAX_SKIPPED_KEYS_LOGGED,
    ]);
  });
});
