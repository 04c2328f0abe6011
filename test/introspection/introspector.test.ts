/**
 * The introspection path through the real engine (validateConfig → compileConfig → createDecider)
 * against loopback introspection endpoints that record every request: explicit routing of opaque
 * tokens (never sprayed), private_key_jwt, secrets from the environment, the answer checks.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { jwtVerify } from 'jose';
import { validateConfig } from '../../src/validation/load.js';
import type { Engine } from '../../src/engine/engine.js';
import { startSettledEngine } from '../support/gate.js';
import { closeServer, listen } from '../support/listen.js';
import { AUD, bearer, cleanupTmp, ecKey, fileIssuer, NOW_MS, NOW_S } from '../security/harness.js';

interface Endpoint {
  readonly url: string;
  readonly forms: URLSearchParams[];
  readonly headers: Record<string, string | string[] | undefined>[];
  answers: Map<string, { status?: number; type?: string; body: unknown }>;
  /** What GET /.well-known/openid-configuration answers. */
  discovery: Record<string, unknown>;
  close(): Promise<void>;
}

async function startEndpoint(): Promise<Endpoint> {
  const forms: URLSearchParams[] = [];
  const headers: Record<string, string | string[] | undefined>[] = [];
  const answers = new Map<string, { status?: number; type?: string; body: unknown }>();
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(endpoint.discovery));
      return;
    }
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      const form = new URLSearchParams(text);
      forms.push(form);
      headers.push(req.headers);
      const answer = answers.get(form.get('token') ?? '') ?? { body: { active: false } };
      res.writeHead(answer.status ?? 200, { 'content-type': answer.type ?? 'application/json' });
      res.end(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body));
    });
  });
  const endpoint: Endpoint = { url: '', forms, headers, answers, discovery: {}, close: () => closeServer(server) };
  return Object.assign(endpoint, { url: `http://127.0.0.1:${await listen(server)}/introspect` });
}

const key = ecKey('k1');
let a: Endpoint;
let b: Endpoint;
const engines: Engine[] = [];

beforeAll(async () => {
  [a, b] = await Promise.all([startEndpoint(), startEndpoint()]);
});
afterAll(async () => {
  for (const e of engines) e.close();
  await Promise.all([a.close(), b.close()]);
  cleanupTmp();
});
beforeEach(() => {
  for (const e of [a, b]) {
    e.forms.length = 0;
    e.headers.length = 0;
    e.answers.clear();
  }
});

const active = (extra: Record<string, unknown> = {}) => ({
  body: {
    active: true,
    iss: 'https://a.example',
    aud: AUD,
    exp: NOW_S + 300,
    scope: 'read',
    client_id: 'svc',
    ...extra,
  },
});

async function decider(raw: Record<string, unknown>) {
  const config = validateConfig(raw);
  const engine = await startSettledEngine(config, { decider: { nowMs: () => NOW_MS } });
  engines.push(engine);
  return engine.decide;
}

const introspection = (endpoint: Endpoint, extra: Record<string, unknown> = {}) => ({
  endpoint: endpoint.url,
  client_id: 'claimgate',
  client_secret_env: 'CLAIMGATE_TEST_INTROSPECTION_SECRET',
  ...extra,
});

beforeAll(() => {
  process.env.CLAIMGATE_TEST_INTROSPECTION_SECRET = 's3cret with space';
});

const twoIssuers = (extraA: Record<string, unknown> = {}) => ({
  // Deadlines are not under test here; the default 150 ms is tight for a first call on a loaded machine.
  server: { check_deadline_ms: 2000 },
  issuers: [
    fileIssuer('a', 'https://a.example', [key.jwk], {
      allow_insecure_http: true,
      introspection: introspection(a, extraA),
    }),
    fileIssuer('b', 'https://b.example', [key.jwk], { allow_insecure_http: true, introspection: introspection(b) }),
  ],
  opaque_tokens: [{ issuer: 'a', prefix: 'pa_' }, { issuer: 'b' }],
  unmatched: 'authenticated',
  upstream: { headers: [{ name: 'x-sub', principal: 'qualified_subject' }] },
});

describe('opaque token routing', () => {
  test('each opaque token goes to the one endpoint its rule names; a JWT-shaped token goes nowhere', async () => {
    const decide = await decider(twoIssuers());
    a.answers.set('pa_one', active());
    b.answers.set('other', active({ iss: 'https://b.example' }));
    expect((await decide(bearer('pa_one'))).outcome).toBe('allow');
    expect([a.forms.length, b.forms.length]).toEqual([1, 0]);
    expect((await decide(bearer('other'))).outcome).toBe('allow');
    expect([a.forms.length, b.forms.length]).toEqual([1, 1]);
    expect((await decide(bearer('x.y.z'))).reason).toBe('ERR_TOKEN_MALFORMED');
    expect([a.forms.length, b.forms.length]).toEqual([1, 1]);
  });

  test('without opaque_tokens rules an opaque token is refused and nothing is called', async () => {
    const decide = await decider({ ...twoIssuers(), opaque_tokens: [] });
    expect((await decide(bearer('opaque-token'))).reason).toBe('ERR_TOKEN_MALFORMED');
    expect(a.forms.length + b.forms.length).toBe(0);
  });

  test('client_secret_basic from an env var, token_type_hint sent; false sends none', async () => {
    const decide = await decider(twoIssuers());
    a.answers.set('pa_x', active());
    await decide(bearer('pa_x'));
    expect(a.headers[0]?.authorization).toBe(`Basic ${Buffer.from('claimgate:s3cret+with+space').toString('base64')}`);
    expect(a.forms[0]?.get('token_type_hint')).toBe('access_token');
    const noHint = await decider(twoIssuers({ token_type_hint: false }));
    a.answers.set('pa_y', active());
    await noHint(bearer('pa_y'));
    expect(a.forms[1]?.has('token_type_hint')).toBe(false);
  });
});

describe('an endpoint from discovery', () => {
  const fromDiscovery = (issuerUrl: string) => ({
    ...twoIssuers(),
    issuers: [
      fileIssuer('a', issuerUrl, [key.jwk], {
        allow_insecure_http: true,
        introspection: { client_id: 'claimgate', client_secret_env: 'CLAIMGATE_TEST_INTROSPECTION_SECRET' },
      }),
    ],
    opaque_tokens: [{ issuer: 'a' }],
  });

  test("is used when it is on the issuer's origin", async () => {
    const issuerUrl = new URL(a.url).origin;
    a.discovery = { issuer: issuerUrl, introspection_endpoint: a.url };
    a.answers.set('t1', active({ iss: issuerUrl }));
    const decide = await decider(fromDiscovery(issuerUrl));
    expect((await decide(bearer('t1'))).outcome).toBe('allow');
    expect(a.forms.map((f) => f.get('token'))).toEqual(['t1']);
  });

  test("is refused on another origin (or from another issuer's document): 503, and no token leaves", async () => {
    const issuerUrl = new URL(a.url).origin;
    for (const discovery of [
      { issuer: issuerUrl, introspection_endpoint: b.url },
      { issuer: 'https://elsewhere.example', introspection_endpoint: a.url },
    ]) {
      a.discovery = discovery;
      const decide = await decider(fromDiscovery(issuerUrl));
      expect((await decide(bearer('t2'))).reason).toBe('ERR_INTROSPECTION_UNAVAILABLE');
    }
    expect(a.forms.length + b.forms.length).toBe(0);
  });
});

describe('the answer is checked like a JWT', () => {
  test.each([
    ['inactive', { body: { active: false } }, 'ERR_TOKEN_INACTIVE'],
    ['another issuer', active({ iss: 'https://b.example' }), 'ERR_ISSUER_NOT_ALLOWED'],
    ['expired', active({ exp: NOW_S - 61 }), 'ERR_TOKEN_EXPIRED'],
    ['no aud', active({ aud: undefined }), 'ERR_AUDIENCE_MISMATCH'],
    ['wrong aud', active({ aud: ['https://other.example'] }), 'ERR_AUDIENCE_MISMATCH'],
    ['sender-constrained', active({ cnf: { jkt: 'abc' } }), 'ERR_TOKEN_TYPE_INVALID'],
    ['a DPoP token type', active({ token_type: 'DPoP' }), 'ERR_TOKEN_TYPE_INVALID'],
    ['no sub nor client_id', active({ client_id: undefined }), 'ERR_CLAIMS_INVALID'],
    ['a server error', { status: 500, body: {} }, 'ERR_INTROSPECTION_UNAVAILABLE'],
    ['credentials refused', { status: 401, body: { error: 'invalid_client' } }, 'ERR_INTROSPECTION_UNAVAILABLE'],
    ['not JSON', { body: 'active=true' }, 'ERR_INTROSPECTION_UNAVAILABLE'],
  ])('%s', async (_name, answer, reason) => {
    const decide = await decider(twoIssuers());
    a.answers.set('pa_t', answer);
    const decision = await decide(bearer('pa_t'));
    expect(decision.reason).toBe(reason);
    expect(decision.outcome).toBe(reason.endsWith('UNAVAILABLE') ? 'error' : 'deny');
  });

  test('the principal comes from the answer through the profile', async () => {
    const decide = await decider(twoIssuers());
    a.answers.set('pa_user', active({ sub: 'user-7' }));
    const decision = await decide(bearer('pa_user'));
    expect(decision.outcome === 'allow' && decision.headersToSet).toEqual([{ name: 'x-sub', value: 'a|user-7' }]);
  });

  test('jwt_response: a plain JSON answer is not accepted', async () => {
    const decide = await decider(twoIssuers({ jwt_response: true }));
    a.answers.set('pa_j', active());
    expect((await decide(bearer('pa_j'))).reason).toBe('ERR_INTROSPECTION_UNAVAILABLE');
    expect(a.headers[0]?.accept).toBe('application/token-introspection+jwt');
  });
});

describe('private_key_jwt', () => {
  test('the assertion is signed with claimgate key, for this endpoint, with a fresh jti', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const file = `${process.env.TMPDIR ?? '/tmp'}/claimgate-pkjwt-${process.pid}.pem`;
    (await import('node:fs')).writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const decide = await decider(
      twoIssuers({
        auth_method: 'private_key_jwt',
        client_secret_env: undefined,
        private_key_file: file,
        private_key_kid: 'cg-1',
      }),
    );
    a.answers.set('pa_1', active());
    a.answers.set('pa_2', active());
    await decide(bearer('pa_1'));
    await decide(bearer('pa_2'));
    const jtis = [];
    for (const form of a.forms) {
      expect(form.get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      const { payload, protectedHeader } = await jwtVerify(form.get('client_assertion')!, publicKey, {
        issuer: 'claimgate',
        subject: 'claimgate',
        audience: a.url,
        currentDate: new Date(NOW_MS),
      });
      expect(protectedHeader).toMatchObject({ alg: 'ES256', kid: 'cg-1' });
      jtis.push(payload.jti);
    }
    expect(a.headers.every((h) => h.authorization === undefined)).toBe(true);
    expect(new Set(jtis).size).toBe(2);
  });
});
