/** A compile in steps (file reloads) pauses between steps and yields the same compiled config as one in one go. */
import { compileConfig, compileConfigInSteps } from '../../src/engine/compile.js';
import type { IssuerConfig } from '../../src/config/schema.js';
import type { RequestView } from '../../src/core/types.js';
import { createKeySource } from '../../src/keys/key-source.js';
import { parseConfigText } from '../../src/validation/load.js';

const text = [
  'issuers:',
  ...Array.from(
    { length: 60 },
    (_, i) =>
      `  - { name: i${i}, issuer: "https://i${i}.example.com", issuer_aliases: ["https://alias${i}.example.com"], audiences: [api], jwks_uri: "https://i${i}.example.com/jwks" }`,
  ),
  'routes:',
  '  - { name: pub, match: { path: { exact: /health } }, public: true }',
  ...Array.from(
    { length: 30 },
    (_, i) => `  - { name: r${i}, match: { methods: [GET], path: { prefix: /r${i} } }, require: { scope: "s${i}" } }`,
  ),
  '',
].join('\n');

const view = (path: string): RequestView => ({ method: 'GET', host: 'api.example.com', path, headers: new Map() });

describe('compileConfigInSteps', () => {
  it('pauses between steps and compiles what compileConfig compiles', async () => {
    let pauses = 0;
    let issuersAsked = 0;
    const source = (issuer: IssuerConfig) => {
      issuersAsked++;
      return createKeySource(issuer);
    };
    const stepped = parseConfigText(text);
    const inSteps = await compileConfigInSteps(stepped, source, async () => {
      pauses++;
      await new Promise<void>((resolve) => setImmediate(resolve));
    });
    const whole = parseConfigText(text);
    const inOneGo = compileConfig(whole, source);
    // Freeze, binding, 60 issuers in steps of 25, routes: several pauses.
    expect(pauses).toBeGreaterThanOrEqual(5);
    expect(issuersAsked).toBe(120);
    expect(Object.isFrozen(inSteps)).toBe(true);
    expect(Object.isFrozen(stepped.routes[3])).toBe(true);
    expect([...inSteps.issuers.keys()]).toEqual([...inOneGo.issuers.keys()]);
    expect(inSteps.issuers.size).toBe(120);
    const routeOf = (compiled: typeof inSteps, path: string) => {
      const match = compiled.matchRoute(view(path));
      return match.ok ? (match.route?.name ?? '(unmatched)') : match.reason;
    };
    const paths = ['/health', '/r0/x', '/r17', '/r29/a/b', '/nowhere', '/%zz'];
    expect(paths.map((p) => routeOf(inSteps, p))).toEqual(paths.map((p) => routeOf(inOneGo, p)));
    expect(routeOf(inSteps, '/r17')).toBe('r17');
    expect(inSteps.locations.map((l) => l.id)).toEqual(inOneGo.locations.map((l) => l.id));
    expect(inSteps.publicRouteRemovals).toEqual(inOneGo.publicRouteRemovals);
  });
});
