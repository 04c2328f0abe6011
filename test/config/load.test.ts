import { ConfigError, formatPath, parseConfigText } from '../../src/validation/load.js';

const GOOD_ISSUER = `  - name: okta
    issuer: https://partner.okta.com/oauth2/default
    audiences: [api://orders]
`;

function problemsOf(yaml: string): readonly string[] {
  try {
    parseConfigText(yaml, 'test.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('config was accepted');
}

describe('config loading', () => {
  it('accepts a minimal config and fills documented defaults', () => {
    const config = parseConfigText(`issuers:\n${GOOD_ISSUER}`);
    const issuer = config.issuers[0]!;
    expect(issuer.algorithms).toEqual(['RS256']);
    expect(issuer.profile).toBe('rfc9068');
    expect(issuer.token_type).toBeUndefined(); // the profile decides: rfc9068 accepts at+jwt only
    expect(issuer.required).toBe(false);
    expect(issuer.clock_skew_seconds).toBe(60);
    expect(issuer.token_locations).toEqual([{ header: 'authorization', scheme: 'Bearer' }]);
    expect(issuer.keys.cooldown_seconds).toBe(2);
    expect(issuer.keys.kid_cooldown_seconds).toBe(5);
    expect(config.server.check_deadline_ms).toBe(150);
    expect(config.unmatched).toBe('deny');
  });

  it('formats paths the way users read them', () => {
    expect(formatPath(['issuers', 1, 'audiences'])).toBe('issuers[1].audiences');
    expect(formatPath([])).toBe('(root)');
  });

  // Each broken config must produce exactly this line among its problems.
  const broken: [string, string, string][] = [
    [
      'empty audiences',
      `issuers:\n${GOOD_ISSUER}  - name: b\n    issuer: https://b.example.com\n    audiences: []\n`,
      'issuers[1].audiences: must list at least one audience',
    ],
    [
      'missing audiences',
      `issuers:\n  - name: b\n    issuer: https://b.example.com\n`,
      'issuers[0].audiences: must list at least one audience',
    ],
    [
      'misspelled key',
      `issuers:\n${GOOD_ISSUER}    algoritms: [RS256]\n`,
      'issuers[0].algoritms: unknown key (did you mean "algorithms"?)',
    ],
    ['unknown top-level key', `issuers:\n${GOOD_ISSUER}route: []\n`, 'route: unknown key (did you mean "routes"?)'],
    [
      'symmetric algorithm',
      `issuers:\n${GOOD_ISSUER}    algorithms: [HS256]\n`,
      'issuers[0].algorithms[0]: must be one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519 (asymmetric only)',
    ],
    [
      'alg none',
      `issuers:\n${GOOD_ISSUER}    algorithms: [none]\n`,
      'issuers[0].algorithms[0]: must be one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519 (asymmetric only)',
    ],
    ['no issuers', 'issuers: []\n', 'issuers: must list at least one issuer'],
    [
      'tenant template without a tenant list',
      `issuers:\n  - name: entra\n    issuer: https://login.microsoftonline.com/{tenant}/v2.0\n    audiences: [api]\n    jwks_uri: https://login.microsoftonline.com/common/discovery/v2.0/keys\n`,
      'issuers[0].issuer: is a {tenant} template: list the allowed tenants in tenants',
    ],
    [
      'tenant template with discovery',
      `issuers:\n  - name: entra\n    issuer: https://login.microsoftonline.com/{tenant}/v2.0\n    audiences: [api]\n    tenants: [72f988bf-86f1-41af-91ab-2d7cd011db47]\n`,
      'issuers[0].issuer: is a template: set jwks_uri',
    ],
    [
      'tenant template whose profile reads no tenant claim',
      `issuers:\n  - name: t\n    issuer: https://login.example.com/{tenant}/v2.0\n    tenants: [t1]\n    jwks_uri: https://login.example.com/keys\n    audiences: [api]\n`,
      'issuers[0].issuer: is a template, but profile rfc9068 reads no tenant claim',
    ],
    [
      'tenant list without a template',
      `issuers:\n${GOOD_ISSUER}    tenants: [t1]\n`,
      'issuers[0].tenants: needs an issuer template containing {tenant}',
    ],
    [
      'unknown profile',
      `issuers:\n${GOOD_ISSUER}    profile: azure\n`,
      'issuers[0].profile: must be one of rfc9068, auth0, okta, entra, keycloak, cognito, google',
    ],
    [
      'an alias that is another issuer',
      `issuers:\n${GOOD_ISSUER}  - name: b\n    issuer: https://b.example.com\n    issuer_aliases: [https://partner.okta.com/oauth2/default]\n    audiences: [api]\n`,
      'issuers[1].issuer: duplicates the issuer of issuers[0] (https://partner.okta.com/oauth2/default)',
    ],
    [
      'unknown principal field',
      `issuers:\n${GOOD_ISSUER}upstream:\n  headers: [{ name: x-user, principal: username }]\n`,
      'upstream.headers[0]',
    ],
    ['issuers missing', 'routes: []\n', 'issuers: is required'],
    [
      'plain http issuer',
      `issuers:\n  - name: a\n    issuer: http://idp.example.com\n    audiences: [x]\n`,
      'issuers[0].issuer: uses plain http; set allow_insecure_http: true to allow it (loopback tests only)',
    ],
    [
      'two key sources',
      `issuers:\n${GOOD_ISSUER}    jwks_uri: https://x.example.com/jwks\n    jwks_file: ./keys.json\n`,
      'issuers[0]: set only one of discovery, jwks_uri, jwks_file',
    ],
    [
      'duplicate issuer name',
      `issuers:\n${GOOD_ISSUER}${GOOD_ISSUER.replace('partner.okta.com', 'other.okta.com')}`,
      'issuers[1].name: duplicates the name of issuers[0]',
    ],
    [
      'duplicate iss',
      `issuers:\n${GOOD_ISSUER}${GOOD_ISSUER.replace('name: okta', 'name: okta2')}`,
      'issuers[1].issuer: duplicates the issuer of issuers[0]',
    ],
    [
      'unknown issuer in requirement',
      `issuers:\n${GOOD_ISSUER}routes:\n  - name: r\n    require: { issuer: auth0 }\n`,
      'routes[0].require.issuer: names unknown issuer "auth0"',
    ],
    [
      'scope of wrong type',
      `issuers:\n${GOOD_ISSUER}routes:\n  - name: r\n    require: { scope: 1 }\n`,
      'routes[0].require.scope: must be a scope or a list of them',
    ],
    [
      'claim with two tests',
      `issuers:\n${GOOD_ISSUER}routes:\n  - name: r\n    require: { claim: { path: tier, equals: gold, prefix: g } }\n`,
      'routes[0].require.claim: must set exactly one of equals, one_of, prefix, regex, exists',
    ],
    [
      'bad regex',
      `issuers:\n${GOOD_ISSUER}routes:\n  - name: r\n    require: { claim: { path: tier, regex: "(" } }\n`,
      'routes[0].require.claim.regex: is not a valid regular expression',
    ],
    [
      'public with requirements',
      `issuers:\n${GOOD_ISSUER}routes:\n  - name: r\n    public: true\n    require: { scope: a }\n`,
      'routes[0].require: a public route cannot have requirements',
    ],
    [
      'relative path',
      `issuers:\n${GOOD_ISSUER}routes:\n  - name: r\n    match: { path: { prefix: admin } }\n`,
      'routes[0].match.path.prefix: must start with /',
    ],
    [
      'bad template',
      `issuers:\n${GOOD_ISSUER}routes:\n  - name: r\n    match: { path: { template: "/orders/{id" } }\n`,
      'routes[0].match.path.template: must be segments of literals or {name} placeholders, e.g. /orders/{id}',
    ],
    [
      'duplicate route',
      `issuers:\n${GOOD_ISSUER}routes:\n  - name: r\n  - name: r\n`,
      'routes[1].name: duplicates the name of routes[0]',
    ],
    [
      'protocol header as identity header',
      `issuers:\n${GOOD_ISSUER}upstream:\n  headers: [{ name: Authorization, claim: sub }]\n`,
      'upstream.headers[0].name: is a protocol header claimgate must not set',
    ],
    [
      'protocol header as payload header',
      `issuers:\n${GOOD_ISSUER}upstream:\n  payload_header: Host\n`,
      'upstream.payload_header: is a protocol header claimgate must not set',
    ],
    [
      'bad listen address',
      `server: { grpc_address: "localhost" }\nissuers:\n${GOOD_ISSUER}`,
      'server.grpc_address: must be host:port, e.g. 127.0.0.1:9001 or [::1]:9001',
    ],
    ['YAML duplicate key', `issuers:\n${GOOD_ISSUER}issuers: []\n`, 'syntax: Map keys must be unique'],
  ];

  it.each(broken)('rejects %s with a precise error', (_name, yaml, expected) => {
    expect(problemsOf(yaml)).toContainEqual(
      expect.stringMatching(new RegExp(`^${expected.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`)),
    );
  });

  it('reports every problem at once, not just the first', () => {
    const problems = problemsOf(`issuers:\n  - name: A\n    issuer: ""\n    audiences: []\n`);
    expect(problems.length).toBeGreaterThanOrEqual(3);
  });

  it('rejects a YAML syntax error with its position', () => {
    const problems = problemsOf('issuers: [\n');
    expect(problems[0]).toMatch(/^syntax: .*line \d+/);
  });
});
