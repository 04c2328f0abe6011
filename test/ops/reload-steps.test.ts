/**
 * A file reload compiles in steps and starts its new key sources a few per event-loop turn, so Checks
 * are answered in between (docs/benchmarks.md, "Reloads"). What must still hold: a Check sees the old
 * config or the new one, never a mix, the switch happens once, every new key source is started, and
 * the new config's JWKS files are loaded by the time it is swapped in.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startClaimgate } from '../../src/app/claimgate.js';
import { startInTurns } from '../../src/app/generation.js';
import type { Decision, RequestView } from '../../src/core/types.js';
import { createKeySource } from '../../src/keys/key-source.js';
import { unrefTimer } from '../../src/keys/timers.js';
import { parseConfigText } from '../../src/validation/load.js';
import { generateSigningKey } from '../support/fake-idp.js';
import { mintAccessToken } from '../support/tokens.js';

const ISSUER = 'https://idp.example.com';
const AUDIENCE = 'api';
/** More issuers than one compile step (25) and one start turn (8) take. */
const TENANTS = 40;

const dir = mkdtempSync(join(tmpdir(), 'claimgate-reload-steps-'));
const key = generateSigningKey('RS256', 'main-k1');
writeFileSync(join(dir, 'main.jwks.json'), JSON.stringify({ keys: [key.jwk] }));
for (let i = 0; i < TENANTS; i++)
  writeFileSync(join(dir, `t${i}.jwks.json`), JSON.stringify({ keys: [generateSigningKey('ES256', `t${i}-k1`).jwk] }));

/** Variant B changes every issuer's settings (all key sources are replaced) and renames the route. */
function configText(variant: 'A' | 'B'): string {
  const skew = variant === 'A' ? 30 : 31;
  const tenants = Array.from(
    { length: TENANTS },
    (_, i) =>
      `  - { name: t${i}, issuer: "https://t${i}.example.com", audiences: [${AUDIENCE}], algorithms: [ES256], clock_skew_seconds: ${skew}, jwks_file: "${join(dir, `t${i}.jwks.json`)}" }`,
  );
  const fillers = Array.from(
    { length: 60 },
    (_, i) => `  - { name: f${i}, match: { path: { prefix: /f${i} } }, require: { scope: "s${i}" } }`,
  );
  return [
    'server: { grpc_address: "127.0.0.1:0", admin_address: "127.0.0.1:0", watch_config: false }',
    'logging: { level: silent }',
    'issuers:',
    `  - { name: main, issuer: "${ISSUER}", audiences: [${AUDIENCE}], clock_skew_seconds: ${skew}, jwks_file: "${join(dir, 'main.jwks.json')}" }`,
    ...tenants,
    'routes:',
    ...fillers,
    `  - { name: orders-${variant}, match: { path: { prefix: /orders } }, require: { scope: read } }`,
    '',
  ].join('\n');
}

function view(token: string): RequestView {
  return {
    method: 'GET',
    host: 'api.example.com',
    path: '/orders/1',
    headers: new Map([['authorization', [`Bearer ${token}`]]]),
  };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('a reload in steps', () => {
  it('answers Checks on every turn with the old config or the new one, switching once, with new file keys loaded at the swap', async () => {
    const file = join(dir, 'claimgate.yaml');
    writeFileSync(file, configText('A'));
    const app = await startClaimgate(parseConfigText(configText('A')));
    try {
      await app.whenSettled();
      const token = await mintAccessToken(key, ISSUER, { sub: 'alice', aud: AUDIENCE, scope: 'read' });
      writeFileSync(file, configText('B'));
      let reloading = true;
      const reloaded = app.reloadFromFile(file).finally(() => (reloading = false));
      const decisions: Promise<Decision>[] = [];
      while (reloading) {
        decisions.push(Promise.resolve(app.decider()(view(token))));
        await nextTurn();
      }
      expect(await reloaded).toEqual({ ok: true, changed: true });
      decisions.push(Promise.resolve(app.decider()(view(token))));
      const answered = await Promise.all(decisions);
      // Every Check allowed: right after the swap, B's replaced key sources already hold their file keys.
      expect(answered.filter((d) => d.outcome !== 'allow')).toEqual([]);
      const routes = answered.map((d) => (d.outcome === 'allow' ? d.route : d.reason)).join(' ');
      expect(routes).toMatch(/^(orders-A )+(orders-B ?)+$/);
      expect([...app.keySources().values()].every((source) => source.ready())).toBe(true);
    } finally {
      await app.close(100);
    }
  });
});

describe('startInTurns', () => {
  const issuers = parseConfigText(configText('A')).issuers;

  it('starts every source a few per turn, each turn waiting for its JWKS files to load', async () => {
    const sources = issuers.map((issuer) => createKeySource(issuer));
    const readyAtTurns: number[] = [];
    await startInTurns(
      sources,
      async () => {
        readyAtTurns.push(sources.filter((s) => s.ready()).length);
        await nextTurn();
      },
      unrefTimer,
    );
    try {
      expect(sources.every((s) => s.ready())).toBe(true);
      expect(readyAtTurns).toEqual([8, 16, 24, 32, 40, 41]);
    } finally {
      sources.forEach((s) => s.close());
    }
  });

  it('starts no further turn once it is no longer wanted (shutdown began mid-reload)', async () => {
    const sources = issuers.map((issuer) => createKeySource(issuer));
    let turns = 0;
    try {
      await startInTurns(
        sources,
        async () => {
          turns++;
          await nextTurn();
        },
        unrefTimer,
        () => turns < 2,
      );
      expect(sources.filter((s) => s.ready())).toHaveLength(16);
      expect(sources.slice(16).some((s) => s.ready() || s.state().fetches.ok > 0)).toBe(false);
    } finally {
      sources.forEach((s) => s.close());
    }
  });

  it('does not wait for a remote source, whose first fetch goes on after the sources are started', async () => {
    const remote = parseConfigText(`issuers:
  - { name: remote, issuer: "https://idp.example.com", audiences: [api], jwks_uri: "https://idp.example.com/jwks" }
`).issuers[0]!;
    let fetches = 0;
    const hanging = createKeySource(remote, {
      fetch: () => {
        fetches++;
        return new Promise<Response>(() => undefined);
      },
    });
    const file = createKeySource(issuers[0]!);
    try {
      await startInTurns([hanging, file], nextTurn, unrefTimer);
      expect(fetches).toBe(1);
      expect(hanging.ready()).toBe(false);
      expect(file.ready()).toBe(true);
    } finally {
      hanging.close();
      file.close();
    }
  });
});
