/**
 * A CEL rule reading the principal, a path-template parameter, the method and a listed header gives the
 * same decision through the gRPC door and the HTTP forward-auth door of one running server.
 */
import { token } from './policy-harness.js';
import { forwardAuth, start } from './server-harness.js';

describe('CEL conditions in both doors', () => {
  it('decides the same for every request of the table', async () => {
    const run = await start({
      routes: [
        {
          name: 'tenant-orders',
          match: { path: { template: '/t/{tenant}/orders/{id}' } },
          require: {
            cel: {
              expression:
                'request.params.tenant == claims.tid && (request.method == "GET" || "orders:write" in principal.scopes)' +
                ' && request.headers["x-channel"] != "blocked"',
              headers: ['x-channel'],
            },
          },
        },
      ],
    });
    const reader = await token({ tid: 'acme', scope: 'orders:read' });
    const writer = await token({ tid: 'acme', scope: 'orders:read orders:write' });
    const table = [
      { method: 'GET', path: '/t/acme/orders/1', t: reader, channel: 'web', expected: 200 },
      { method: 'GET', path: '/t/other/orders/1', t: reader, channel: 'web', expected: 403 },
      { method: 'DELETE', path: '/t/acme/orders/1', t: reader, channel: 'web', expected: 403 },
      { method: 'DELETE', path: '/t/acme/orders/1', t: writer, channel: 'web', expected: 200 },
      { method: 'GET', path: '/t/acme/orders/1', t: writer, channel: 'blocked', expected: 403 },
      // No x-channel header: the map has no key, the comparison errors, the condition is false.
      { method: 'GET', path: '/t/acme/orders/1', t: reader, channel: undefined, expected: 403 },
      { method: 'GET', path: '/t/acme/orders/1?tenant=other', t: reader, channel: 'web', expected: 200 },
    ];
    for (const row of table) {
      const headers: Record<string, string> = row.channel === undefined ? {} : { 'x-channel': row.channel };
      const grpc = await run.client.check({ method: row.method, path: row.path, token: row.t, headers });
      const http = await forwardAuth(
        run.gate.httpPort as number,
        row.path,
        { ...headers, authorization: `Bearer ${row.t}` },
        row.method,
      );
      const label = `${row.method} ${row.path} ${row.channel ?? '-'}`;
      expect([label, grpc.httpStatus, http.status]).toEqual([label, row.expected, row.expected]);
      if (row.expected === 403) expect(grpc.reason).toBe('ERR_CEL_CONDITION_FAILED');
    }
  });
});
