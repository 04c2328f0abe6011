/** The egress policy's address ranges and host rules (src/keys/egress.ts), without any network. */
import { validateConfig } from '../../src/validation/load.js';
import { checkDiscoveredJwksUri, refusedAddress } from '../../src/keys/egress.js';

describe('refusedAddress', () => {
  it.each([
    '169.254.169.254',
    'fe80::1',
    'fd00:ec2::254',
    '0.0.0.0',
    '::',
    '224.0.0.1',
    '255.255.255.255',
    'ff02::1',
    '::ffff:169.254.169.254',
  ])('%s is refused even with private addresses allowed', (address) => {
    expect(refusedAddress(address, true)).toMatch(/link-local/);
  });

  it.each(['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '100.64.0.1', '::1', 'fd12::1', '::ffff:10.0.0.1'])(
    '%s is refused unless private addresses are allowed',
    (address) => {
      expect(refusedAddress(address, false)).toMatch(/private/);
      expect(refusedAddress(address, true)).toBeUndefined();
    },
  );

  it.each(['8.8.8.8', '2001:4860:4860::8888', '172.32.0.1'])('%s is a public address', (address) => {
    expect(refusedAddress(address, false)).toBeUndefined();
  });
});

describe('checkDiscoveredJwksUri', () => {
  const issuer = (extra: Record<string, unknown> = {}) =>
    validateConfig({
      issuers: [{ name: 'g', issuer: 'https://accounts.example.com', audiences: ['api'], ...extra }],
    }).issuers[0]!;
  const resolveTo =
    (...addresses: string[]) =>
    () =>
      Promise.resolve(addresses);

  it('allows the issuer origin without resolving', async () => {
    const never = () => Promise.reject(new Error('must not resolve'));
    await expect(checkDiscoveredJwksUri('https://accounts.example.com/keys', issuer(), never)).resolves.toBeUndefined();
  });

  it('refuses another host, another port of the same host, and a listed host on the wrong port', async () => {
    for (const uri of ['https://keys.example.net/jwks', 'https://accounts.example.com:8443/keys']) {
      await expect(checkDiscoveredJwksUri(uri, issuer(), resolveTo('8.8.8.8'))).rejects.toThrow(/jwks_hosts/);
    }
    const listed = issuer({ jwks_hosts: ['keys.example.net'] });
    await expect(checkDiscoveredJwksUri('https://keys.example.net:444/', listed, resolveTo('8.8.8.8'))).rejects.toThrow(
      /jwks_hosts/,
    );
  });

  it('a listed host is fetched only when every address it resolves to is acceptable', async () => {
    const listed = issuer({ jwks_hosts: ['Keys.Example.NET'] });
    const uri = 'https://keys.example.net/jwks';
    await expect(checkDiscoveredJwksUri(uri, listed, resolveTo('8.8.8.8'))).resolves.toBeUndefined();
    await expect(checkDiscoveredJwksUri(uri, listed, resolveTo('8.8.8.8', '10.0.0.5'))).rejects.toThrow(/private/);
    await expect(checkDiscoveredJwksUri(uri, listed, resolveTo())).rejects.toThrow(/does not resolve/);
    const failing = () => Promise.reject(new Error('ENOTFOUND'));
    await expect(checkDiscoveredJwksUri(uri, listed, failing)).rejects.toThrow(/does not resolve/);
  });
});
