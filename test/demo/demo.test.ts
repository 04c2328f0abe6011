import { readFileSync, existsSync } from 'node:fs';
import { runDemo } from '../../src/demo/run-demo.js';
import { requestDemoToken } from '../../src/demo/demo-token.js';
import { createCheckClient } from '../../src/cli/check-client.js';
import { parseConfigText } from '../../src/validation/load.js';

describe('claimgate demo', () => {
  it('starts a local IdP and claimgate, and shows an allow, a 403, a 401 challenge, a bad signature and a public route', async () => {
    const lines: string[] = [];
    await runDemo({ seconds: 0, grpcPort: 0, adminPort: 0, idpPort: 0, out: (l) => lines.push(l) });
    const text = lines.join('\n');
    expect(text).toMatch(/allowed token .*→ ALLOW 200 .*x-user-id=alice/);
    expect(text).toMatch(/denied token .*→ DENY 403 ERR_INSUFFICIENT_SCOPE/);
    expect(text).toMatch(/without a token .*→ DENY 401 ERR_TOKEN_MISSING/);
    expect(text).toMatch(/tampered token .*→ DENY 401 ERR_(SIGNATURE_INVALID|TOKEN_MALFORMED)/);
    expect(text).toMatch(/public route.*→ ALLOW 200/);
    expect(text).toMatch(/admin: +http:\/\/127\.0\.0\.1:\d+/);
    expect(text).toMatch(
      /demo token --idp http:\/\/127\.0\.0\.1:\d+ --scope orders:read --role admin --expires-in 300/,
    );
    expect(lines.at(-1)).toBe('demo stopped');
  });

  it('prints a readable config file, and mints tokens with chosen scopes, roles and expiry that claimgate judges', async () => {
    const lines: string[] = [];
    let configPath = '';
    const checks: string[] = [];
    // Run the demo while this test plays with it from "another terminal".
    const demo = runDemo({
      seconds: 30,
      grpcPort: 0,
      adminPort: 0,
      idpPort: 0,
      out: (l) => {
        lines.push(l);
        if (l.startsWith('Serving for')) void play();
      },
    });
    const play = async () => {
      try {
        configPath = /config file: +(\S+)/.exec(lines.join('\n'))![1]!;
        const config = parseConfigText(readFileSync(configPath, 'utf8'), configPath);
        expect(config.routes.map((r) => r.name)).toEqual(['health', 'read-orders', 'admin']);
        const idp = /local OpenID provider at (\S+)/.exec(lines[0]!)![1]!;
        const address = /gRPC on (\S+),/.exec(lines[0]!)![1]!;
        const client = createCheckClient(address);
        const mint = async (scopes: string[], roles: string[], expiresInSeconds: number) =>
          String((await requestDemoToken({ idp, scopes, roles, expiresInSeconds })).access_token);
        const admin = await mint([], ['admin'], 300);
        const reader = await mint(['orders:read'], [], 300);
        const expired = await mint(['orders:read'], [], -120);
        for (const [path, token] of [
          ['/admin/users', admin],
          ['/admin/users', reader],
          ['/orders/1', reader],
          ['/orders/1', expired],
        ] as const) {
          const s = await client.check({ path, token });
          checks.push(`${path} ${s.httpStatus} ${s.reason ?? ''}`.trim());
        }
        client.close();
      } finally {
        process.emit('SIGINT');
      }
    };
    await demo;
    expect(checks).toEqual([
      '/admin/users 200',
      '/admin/users 403 ERR_ROLE_MISSING',
      '/orders/1 200',
      '/orders/1 401 ERR_TOKEN_EXPIRED',
    ]);
    // The temporary config goes away with the demo.
    expect(existsSync(configPath)).toBe(false);
  });

  it('explains an unreachable demo IdP', async () => {
    await expect(requestDemoToken({ idp: 'http://127.0.0.1:1' })).rejects.toThrow(/is `claimgate demo` running\?/);
  });
});
