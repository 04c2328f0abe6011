/**
 * `claimgate explain` against the real oidc-provider: the steps it shows for the mistakes partners
 * make, and its final answer equal to what a running gate answers over real gRPC for the same request
 * and the same config, in every case of the table.
 */
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JWTPayload } from 'jose';
import type { Claimgate } from '../../src/app/claimgate.js';
import { createCheckClient, type CheckInput } from '../../src/cli/check-client.js';
import { explainRequest, renderExplain, type ExplainReport } from '../../src/cli/explain.js';
import { parseConfigText } from '../../src/validation/load.js';
import type { Config } from '../../src/config/schema.js';
import { startOidcProvider, type OidcProviderIdp } from '../support/oidc-provider.js';
import { startSettledGate } from '../support/gate.js';

const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'claimgate-explain-'));

const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
const weakJwk = { ...weak.privateKey.export({ format: 'jwk' }), kid: 'weak-1024', alg: 'RS256', use: 'sig' };

describe('claimgate explain', () => {
  let good: OidcProviderIdp; // an HTTP issuer on loopback (allow_insecure_http)
  let mismatched: OidcProviderIdp; // discovery names `${issuer}/`
  let weakKeyed: OidcProviderIdp; // also publishes an RSA 1024 key
  let config: Config;
  let configPath: string;
  let gate: Claimgate;
  let client: ReturnType<typeof createCheckClient>;
  const tokens: Record<string, string> = {};

  const claimsFor = (idp: OidcProviderIdp, extra: JWTPayload = {}): JWTPayload => {
    const now = Math.floor(Date.now() / 1000);
    return {
      iss: idp.issuer,
      aud: idp.audience,
      sub: 'svc-1',
      client_id: 'orders-service',
      scope: 'orders:read',
      iat: now - 10,
      exp: now + 300,
      jti: `j-${Math.random()}`,
      ...extra,
    };
  };

  beforeAll(async () => {
    good = await startOidcProvider();
    mismatched = await startOidcProvider({ publishedIssuer: (base) => `${base}/` });
    weakKeyed = await startOidcProvider({ extraPrivateJwks: [weakJwk] });
    const issuer = (name: string, idp: OidcProviderIdp) =>
      `  - { name: ${name}, issuer: "${idp.issuer}", audiences: ["${idp.audience}"], allow_insecure_http: true }\n`;
    const text = `server: { grpc_address: "127.0.0.1:0", admin_address: "127.0.0.1:0", watch_config: false }
issuers:
${issuer('good', good)}${issuer('mismatched', mismatched)}${issuer('weak', weakKeyed)}routes:
  - { name: health, public: true, match: { path: { exact: /healthz } } }
  - { name: orders-read, match: { methods: [GET, HEAD], path: { prefix: /orders } }, require: { scope: orders:read } }
  - { name: orders-write, match: { methods: [POST], path: { prefix: /orders } }, require: { all: [{ scope: orders:write }, { issuer: good }] } }
  - { name: admin, match: { path: { prefix: /admin } }, require: { any: [{ role: admin }, { scope: admin }] } }
  - { name: not-weak, match: { path: { prefix: /partners } }, require: { not: { issuer: weak } } }
  - { name: bound, match: { path: { prefix: /bound } }, binding: required }
upstream:
  headers: [{ name: x-subject, claim: sub }, { name: x-client, principal: client_id }]
`;
    configPath = join(dir, 'claimgate.yaml');
    writeFileSync(configPath, text);
    config = parseConfigText(text, configPath);
    gate = await startSettledGate(config);
    client = createCheckClient(`127.0.0.1:${gate.grpcPort}`);

    tokens.read = await good.mintClientCredentialsToken('orders:read');
    tokens.readWrite = await good.mintClientCredentialsToken('orders:read orders:write');
    tokens.writeOnly = await good.mintClientCredentialsToken('orders:write');
    tokens.weakIssuerGood = await weakKeyed.mintClientCredentialsToken('orders:read');
    const now = Math.floor(Date.now() / 1000);
    tokens.expired = await good.sign(claimsFor(good, { iat: now - 7200, exp: now - 3600 }), { typ: 'at+jwt' });
    tokens.wrongAudience = await good.sign(claimsFor(good, { aud: 'https://other.example.com' }), { typ: 'at+jwt' });
    tokens.plainJwtTyp = await good.sign(claimsFor(good), { typ: 'JWT' });
    // Signed with the provider's key, claiming the issuer value configured (discovery says another).
    tokens.mismatched = await mismatched.sign(claimsFor(mismatched), { typ: 'at+jwt' });
    // jose refuses RSA keys under 2048 bits, so this one is signed by hand.
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const input = `${b64({ alg: 'RS256', typ: 'at+jwt', kid: 'weak-1024' })}.${b64(claimsFor(weakKeyed))}`;
    tokens.weakKey = `${input}.${sign('sha256', Buffer.from(input), weak.privateKey).toString('base64url')}`;
    const [h, p, s] = tokens.read.split('.');
    const tampered = JSON.parse(Buffer.from(p!, 'base64url').toString()) as JWTPayload;
    tokens.tampered = `${h}.${Buffer.from(JSON.stringify({ ...tampered, scope: 'orders:read orders:write' })).toString('base64url')}.${s}`;
    // Bound to a DPoP key (RFC 9449 §6.1) but presented as a plain Bearer token.
    tokens.dpopBound = await good.sign(claimsFor(good, { cnf: { jkt: 'x'.repeat(43) } }), { typ: 'at+jwt' });
    tokens.unknownIssuer = await good.sign(claimsFor(good, { iss: 'https://nobody.example.com' }), { typ: 'at+jwt' });
  });

  afterAll(async () => {
    client?.close();
    await gate?.close(0);
    await Promise.all([good, mismatched, weakKeyed].map((i) => i?.close()));
  });

  const explain = (input: CheckInput) => explainRequest({ config, ...input });

  /** [case, request, the reason both must give] */
  const TABLE: [string, () => CheckInput, string][] = [
    ['allowed read', () => ({ method: 'GET', path: '/orders/1', token: tokens.read }), 'OK_AUTHENTICATED'],
    ['HEAD counts as read', () => ({ method: 'HEAD', path: '/orders', token: tokens.read }), 'OK_AUTHENTICATED'],
    [
      'allowed write (all of)',
      () => ({ method: 'POST', path: '/orders', token: tokens.readWrite }),
      'OK_AUTHENTICATED',
    ],
    [
      'write without the scope',
      () => ({ method: 'POST', path: '/orders', token: tokens.read }),
      'ERR_INSUFFICIENT_SCOPE',
    ],
    [
      'read without the scope',
      () => ({ method: 'GET', path: '/orders', token: tokens.writeOnly }),
      'ERR_INSUFFICIENT_SCOPE',
    ],
    [
      'any of: neither role nor scope',
      () => ({ method: 'GET', path: '/admin', token: tokens.read }),
      'ERR_ROLE_MISSING',
    ],
    [
      'not: the excluded issuer',
      () => ({ method: 'GET', path: '/partners', token: tokens.weakIssuerGood }),
      'ERR_CLAIM_CONDITION_FAILED',
    ],
    ['not: another issuer', () => ({ method: 'GET', path: '/partners', token: tokens.read }), 'OK_AUTHENTICATED'],
    [
      'write needs issuer good',
      () => ({ method: 'POST', path: '/orders', token: tokens.weakIssuerGood }),
      'ERR_INSUFFICIENT_SCOPE',
    ],
    ['no token', () => ({ method: 'GET', path: '/orders' }), 'ERR_TOKEN_MISSING'],
    ['public route, no token', () => ({ method: 'GET', path: '/healthz' }), 'OK_PUBLIC_ROUTE'],
    ['public route with a token', () => ({ method: 'GET', path: '/healthz', token: tokens.read }), 'OK_PUBLIC_ROUTE'],
    ['no route', () => ({ method: 'GET', path: '/elsewhere', token: tokens.read }), 'ERR_ROUTE_NOT_FOUND'],
    ['expired sample token', () => ({ method: 'GET', path: '/orders', token: tokens.expired }), 'ERR_TOKEN_EXPIRED'],
    [
      'wrong audience',
      () => ({ method: 'GET', path: '/orders', token: tokens.wrongAudience }),
      'ERR_AUDIENCE_MISMATCH',
    ],
    [
      'typ JWT under rfc9068',
      () => ({ method: 'GET', path: '/orders', token: tokens.plainJwtTyp }),
      'ERR_TOKEN_TYPE_INVALID',
    ],
    ['tampered payload', () => ({ method: 'GET', path: '/orders', token: tokens.tampered }), 'ERR_SIGNATURE_INVALID'],
    [
      'unknown issuer',
      () => ({ method: 'GET', path: '/orders', token: tokens.unknownIssuer }),
      'ERR_ISSUER_NOT_ALLOWED',
    ],
    [
      'discovery issuer mismatch',
      () => ({ method: 'GET', path: '/orders', token: tokens.mismatched }),
      'ERR_JWKS_UNAVAILABLE',
    ],
    ['signed with a weak key', () => ({ method: 'GET', path: '/orders', token: tokens.weakKey }), 'ERR_KEY_NOT_FOUND'],
    ['not a JWT', () => ({ method: 'GET', path: '/orders', token: 'not-a-jwt' }), 'ERR_TOKEN_MALFORMED'],
    [
      'method override',
      () => ({ method: 'GET', path: '/orders', token: tokens.read, headers: { 'x-http-method-override': 'DELETE' } }),
      'ERR_METHOD_OVERRIDE',
    ],
    [
      'another spelling of an identity header',
      () => ({ method: 'GET', path: '/orders', token: tokens.read, headers: { x_subject: 'admin' } }),
      'ERR_HEADER_NAME_AMBIGUOUS',
    ],
    [
      'path escaping with ..',
      () => ({ method: 'GET', path: '/orders/../admin', token: tokens.read }),
      'ERR_ROLE_MISSING',
    ],
    [
      'bearer token on a route that requires binding',
      () => ({ method: 'GET', path: '/bound', token: tokens.read }),
      'ERR_TOKEN_NOT_BOUND',
    ],
    [
      'DPoP-bound token sent as Bearer',
      () => ({ method: 'GET', path: '/orders', token: tokens.dpopBound }),
      'ERR_TOKEN_BOUND',
    ],
  ];

  it('has at least 20 cases', () => expect(TABLE.length).toBeGreaterThanOrEqual(20));

  it.each(TABLE)('%s: explain answers as the gate does over gRPC', async (_name, request, reason) => {
    const input = request();
    const [report, answer] = await Promise.all([explain(input), client.check(input)]);
    expect(report.decision.reason).toBe(reason);
    expect({
      outcome: report.decision.outcome,
      status: report.decision.status,
      reason: report.decision.reason,
    }).toEqual({ outcome: answer.kind, status: answer.httpStatus, reason: answer.reason ?? grpcReason(answer.raw) });
    if (answer.kind === 'allow')
      expect(Object.fromEntries(report.decision.headersToSet.map((h) => [h.name, h.value]))).toEqual(answer.headers);
  });

  /** An allow carries its reason in the dynamic metadata (claimgate's namespace). */
  function grpcReason(raw: unknown): string | undefined {
    const fields = (
      raw as {
        dynamic_metadata?: {
          fields?: Record<string, { structValue?: { fields?: Record<string, { stringValue?: string }> } }>;
        };
      }
    ).dynamic_metadata?.fields;
    const ours = Object.values(fields ?? {})[0]?.structValue?.fields;
    return ours?.reason?.stringValue;
  }

  /** The built CLI, asynchronously: the IdP it fetches keys from runs in this process. */
  const runCli = (args: string[]) =>
    new Promise<{ status: number | null; stdout: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.on('close', (status) => resolve({ status, stdout }));
    });

  const stepsOf = (r: ExplainReport) => renderExplain(config, r).join('\n');

  it('shows the route, the issuer, verification, each requirement and the upstream headers', async () => {
    const report = await explain({ method: 'POST', path: '/orders', token: tokens.read });
    const text = stepsOf(report);
    expect(text).toContain('route "orders-write" (first match: any host, method in [POST], path prefix /orders)');
    expect(text).toContain(`token claims iss: ${good.issuer}`);
    expect(text).toContain('ok   verified for issuer "good"');
    expect(text).toContain('FAIL requirement all[0].scope');
    expect(text).toContain('ok   requirement all[1].issuer');
    expect(text).toContain('FAIL requirement all');
    expect(text).toContain('answer: DENY 403 ERR_INSUFFICIENT_SCOPE');
    expect(text).toContain('scope="orders:write"');
    const allowed = stepsOf(await explain({ method: 'GET', path: '/orders', token: tokens.read }));
    expect(allowed).toContain('upstream header: x-subject: ');
    expect(allowed).toContain('upstream header: x-client: ');
    expect(allowed).toContain('answer: ALLOW 200 OK_AUTHENTICATED');
  });

  it('shows the sender-constraint step after verification', async () => {
    const unbound = await explain({ method: 'GET', path: '/bound', token: tokens.read });
    expect(unbound.steps).toContainEqual({ step: 'binding', ok: false, kind: 'bearer', reason: 'ERR_TOKEN_NOT_BOUND' });
    expect(stepsOf(unbound)).toContain('FAIL sender constraint (bearer): ERR_TOKEN_NOT_BOUND');
    const bearer = await explain({ method: 'GET', path: '/orders', token: tokens.read });
    expect(bearer.steps).toContainEqual({ step: 'binding', ok: true, kind: 'bearer' });
    expect(stepsOf(bearer)).toContain('ok   sender constraint: bearer token');
  });

  it('shows why keys are missing: the discovery issuer mismatch with both values', async () => {
    const report = await explain({ method: 'GET', path: '/orders', token: tokens.mismatched });
    expect(report.keys?.issuer).toBe('mismatched');
    expect(report.keys?.state.usable).toBe(false);
    expect(report.keys?.state.lastError).toContain(mismatched.issuer);
    expect(report.keys?.state.lastError).toContain(`${mismatched.issuer}/`);
  });

  it('shows the weak key skipped and the expired token failing verification', async () => {
    const weakReport = await explain({ method: 'GET', path: '/orders', token: tokens.weakKey });
    expect(weakReport.keys?.notes.join('\n')).toContain('weak-1024');
    const expired = await explain({ method: 'GET', path: '/orders', token: tokens.expired });
    expect(expired.steps).toContainEqual({
      step: 'verify',
      via: 'jwt',
      ok: false,
      reason: 'ERR_TOKEN_EXPIRED',
      issuer: 'good',
    });
  });

  it('fetches only the keys of the issuer the token names', async () => {
    weakKeyed.resetCounts();
    mismatched.resetCounts();
    await explain({ method: 'GET', path: '/orders', token: tokens.read });
    expect(weakKeyed.jwksRequests() + mismatched.jwksRequests()).toBe(0);
  });

  it('runs from the command line with a token file, human-readable and as JSON', async () => {
    const tokenFile = join(dir, 'token.jwt');
    writeFileSync(tokenFile, `${tokens.writeOnly}\n`);
    const args = ['explain', '--config', configPath, '--token-file', tokenFile, '--method', 'GET', '--path', '/orders'];
    const human = await runCli(args);
    expect(human.status).toBe(3);
    expect(human.stdout).toContain('FAIL requirement scope');
    expect(human.stdout).toContain('answer: DENY 403 ERR_INSUFFICIENT_SCOPE');
    expect(human.stdout).not.toContain(tokens.writeOnly);
    const json = await runCli([...args, '--json']);
    expect(json.status).toBe(3);
    const report = JSON.parse(json.stdout) as ExplainReport;
    expect(report.decision).toMatchObject({
      outcome: 'deny',
      status: 403,
      reason: 'ERR_INSUFFICIENT_SCOPE',
      route: 'orders-read',
    });
    const help = spawnSync(process.execPath, [CLI, 'explain', '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: claimgate explain');
  });
});
