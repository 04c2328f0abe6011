/** A JWKS file that was missing at start is read again by a forced reload (SIGHUP), without a restart. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCheckClient } from '../../src/cli/check-client.js';
import { parseConfigText } from '../../src/validation/load.js';
import { generateSigningKey } from '../support/fake-idp.js';
import { mintAccessToken } from '../support/tokens.js';
import { startSettledGate } from '../support/gate.js';

describe('reload and JWKS files', () => {
  it('turns 503s into allows once the repaired file is reloaded, and ignores reloads after shutdown began', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'claimgate-filekeys-'));
    const jwks = join(dir, 'jwks.json');
    const file = join(dir, 'claimgate.yaml');
    const text = `server: { grpc_address: "127.0.0.1:0", admin_address: "127.0.0.1:0", watch_config: false }
logging: { level: silent }
unmatched: authenticated
issuers:
  - { name: local, issuer: "https://idp.example.com", audiences: [api], jwks_file: "${jwks}" }
`;
    writeFileSync(file, text);
    const app = await startSettledGate(parseConfigText(text), { configFileText: text });
    const key = generateSigningKey('RS256', 'k1');
    const token = await mintAccessToken(key, 'https://idp.example.com', { sub: 'alice', aud: 'api' });
    const client = createCheckClient(`127.0.0.1:${app.grpcPort}`);
    try {
      expect((await client.check({ path: '/x', token })).reason).toBe('ERR_JWKS_UNAVAILABLE');
      writeFileSync(jwks, JSON.stringify({ keys: [key.jwk] }));
      // The config file itself is unchanged: only a forced reload (what SIGHUP does) reads it again.
      expect(await app.reloadFromFile(file)).toEqual({ ok: true, changed: false });
      expect((await app.reloadFromFile(file, true)).ok).toBe(true);
      await app.whenSettled();
      expect((await client.check({ path: '/x', token })).kind).toBe('allow');
      expect(app.ready()).toBe(true);
    } finally {
      client.close();
      const closing = app.close(500);
      expect(await app.reloadFromFile(file, true)).toEqual({ ok: false, problems: ['shutting down: reload ignored'] });
      await closing;
    }
  });
});
