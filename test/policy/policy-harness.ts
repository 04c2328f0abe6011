/** A decider over a local JWKS file and a token minter, for the policy tests (CEL, OpenAPI, shadow). */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../../src/validation/load.js';
import type { Decide, DecideDeps } from '../../src/engine/decide.js';
import type { Engine } from '../../src/engine/engine.js';
import type { RequestView } from '../../src/core/types.js';
import { generateSigningKey } from '../support/fake-idp.js';
import { startSettledEngine } from '../support/gate.js';
import { mintAccessToken } from '../support/tokens.js';

export const ISSUER = 'https://idp.example.com';
export const AUDIENCE = 'api://orders';
const key = generateSigningKey('RS256', 'k1');
export const jwksFile = join(mkdtempSync(join(tmpdir(), 'claimgate-policy-')), 'jwks.json');
writeFileSync(jwksFile, JSON.stringify({ keys: [key.jwk] }));

/** The issuer entry every policy test uses (roles in `roles`, tenant in `tid`). */
export const ISSUER_CONFIG = {
  name: 'idp',
  issuer: ISSUER,
  audiences: [AUDIENCE],
  jwks_file: jwksFile,
  claims: { tenant: ['tid'] },
};

const engines: Engine[] = [];
afterAll(() => engines.forEach((e) => e.close()));

export async function policyDecider(overrides: Record<string, unknown>, deps: DecideDeps = {}): Promise<Decide> {
  const config = validateConfig({
    issuers: [ISSUER_CONFIG],
    upstream: { headers: [{ name: 'x-user-id', claim: 'sub' }], strip_token: true },
    ...overrides,
  });
  const engine = await startSettledEngine(config, { decider: deps });
  engines.push(engine);
  return engine.decide;
}

export function token(claims: Record<string, unknown>): Promise<string> {
  return mintAccessToken(key, ISSUER, { sub: 'alice', aud: AUDIENCE, ...claims });
}

export function request(method: string, path: string, headers: Record<string, string> = {}): RequestView {
  return {
    method,
    host: 'api.example.com',
    path,
    headers: new Map(Object.entries(headers).map(([k, v]) => [k, [v]])),
  };
}

export async function bearer(method: string, path: string, claims: Record<string, unknown> | undefined) {
  return request(method, path, claims === undefined ? {} : { authorization: `Bearer ${await token(claims)}` });
}
