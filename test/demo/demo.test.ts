import { runDemo } from '../../src/demo/run-demo.js';

describe('claimgate demo', () => {
  it('starts a local IdP and claimgate, and shows an allow, a 403, a 401 challenge, a bad signature and a public route', async () => {
    const lines: string[] = [];
    await runDemo({ seconds: 0, grpcPort: 0, adminPort: 0, out: (l) => lines.push(l) });
    const text = lines.join('\n');
    expect(text).toMatch(/allowed token .*→ ALLOW 200 .*x-user-id=alice/);
    expect(text).toMatch(/denied token .*→ DENY 403 ERR_INSUFFICIENT_SCOPE/);
    expect(text).toMatch(/without a token .*→ DENY 401 ERR_TOKEN_MISSING/);
    expect(text).toMatch(/tampered token .*→ DENY 401 ERR_(SIGNATURE_INVALID|TOKEN_MALFORMED)/);
    expect(text).toMatch(/public route.*→ ALLOW 200/);
    expect(text).toMatch(/export ALLOWED='eyJ[\w-]+\.[\w-]+\.[\w-]+'/);
    expect(lines.at(-1)).toBe('demo stopped');
  });
});
