import { DiscoveryError, discoveryUrl, jwksUriFromDiscovery } from '../../src/keys/discovery.js';

describe('OIDC discovery', () => {
  it('builds the document URL without a doubled slash', () => {
    expect(discoveryUrl('https://tenant.auth0.com/')).toBe('https://tenant.auth0.com/.well-known/openid-configuration');
  });

  it('an issuer mismatch shows both values (a trailing slash is visible)', () => {
    const mismatch = () =>
      jwksUriFromDiscovery(
        { issuer: 'https://idp.example.com/', jwks_uri: 'https://idp.example.com/jwks' },
        'https://idp.example.com',
      );
    expect(mismatch).toThrow(DiscoveryError);
    expect(mismatch).toThrow(
      'discovery document names issuer "https://idp.example.com/", not the configured "https://idp.example.com" (compared byte for byte)',
    );
  });

  it('quotes a hostile issuer value, escaping control characters and bounding its length', () => {
    let message = '';
    try {
      jwksUriFromDiscovery({ issuer: `x\r\nforged: 1${'y'.repeat(5000)}` }, 'https://idp.example.com');
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).not.toMatch(/[\r\n]/);
    expect(message).toContain('"x\\r\\nforged: 1');
    expect(message.length).toBeLessThan(400);
  });
});
