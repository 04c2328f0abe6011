/**
 * The compose demo's claimgate config (deploy/compose/claimgate.yaml — the very file the container
 * mounts), started outside containers: its listeners moved to 127.0.0.1:0 and its issuer pointed at
 * the demo IdP entry (idp-main) running on loopback. A token from the IdP's POST /token is allowed with
 * identity headers, a request without one gets 401 — the walkthrough in README.md, minus Envoy.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { Claimgate } from '../../src/app/claimgate.js';
import { createCheckClient } from '../../src/cli/check-client.js';
import { validateConfig } from '../../src/validation/load.js';
import { startDemoIdp, parseIdpArgs, type DemoIdp } from '../../src/demo/idp-main.js';
import { startSettledGate } from '../support/gate.js';

const CONFIG_FILE = fileURLToPath(new URL('../../deploy/compose/claimgate.yaml', import.meta.url));
const COMPOSE_FILE = fileURLToPath(new URL('../../deploy/compose/docker-compose.yaml', import.meta.url));

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed YAML of any shape, read by path in assertions

describe('compose demo claimgate config, on loopback', () => {
  let idp: DemoIdp;
  let app: Claimgate;
  let client: ReturnType<typeof createCheckClient>;

  const getToken = async (form: string): Promise<string> => {
    const res = await fetch(`http://127.0.0.1:${idp.port}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
      signal: AbortSignal.timeout(5000),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { access_token: string }).access_token;
  };

  beforeAll(async () => {
    // The IdP as compose runs it (same command line), but bound to loopback and naming itself by it.
    const composeIdp = (parse(readFileSync(COMPOSE_FILE, 'utf8')) as Json).services.idp.command as string[];
    const options = parseIdpArgs(composeIdp);
    idp = await startDemoIdp({ ...options, host: '127.0.0.1', port: 0, issuer: undefined });

    const raw = parse(readFileSync(CONFIG_FILE, 'utf8')) as Json;
    expect(raw.issuers[0].issuer).toBe(options.issuer); // what is replaced is what compose's IdP would be
    raw.server = { ...raw.server, grpc_address: '127.0.0.1:0', admin_address: '127.0.0.1:0', watch_config: false };
    raw.issuers[0].issuer = idp.idp.issuer;
    raw.logging = { ...raw.logging, level: 'silent' };
    app = await startSettledGate(validateConfig(raw, 'deploy/compose/claimgate.yaml (loopback)'));
    client = createCheckClient(`127.0.0.1:${app.grpcPort}`);
  });

  afterAll(async () => {
    client?.close();
    await app?.close(1000);
    await idp?.close();
  });

  it('is ready once the IdP keys are fetched', () => {
    expect(app.ready()).toBe(true);
  });

  it('allows a token from POST /token, with identity headers and the token stripped', async () => {
    const token = await getToken('scope=orders:read&sub=alice');
    const answer = await client.check({ method: 'GET', path: '/orders/42', token });
    expect({ kind: answer.kind, status: answer.httpStatus }).toEqual({ kind: 'allow', status: 200 });
    expect(answer.headers).toMatchObject({
      'x-user-id': 'alice',
      'x-user-scopes': 'orders:read',
      'x-user-issuer': idp.idp.issuer,
    });
    expect(answer.headersToRemove).toEqual(expect.arrayContaining(['authorization', 'x-user-roles']));
  });

  it('answers 401 without a token, 403 without the scope, and lets /healthz through', async () => {
    const none = await client.check({ method: 'GET', path: '/orders/42' });
    expect({ kind: none.kind, status: none.httpStatus }).toEqual({ kind: 'deny', status: 401 });
    expect(none.headers['www-authenticate']).toMatch(/^Bearer realm="demo-api"/);

    const profileOnly = await getToken('scope=profile&sub=bob');
    const forbidden = await client.check({ method: 'GET', path: '/orders/42', token: profileOnly });
    expect({ kind: forbidden.kind, status: forbidden.httpStatus }).toEqual({ kind: 'deny', status: 403 });

    const admin = await client.check({
      method: 'GET',
      path: '/admin/users',
      token: await getToken('sub=carol&roles=admin'),
    });
    expect(admin.kind).toBe('allow');
    expect(admin.headers['x-user-roles']).toBe('admin');

    expect((await client.check({ method: 'GET', path: '/healthz' })).kind).toBe('allow');
  });
});
