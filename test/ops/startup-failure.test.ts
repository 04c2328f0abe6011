/** A listener that cannot start stops everything started before it: no half-running process. */
import { createServer } from 'node:net';
import { startClaimgate } from '../../src/app/claimgate.js';
import { validateConfig } from '../../src/validation/load.js';
import { createCheckClient } from '../../src/cli/check-client.js';
import { freePort, listen } from '../support/listen.js';

describe('start-up failure', () => {
  it('reports the busy address and releases the gRPC listener it had already opened', async () => {
    const blocker = createServer();
    const busy = await listen(blocker);
    const grpcPort = await freePort();
    try {
      await expect(
        startClaimgate(
          validateConfig({
            server: { grpc_address: `127.0.0.1:${grpcPort}`, admin_address: `127.0.0.1:${busy}` },
            logging: { level: 'silent' },
            issuers: [
              {
                name: 'idp',
                issuer: 'https://idp.example.com',
                audiences: ['a'],
                jwks_file: '/nonexistent/claimgate-test/jwks.json',
              },
            ], // no network: a missing local file
          }),
        ),
      ).rejects.toThrow(`cannot listen on 127.0.0.1:${busy}`);
      // The gRPC port is free again: nothing answers there.
      const client = createCheckClient(`127.0.0.1:${grpcPort}`);
      await expect(client.check({ path: '/' }, 1000)).rejects.toThrow();
      client.close();
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });
});
