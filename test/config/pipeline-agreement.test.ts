/**
 * One validation pipeline: every broken config in this corpus gets the same answer from
 * `check-config`, from `serve` (both the built CLI, as users run them) and from a hot reload of a
 * running gate (the built server, which reads on its worker thread): exit code 1 and exactly the same
 * problem lines, paths included. Each case also names lines it must contain, so "the same" is
 * also "right".
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as App from '../../src/app/claimgate.js';
import type * as Load from '../../src/validation/load.js';
import type * as Log from '../../src/core/log.js';

const app = (await import(new URL('../../dist/app/claimgate.js', import.meta.url).href)) as typeof App;
const load = (await import(new URL('../../dist/validation/load.js', import.meta.url).href)) as typeof Load;
const log = (await import(new URL('../../dist/core/log.js', import.meta.url).href)) as typeof Log;
const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'claimgate-pipeline-'));

const SERVER = `server: { grpc_address: "127.0.0.1:0", admin_address: "127.0.0.1:0", watch_config: false }\n`;
const ISSUER = `  - name: acme
    issuer: https://idp.example.com
    audiences: [api]
    jwks_file: ${join(dir, 'absent-jwks.json')}
`;
const GOOD = `${SERVER}issuers:\n${ISSUER}`;
const INTRO = `    introspection: { client_id: claimgate, client_secret_env: SECRET }\n`;
const notPem = join(dir, 'not-a-cert.pem');
writeFileSync(notPem, 'hello\n');

/** [name, config text, lines the problems must include (exactly)] */
const CORPUS: [string, string, string[]][] = [
  ['YAML syntax', `${GOOD}routes: [\n`, []],
  ['no issuers', `${SERVER}issuers: []\n`, ['issuers: must list at least one issuer']],
  ['issuers missing', SERVER, ['issuers: is required']],
  [
    'issuer without a scheme',
    `issuers:\n  - { name: okta, issuer: partner.okta.com/oauth2/default, audiences: [api] }\n`,
    [
      'issuers[0].issuer: must be the exact issuer URL with its scheme (found "partner.okta.com/oauth2/default"; did you mean "https://partner.okta.com/oauth2/default"?)',
    ],
  ],
  [
    'audiences as a string',
    `issuers:\n  - { name: okta, issuer: "https://idp.example.com", audiences: api://orders }\n`,
    ['issuers[0].audiences: must be a list (found the string "api://orders"; write [api://orders])'],
  ],
  [
    'typo: audience',
    `issuers:\n  - { name: okta, issuer: "https://idp.example.com", audience: [api] }\n`,
    [
      'issuers[0].audiences: must list at least one audience',
      'issuers[0].audience: unknown key (did you mean "audiences"?)',
    ],
  ],
  [
    'typo: algoritms',
    `${GOOD}    algoritms: [RS256]\n`,
    ['issuers[0].algoritms: unknown key (did you mean "algorithms"?)'],
  ],
  ['typo: top-level route', `${GOOD}route: []\n`, ['route: unknown key (did you mean "routes"?)']],
  [
    'typo: server.grpc_adress',
    `server: { grpc_adress: "127.0.0.1:1" }\nissuers:\n${ISSUER}`,
    ['server.grpc_adress: unknown key (did you mean "grpc_address"?)'],
  ],
  [
    'port out of range',
    `server: { grpc_address: "127.0.0.1:99999" }\nissuers:\n${ISSUER}`,
    ['server.grpc_address: port must be 0-65535 (found 99999)'],
  ],
  [
    'address without a port',
    `server: { admin_address: localhost }\nissuers:\n${ISSUER}`,
    ['server.admin_address: must be host:port, e.g. 127.0.0.1:9001 or [::1]:9001'],
  ],
  [
    'symmetric algorithm',
    `${GOOD}    algorithms: [HS256]\n`,
    [
      'issuers[0].algorithms[0]: must be one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519 (asymmetric only)',
    ],
  ],
  [
    'plain http issuer',
    `issuers:\n  - { name: a, issuer: "http://idp.example.com", audiences: [api] }\n`,
    ['issuers[0].issuer: uses plain http; set allow_insecure_http: true to allow it (loopback tests only)'],
  ],
  [
    'two key sources',
    `${GOOD}    jwks_uri: https://idp.example.com/keys\n`,
    ['issuers[0]: set only one of discovery, jwks_uri, jwks_file'],
  ],
  [
    'bad issuer name',
    `issuers:\n  - { name: ACME, issuer: "https://idp.example.com", audiences: [api], jwks_file: /x }\n`,
    ['issuers[0].name: must be a short lower-case name ([a-z0-9_.-], up to 63 chars)'],
  ],
  [
    'duplicate issuer names',
    `${GOOD}${ISSUER.replace('idp.example.com', 'idp2.example.com')}`,
    ['issuers[1].name: duplicates the name of issuers[0]'],
  ],
  [
    'duplicate issuer values',
    `${GOOD}${ISSUER.replace('name: acme', 'name: beta')}`,
    ['issuers[1].issuer: duplicates the issuer of issuers[0]'],
  ],
  [
    'scope with a space',
    `${GOOD}routes:\n  - { name: r, require: { scope: "orders:read orders:write" } }\n`,
    [
      'routes[0].require.scope: must be one scope without spaces (found "orders:read orders:write"); list each scope separately: [orders:read, orders:write]',
    ],
  ],
  [
    'duplicate route names',
    `${GOOD}routes:\n  - { name: r }\n  - { name: r }\n`,
    ['routes[1].name: duplicates the name of routes[0]'],
  ],
  [
    'unknown issuer reference',
    `${GOOD}routes:\n  - { name: r, require: { issuer: okta } }\n`,
    ['routes[0].require.issuer: names unknown issuer "okta" (configured: acme)'],
  ],
  [
    'public route with requirements',
    `${GOOD}routes:\n  - { name: r, public: true, require: { scope: a } }\n`,
    ['routes[0].require: a public route cannot have requirements'],
  ],
  [
    'path not starting with /',
    `${GOOD}routes:\n  - { name: r, match: { path: { prefix: orders } } }\n`,
    ['routes[0].match.path.prefix: must start with /'],
  ],
  [
    'bad template',
    `${GOOD}routes:\n  - { name: r, match: { path: { template: "/orders/{id" } } }\n`,
    ['routes[0].match.path.template: must be segments of literals or {name} placeholders, e.g. /orders/{id}'],
  ],
  [
    'unknown method',
    `${GOOD}routes:\n  - { name: r, match: { methods: [FETCH] } }\n`,
    ['routes[0].match.methods[0]: must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, CONNECT, TRACE'],
  ],
  ['bad regex', `${GOOD}routes:\n  - { name: r, require: { claim: { path: email, regex: "(" } } }\n`, []],
  [
    'two claim tests',
    `${GOOD}routes:\n  - { name: r, require: { claim: { path: email, equals: a, prefix: b } } }\n`,
    ['routes[0].require.claim: must set exactly one of equals, one_of, prefix, regex, exists'],
  ],
  [
    'protocol identity header',
    `${GOOD}upstream: { headers: [{ name: host, claim: sub }] }\n`,
    ['upstream.headers[0].name: is a protocol header claimgate must not set (found "host")'],
  ],
  [
    'duplicate identity header',
    `${GOOD}upstream: { headers: [{ name: x-sub, claim: sub }, { name: X-Sub, claim: email }] }\n`,
    ['upstream.headers[1].name: duplicates another identity header'],
  ],
  [
    'payload header clash',
    `${GOOD}upstream: { headers: [{ name: x-sub, claim: sub }], payload_header: x-sub }\n`,
    ['upstream.payload_header: is already used by upstream.headers'],
  ],
  [
    'TLS file missing',
    `${GOOD}tls: { cert_file: ${join(dir, 'none.crt')}, key_file: ${join(dir, 'none.key')} }\n`,
    [
      `tls.cert_file: cannot read ${join(dir, 'none.crt')}: ENOENT`,
      `tls.key_file: cannot read ${join(dir, 'none.key')}: ENOENT`,
    ],
  ],
  ['TLS file not PEM', `${GOOD}tls: { cert_file: ${notPem}, key_file: ${notPem} }\n`, []],
  [
    'allowed_clients without a CA',
    `${GOOD}tls: { cert_file: ${notPem}, key_file: ${notPem}, allowed_clients: ["dns:envoy"] }\n`,
    ['tls.allowed_clients: needs client_ca_file: identities are only trusted from verified client certificates'],
  ],
  [
    'resource metadata over http',
    `${GOOD}resource_metadata: { resource: "http://api.example.com" }\n`,
    ['resource_metadata.resource: must be an https URL without a fragment (RFC 9728 §2)'],
  ],
  [
    'opaque_tokens naming an unknown issuer',
    `${GOOD}opaque_tokens: [{ issuer: okta }]\n`,
    ['opaque_tokens[0].issuer: names unknown issuer "okta" (configured: acme)'],
  ],
  [
    'opaque_tokens to an issuer without introspection',
    `${GOOD}opaque_tokens: [{ issuer: acme }]\n`,
    ['opaque_tokens[0].issuer: issuer "acme" has no introspection settings'],
  ],
  [
    'catch-all opaque_tokens rule before another',
    `${GOOD}${INTRO}opaque_tokens: [{ issuer: acme }, { issuer: acme, prefix: "ory_at_" }]\n`,
    ['opaque_tokens[0]: a rule without prefix takes every token: it must come last'],
  ],
  [
    'enrichment url without {subject}',
    `${GOOD}enrichment: [{ name: roles, url: "https://t.example/roles", map: [{ field: roles }] }]\n`,
    ['enrichment[0].url: must contain {subject}'],
  ],
  [
    'enrichment naming an unknown issuer next to a broken lookup',
    `${GOOD}enrichment:\n  - { name: roles, issuers: [okta], url: "https://t.example/u/{subject}", map: [{ field: roles }] }\n  - { name: roles, url: "http://t.example/u/{subject}", map: [{ field: roles }] }\n`,
    [
      'enrichment[0].issuers[0]: names unknown issuer "okta" (configured: acme)',
      'enrichment[1].name: duplicates the name of enrichment[0]',
      'enrichment[1].url: uses plain http; set allow_insecure_http: true to allow it',
    ],
  ],
  [
    'binding mode misspelled on a route',
    `${GOOD}routes: [{ name: pay, binding: strict }]\n`,
    ['routes[0].binding: must be one of required, allowed, none'],
  ],
  [
    'identity_jwt header taken by an identity header',
    `${GOOD}upstream:\n  headers: [{ name: x-id, claim: sub }]\n  identity_jwt: { header: x-id, issuer: "https://gate", audience: up, claims: [{ name: sub, principal: subject }], keys: [{ private_key_file: /k.pem, kid: a }, { private_key_file: /k2.pem, kid: a }] }\n`,
    [
      'upstream.identity_jwt.header: is a protocol header or already used by upstream.headers',
      'upstream.identity_jwt.keys: key ids must differ',
    ],
  ],
  [
    'a list of roles under not',
    `${GOOD}routes: [{ name: r, require: { not: { role: [banned, suspended] } } }]\n`,
    [
      'routes[0].require.not.role: a list under not means "not all of them"; write not: {any: [{role: banned}, …]} for "none of them", or not: {all: […]} for "not all"',
    ],
  ],
  [
    'CEL condition reading an owned identity header',
    `${GOOD}upstream: { headers: [{ name: x-user, claim: sub }] }\nroutes: [{ name: r, require: { cel: { expression: 'request.headers["x-user"] == "a"', headers: [x-user] } } }]\n`,
    [
      'routes[0].require.cel.headers[0]: is an identity header claimgate owns; a condition would read the client-sent copy',
    ],
  ],
  [
    'shadow requirement naming an unknown issuer',
    `${GOOD}routes: [{ name: r, shadow: { require: { issuer: okta } } }]\n`,
    ['routes[0].shadow.require.issuer: names unknown issuer "okta" (configured: acme)'],
  ],
  [
    'several mistakes at once',
    `${SERVER}issuers:\n  - { name: a, issuer: "https://a.example.com", audiences: [] }\n${ISSUER}routes:\n  - { name: r, require: { issuer: nobody } }\n  - { name: r }\n`,
    [
      'issuers[0].audiences: must list at least one audience',
      'routes[0].require.issuer: names unknown issuer "nobody" (configured: a, acme)',
      'routes[1].name: duplicates the name of routes[0]',
    ],
  ],
  [
    'a missing TLS file next to a schema error',
    `${GOOD}    algorithms: [HS256]\ntls: { cert_file: ${join(dir, 'none.crt')}, key_file: ${notPem} }\n`,
    [
      'issuers[0].algorithms[0]: must be one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519 (asymmetric only)',
      `tls.cert_file: cannot read ${join(dir, 'none.crt')}: ENOENT`,
    ],
  ],
];

const file = (name: string, text: string) => {
  const path = join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.yaml`);
  writeFileSync(path, text);
  return path;
};

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 15000 });
  const problems = r.stderr
    .split('\n')
    .filter((l) => l.startsWith('  - '))
    .map((l) => l.slice(4));
  return { code: r.status, problems, stderr: r.stderr };
}

describe('check-config, serve and a hot reload agree on every broken config', () => {
  let gate: App.Claimgate;
  const goodPath = join(dir, 'good.yaml');
  beforeAll(async () => {
    writeFileSync(goodPath, GOOD);
    gate = await app.startClaimgate(load.parseConfigText(GOOD, goodPath), { configFileText: GOOD });
  });
  afterAll(() => gate.close(0));

  it(`the corpus has at least 30 broken configs`, () => expect(CORPUS.length).toBeGreaterThanOrEqual(30));

  it.each(CORPUS)('%s', async (name, text, mustInclude) => {
    const path = file(name, text);
    const checked = cli(['check-config', path]);
    const served = cli(['serve', '--config', path]);
    const reloaded = await gate.reloadFromFile(path, true);

    expect(checked.code).toBe(1);
    expect(checked.stderr.startsWith(`claimgate: invalid config ${path}:\n`)).toBe(true);
    expect(checked.problems.length).toBeGreaterThan(0);
    for (const line of mustInclude) expect(checked.problems).toContain(line);
    expect(served).toEqual(checked);
    expect(reloaded.ok).toBe(false);
    expect(reloaded.ok ? [] : reloaded.problems).toEqual(checked.problems);
    // The broken file left the running config alone.
    expect(gate.compiled().source.issuers.map((i) => i.name)).toEqual(['acme']);
  });

  it('the good config passes all three', async () => {
    expect(cli(['check-config', goodPath]).code).toBe(0);
    expect(await gate.reloadFromFile(goodPath, true)).toEqual({ ok: true, changed: true });
  });
});

describe('check-config, serve and a hot reload report the same warnings', () => {
  // The second route can never match: the first takes every request (config lint, lint.ts).
  const shadowed = `${GOOD}routes:\n  - { name: all }\n  - { name: late, match: { path: { prefix: /late } } }\n`;
  const warning =
    'routes[1] (late): unreachable: routes[0] (all) matches every request it could match, and the first matching route decides';
  const warningsLogged = (lines: readonly string[]) =>
    lines
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg?: string; warning?: string })
      .filter((l) => l.msg === 'config warning')
      .map((l) => l.warning);

  it('an unreachable route is a warning, never a problem, in all three', async () => {
    const path = file('shadowed', shadowed);
    const checked = spawnSync(process.execPath, [CLI, 'check-config', path, '--json'], { encoding: 'utf8' });
    expect(checked.status).toBe(0);
    expect((JSON.parse(checked.stdout) as { warnings: string[] }).warnings).toEqual([warning]);

    // serve logs the warning before it listens; the timeout's SIGTERM then stops it cleanly.
    const served = spawnSync(process.execPath, [CLI, 'serve', '--config', path], { encoding: 'utf8', timeout: 5000 });
    expect(warningsLogged(served.stderr.split('\n'))).toEqual([warning]);

    const lines: string[] = [];
    const logger = log.createLogger('info', { write: (line: string) => void lines.push(line) });
    const gate = await app.startClaimgate(load.parseConfigText(GOOD), { logger });
    try {
      expect(await gate.reloadFromFile(path, true)).toEqual({ ok: true, changed: true });
      expect(warningsLogged(lines.join('').split('\n'))).toEqual([warning]);
    } finally {
      await gate.close(0);
    }
  });
});
