/** Config rules for introspection, opaque_tokens, enrichment and the upstream identity JWT. */
import { ConfigError, validateConfig } from '../../src/validation/load.js';

const issuer = (extra: Record<string, unknown> = {}) => ({
  name: 'ping',
  issuer: 'https://sso.example',
  audiences: ['https://api.example'],
  ...extra,
});
const introspection = { client_id: 'claimgate', client_secret_env: 'SECRET' };

function problems(raw: Record<string, unknown>): readonly string[] {
  try {
    validateConfig(raw);
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
}

describe('opaque token and introspection settings', () => {
  test('a valid setup passes with the documented defaults', () => {
    const config = validateConfig({ issuers: [issuer({ introspection })], opaque_tokens: [{ issuer: 'ping' }] });
    expect(config.issuers[0]?.introspection).toMatchObject({
      auth_method: 'client_secret_basic',
      token_type_hint: 'access_token',
      max_cache_ttl_seconds: 30,
      stale_if_error_seconds: 0,
    });
  });

  test.each([
    [
      { opaque_tokens: [{ issuer: 'nobody' }], issuers: [issuer({ introspection })] },
      'opaque_tokens[0].issuer: names unknown issuer "nobody" (configured: ping)',
    ],
    [
      { opaque_tokens: [{ issuer: 'ping' }], issuers: [issuer()] },
      'opaque_tokens[0].issuer: issuer "ping" has no introspection settings',
    ],
    [
      { opaque_tokens: [{ issuer: 'ping' }, { issuer: 'ping', prefix: 'x' }], issuers: [issuer({ introspection })] },
      'opaque_tokens[0]: a rule without prefix takes every token: it must come last',
    ],
    [
      { issuers: [issuer({ introspection: { client_id: 'c' } })] },
      'issuers[0].introspection.auth_method: client_secret_basic needs exactly one of client_secret_file, client_secret_env',
    ],
    [
      { issuers: [issuer({ introspection: { ...introspection, client_secret_file: '/s' } })] },
      'issuers[0].introspection.auth_method: client_secret_basic needs exactly one of client_secret_file, client_secret_env',
    ],
    [
      { issuers: [issuer({ introspection: { client_id: 'c', auth_method: 'private_key_jwt' } })] },
      'issuers[0].introspection.private_key_file: private_key_jwt needs private_key_file',
    ],
    [
      { issuers: [issuer({ introspection: { ...introspection, endpoint: 'http://sso.example/introspect' } })] },
      'issuers[0].introspection.endpoint: uses plain http; set allow_insecure_http: true to allow it (loopback tests only)',
    ],
  ])('%j is refused', (raw, problem) => {
    expect(problems(raw)).toContain(problem);
  });
});

describe('enrichment and identity_jwt settings', () => {
  const enrichment = {
    name: 'roles',
    url: 'https://t.example/api/v2/users/{subject}/roles',
    map: [{ field: 'roles', item: 'name' }],
  };
  const identity = {
    issuer: 'https://claimgate.internal',
    audience: 'up',
    claims: [{ name: 'sub', principal: 'qualified_subject' }],
    keys: [{ private_key_file: '/k.pem', kid: 'k' }],
  };

  test.each([
    [{ enrichment: [{ ...enrichment, url: 'https://t.example/roles' }] }, 'enrichment[0].url: must contain {subject}'],
    [
      { enrichment: [{ ...enrichment, issuers: ['nope'] }] },
      'enrichment[0].issuers[0]: names unknown issuer "nope" (configured: ping)',
    ],
    [{ enrichment: [enrichment, enrichment] }, 'enrichment[1].name: duplicates the name of enrichment[0]'],
    [
      { enrichment: [{ ...enrichment, url: 'http://t.example/u/{subject}' }] },
      'enrichment[0].url: uses plain http; set allow_insecure_http: true to allow it',
    ],
    [
      { upstream: { identity_jwt: { ...identity, claims: [{ name: 'iss', principal: 'issuer' }] } } },
      'upstream.identity_jwt.claims[0].name: is set by claimgate itself (iss, aud, iat, exp, nbf, jti)',
    ],
    [
      { upstream: { identity_jwt: { ...identity, header: 'authorization' } } },
      'upstream.identity_jwt.header: is a protocol header or already used by upstream.headers',
    ],
    [
      { upstream: { identity_jwt: { ...identity, keys: [identity.keys[0], identity.keys[0]] } } },
      'upstream.identity_jwt.keys: key ids must differ',
    ],
  ])('%j is refused', (raw, problem) => {
    expect(problems({ issuers: [issuer()], ...raw })).toContain(problem);
  });
});
