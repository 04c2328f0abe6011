/**
 * A bound token is never a bearer token: whatever `binding` says (issuer or route, `none`, `allowed`,
 * `required`), a token carrying `cnf` that arrives as `Authorization: Bearer` without the proof its
 * binding calls for is refused with 401 `ERR_TOKEN_BOUND`. Through the real engine (config loader, key
 * source, decider); the DPoP and certificate paths themselves are in test/binding/.
 */
import { bearer, buildGate, cleanupTmp, denied, fileIssuer, ISS_A, mint, rsaKey, view, type Gate } from './harness.js';

const key = rsaKey('sender-constrained');
const CNF_SHAPES: Record<string, unknown>[] = [
  { cnf: { jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' } },
  { cnf: { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' } },
  { cnf: { jwk: { kty: 'EC', crv: 'P-256', x: 'a', y: 'b' } } },
  { cnf: {} },
  { cnf: 'bound' },
  { cnf: null },
];

const gates: Record<string, Gate> = {};
beforeAll(async () => {
  for (const mode of ['default', 'none', 'allowed', 'required'] as const) {
    gates[mode] = await buildGate({
      issuers: [fileIssuer('a', ISS_A, [key.jwk], mode === 'default' ? {} : { binding: mode })],
      routes: [
        { name: 'route-allowed', match: { path: { prefix: '/allowed' } }, binding: 'allowed' },
        { name: 'route-none', match: { path: { prefix: '/none' } }, binding: 'none' },
      ],
    });
  }
});
afterAll(() => {
  for (const gate of Object.values(gates)) gate.close();
  cleanupTmp();
});

describe('sender-constrained tokens (RFC 9449, RFC 8705)', () => {
  it('a token carrying cnf as a plain bearer token is refused in every binding mode, on every route', async () => {
    for (const [mode, gate] of Object.entries(gates)) {
      for (const shape of CNF_SHAPES) {
        for (const path of ['/api/items', '/allowed/x', '/none/x']) {
          const d = denied(await gate.decide(bearer(mint(key, shape), path)));
          expect([mode, shape, path, d.reason, d.status]).toEqual([mode, shape, path, 'ERR_TOKEN_BOUND', 401]);
          expect(d.challenge).toContain('error="invalid_token"');
        }
      }
    }
  });

  it('an unbound bearer token is still accepted unless binding is required', async () => {
    const token = mint(key);
    expect((await gates.default!.decide(bearer(token))).outcome).toBe('allow');
    expect((await gates.allowed!.decide(bearer(token))).outcome).toBe('allow');
    expect(denied(await gates.required!.decide(bearer(token))).reason).toBe('ERR_TOKEN_NOT_BOUND');
    // A route cannot lower an issuer's `required`.
    expect(denied(await gates.required!.decide(bearer(token, '/none/x'))).reason).toBe('ERR_TOKEN_NOT_BOUND');
  });

  it('without binding configured, the DPoP scheme is not a token location at all (as before)', async () => {
    const plain = await buildGate({ issuers: [fileIssuer('a', ISS_A, [key.jwk])] });
    try {
      const d = denied(await plain.decide(view({ authorization: `DPoP ${mint(key)}` })));
      expect(d.reason).toBe('ERR_TOKEN_MISSING');
      // The bound-token rule holds there too.
      expect(denied(await plain.decide(bearer(mint(key, CNF_SHAPES[0])))).reason).toBe('ERR_TOKEN_BOUND');
    } finally {
      plain.close();
    }
  });
});
