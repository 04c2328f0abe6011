/**
 * Reload triggers of the real process: SIGHUP, and the atomic symlink swap Kubernetes performs on
 * a mounted ConfigMap (`..data` → a new timestamped directory).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCheckClient } from '../../src/cli/check-client.js';
import { FakeIdp, generateSigningKey, type SigningKey } from '../support/fake-idp.js';
import { mintAccessToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;
const AUDIENCE = 'https://api.example.com';

function config(issuer: string, requiredScope: string, watch: boolean): string {
  return `server: { grpc_address: "127.0.0.1:0", admin_address: "127.0.0.1:0", watch_config: ${watch} }
logging: { level: info }
issuers:
  - { name: idp, issuer: "${issuer}", allow_insecure_http: true, audiences: [${AUDIENCE}] }
routes:
  - { name: r, match: { path: { prefix: / } }, require: { scope: ${requiredScope} } }
`;
}

/** Collects the child's stderr and resolves when a line matches, counting earlier matches out. */
class LogWatcher {
  private text = '';
  constructor(child: ChildProcess) {
    child.stderr!.on('data', (c: Buffer) => (this.text += c.toString()));
  }
  async waitFor(pattern: RegExp, occurrence: number, timeoutMs = 10000): Promise<string> {
    const lines = await waitFor(() => this.text.split('\n').filter((l) => pattern.test(l)), {
      what: `${occurrence}× ${pattern}`,
      timeoutMs,
      until: (matching) => matching.length >= occurrence,
      context: () => this.text,
    });
    return lines[occurrence - 1]!;
  }
}

describe('reload triggers', () => {
  let idp: FakeIdp;
  let key: SigningKey;
  let token: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    key = generateSigningKey('RS256', 'k1');
    idp = await FakeIdp.start({ keys: [key.jwk] });
    token = await mintAccessToken(key, idp.issuer, { sub: 'alice', aud: AUDIENCE, scope: 'read' }, { ttl: '10m' });
  });
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await idp.close();
  });

  async function start(file: string) {
    const child = spawn(process.execPath, [CLI, 'serve', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    const logs = new LogWatcher(child);
    const port = (JSON.parse(await logs.waitFor(/claimgate listening/, 1)) as { grpc_port: number }).grpc_port;
    await logs.waitFor(/"ready":true/, 1);
    const client = createCheckClient(`127.0.0.1:${port}`);
    return { child, logs, client, decide: async () => (await client.check({ path: '/x', token })).kind };
  }

  it('reloads on SIGHUP', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'claimgate-hup-')), 'claimgate.yaml');
    writeFileSync(file, config(idp.issuer, 'read', false));
    const { child, logs, client, decide } = await start(file);
    expect(await decide()).toBe('allow');
    writeFileSync(file, config(idp.issuer, 'write', false));
    child.kill('SIGHUP');
    await logs.waitFor(/config reloaded/, 1);
    expect(await decide()).toBe('deny');
    client.close();
  });

  it('reloads when a ConfigMap-style ..data symlink is swapped, and ignores an invalid swap', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'claimgate-cm-'));
    const version = (name: string, text: string) => {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'claimgate.yaml'), text);
      symlinkSync(name, join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    };
    version('..v1', config(idp.issuer, 'read', true));
    symlinkSync(join('..data', 'claimgate.yaml'), join(dir, 'claimgate.yaml'));
    const { logs, client, decide } = await start(join(dir, 'claimgate.yaml'));
    expect(await decide()).toBe('allow');

    version('..v2', config(idp.issuer, 'write', true));
    await logs.waitFor(/config reloaded/, 1);
    expect(await decide()).toBe('deny');

    version('..v3', 'issuers: []\n');
    await logs.waitFor(/config reload rejected/, 1);
    expect(await decide()).toBe('deny');
    client.close();
  });
});
