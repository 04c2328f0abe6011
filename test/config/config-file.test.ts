/**
 * Reloads read, parse and validate the config file on a worker thread. The built module is loaded here
 * (the worker runs compiled JavaScript; `npm test` builds first), and every answer must equal what the
 * same read gives on the calling thread: valid, invalid with the same problems, unreadable, unchanged.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as ConfigFile from '../../src/validation/config-file.js';

const built = (await import(
  new URL('../../dist/validation/config-file.js', import.meta.url).href
)) as typeof ConfigFile;

const VALID = `issuers:
  - { name: acme, issuer: "https://idp.example.com", audiences: [api], jwks_file: /etc/claimgate/jwks.json }
routes:
  - { name: orders, match: { path: { template: "/orders/{id}" } }, require: { all: [{ scope: orders:read }, { claim: { path: email, regex: '^a' } }] } }
`;

describe('reading a config file on a worker thread', () => {
  const dir = mkdtempSync(join(tmpdir(), 'claimgate-config-file-'));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const both = async (request: ConfigFile.ConfigFileRequest) => {
    const offThread = await built.readConfigFileOffThread(request);
    expect(offThread).toEqual(built.readConfigFile(request));
    return offThread;
  };

  it('returns the validated config and its hash', async () => {
    const read = await both({ path: file('valid.yaml', VALID) });
    expect(read.kind).toBe('valid');
    if (read.kind !== 'valid') return;
    expect(read.hash).toBe(built.configTextHash(VALID));
    expect(read.config.routes[0]?.name).toBe('orders');
    expect(read.config.server.check_deadline_ms).toBe(150); // defaults applied in the worker
  });

  it('answers unchanged for the hash last applied, without parsing', async () => {
    const path = file('same.yaml', VALID);
    expect(await both({ path, unchangedHash: built.configTextHash(VALID) })).toEqual({ kind: 'unchanged' });
  });

  it('reports syntax and schema problems, and unreadable files, as problems', async () => {
    const syntax = await both({ path: file('syntax.yaml', 'issuers: [unclosed\n') });
    expect(syntax.kind).toBe('invalid');
    const schema = await both({ path: file('schema.yaml', VALID.replace('audiences: [api]', 'audiences: []')) });
    expect(schema).toMatchObject({ kind: 'invalid', problems: [expect.stringContaining('issuers[0].audiences')] });
    const missing = await both({ path: join(dir, 'missing.yaml') });
    expect(missing).toEqual({ kind: 'invalid', problems: [`cannot read ${join(dir, 'missing.yaml')}: ENOENT`] });
  });
});
