/**
 * Loopback ports and listeners for tests and the bench: listen on 127.0.0.1 and learn the port, close a
 * server with its connections, and a port that nothing listens on (bound, then released).
 */
import type { Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';

/** Listens on 127.0.0.1:`port` (0 picks a free one) and resolves with the port bound. */
export function listen(server: Server | NetServer, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export function closeServer(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * A loopback port that was free a moment ago and that nothing listens on now: for a child process
 * (a proxy, Prometheus, a server under the bench) to bind right after, or to be refused by.
 */
export async function freePort(): Promise<number> {
  const server = createNetServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
