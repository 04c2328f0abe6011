/** The pure parts of the HTTP adapter: endpoints, forwarded-header rules, peer trust, the config block. */
import { validateConfig } from '../../src/validation/load.js';
import { endpointOf, envoyView, forwardAuthView, PROBLEMS } from '../../src/http/request.js';
import { compileTrust } from '../../src/net/trust.js';

const raw = (headers: Record<string, string | string[]>): string[] =>
  Object.entries(headers).flatMap(([k, v]) => (Array.isArray(v) ? v.flatMap((x) => [k, x]) : [k, v]));

describe('endpointOf', () => {
  test.each([
    ['/envoy/orders/1?x=1', { kind: 'envoy', originalPath: '/orders/1?x=1' }],
    ['/envoy', { kind: 'envoy', originalPath: '/' }],
    ['/envoy?x=1', { kind: 'envoy', originalPath: '/?x=1' }],
    ['/envoy*', { kind: 'envoy', originalPath: '*' }],
    ['/envoyx/a', { kind: 'unknown' }],
    ['/auth', { kind: 'forward-auth' }],
    ['/auth?rd=/x', { kind: 'forward-auth' }],
    ['/auth/', { kind: 'unknown' }],
    ['/', { kind: 'unknown' }],
  ])('%s', (url, expected) => {
    expect(endpointOf(url, '/envoy', '/auth')).toEqual(expected);
  });
});

describe('views', () => {
  test('Envoy mode: Host without port, lower case; duplicate Host refused; request id kept', () => {
    const ok = envoyView(
      { method: 'get', url: '/envoy/a', rawHeaders: raw({ Host: 'API.Example.com:8443', 'X-Request-Id': 'r1' }) },
      '/a',
    );
    expect(ok.ok && { method: ok.view.method, host: ok.view.host, requestId: ok.view.requestId }).toEqual({
      method: 'GET',
      host: 'api.example.com',
      requestId: 'r1',
    });
    expect(envoyView({ method: 'GET', url: '/envoy/a', rawHeaders: raw({ Host: ['a', 'b'] }) }, '/a')).toEqual({
      ok: false,
      problem: PROBLEMS.duplicateHost,
    });
  });

  test('forward-auth: untrusted peer refused before anything is read', () => {
    expect(
      forwardAuthView(
        {
          method: 'GET',
          url: '/auth',
          rawHeaders: raw({ 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/', 'x-forwarded-host': 'a' }),
        },
        false,
      ),
    ).toEqual({
      ok: false,
      problem: PROBLEMS.untrustedPeer,
    });
  });

  test("forward-auth: agreeing spellings accepted; the auth request's own method and Host are ignored", () => {
    const result = forwardAuthView(
      {
        method: 'GET',
        url: '/auth',
        rawHeaders: raw({
          Host: 'claimgate:9002',
          'X-Forwarded-Method': 'delete',
          'X-Original-Method': 'delete',
          'X-Original-URI': '/a?b',
          'X-Forwarded-Host': 'Api.Example.com',
        }),
      },
      true,
    );
    expect(result.ok && { method: result.view.method, host: result.view.host, path: result.view.path }).toEqual({
      method: 'DELETE',
      host: 'api.example.com',
      path: '/a?b',
    });
  });
});

describe('trusted proxies', () => {
  test('CIDRs, single addresses and IPv4-mapped IPv6 peers', () => {
    const trust = compileTrust(['127.0.0.0/8', '::1/128', '10.1.2.3']);
    expect(['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1', '10.1.2.3'].map((p) => trust.trusted(p))).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(
      ['10.1.2.4', '192.168.0.1', '::2', '::ffff:10.0.0.1', '', undefined, 'not-an-ip'].map((p) => trust.trusted(p)),
    ).toEqual([false, false, false, false, false, false, false]);
    expect(compileTrust([]).trusted('127.0.0.1')).toBe(false);
  });

  test('an invalid entry fails at start', () => {
    expect(() => compileTrust(['10.0.0.0/33'])).toThrow(/prefix length/);
    expect(() => compileTrust(['example.com'])).toThrow(/not an IP address/);
  });
});

describe('the http config block', () => {
  const base = { issuers: [{ name: 'a', issuer: 'https://idp.example.com', audiences: ['x'] }] };

  test('omitted → no front door; {} → the documented defaults', () => {
    expect(validateConfig(base, 't').http).toBeUndefined();
    expect(validateConfig({ ...base, http: {} }, 't').http).toEqual({
      address: '127.0.0.1:9002',
      envoy_path_prefix: '/envoy',
      forward_auth_path: '/auth',
      trusted_proxies: ['127.0.0.0/8', '::1/128'],
    });
  });

  test.each([
    [{ trusted_proxies: ['10.0.0.0/8', 'fd00::/8', '192.168.1.1'] }, true],
    [{ trusted_proxies: ['10.0.0.0/33'] }, false],
    [{ trusted_proxies: ['300.0.0.1'] }, false],
    [{ trusted_proxies: ['fd00::/129'] }, false],
    [{ trusted_proxies: ['localhost'] }, false],
    [{ envoy_path_prefix: '/envoy/' }, false],
    [{ forward_auth_path: '/envoy/auth' }, false],
    [{ forward_auth_path: '/envoy' }, false],
    [{ forward_auth_path: 'auth' }, false],
    [{ addresss: '127.0.0.1:1' }, false],
  ])('%j valid: %s', (http, valid) => {
    const attempt = () => validateConfig({ ...base, http }, 't');
    if (valid) expect(attempt).not.toThrow();
    else expect(attempt).toThrow();
  });
});

describe('readHeaders refuses rather than drops', () => {
  it('refuses a request with a header line over the size cap, so a second credential cannot hide in it', async () => {
    const { readHeaders, MAX_HEADER_VALUE_BYTES } = await import('../../src/http/request.js');
    const lines = ['authorization', 'Bearer a.b.c', 'authorization', `Basic ${'Q'.repeat(MAX_HEADER_VALUE_BYTES + 1)}`];
    expect(readHeaders(lines)).toBeUndefined();
    expect(readHeaders(lines.slice(0, 2))?.get('authorization')).toEqual(['Bearer a.b.c']);
  });
});
