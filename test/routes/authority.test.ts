/** The strict authority parser that runs before host-scoped routes are matched (docs/routing.md). */
import { parseAuthority } from '../../src/routes/authority.js';

describe('parseAuthority', () => {
  it.each([
    ['api.example.com', 'api.example.com'],
    ['API.Example.COM:443', 'api.example.com'],
    ['api.example.com.', 'api.example.com.'],
    ['api.example.com.:8443', 'api.example.com.'],
    ['my_host.internal', 'my_host.internal'],
    ['localhost:65535', 'localhost'],
    ['10.0.0.1:8080', '10.0.0.1'],
    ['[::1]', '[::1]'],
    ['[2001:DB8::1]:8443', '[2001:db8::1]'],
    ['[::ffff:10.0.0.1]', '[::ffff:10.0.0.1]'],
  ])('%j → %j', (authority, host) => {
    expect(parseAuthority(authority)).toBe(host);
  });

  it.each([
    [''],
    ['admin.example.com:1:2'], // extra colon parts
    ['admin.example.com:443:'],
    ['user@admin.example.com'], // userinfo
    ['user:pw@admin.example.com'],
    ['admin.example.com:'], // empty port
    [':443'], // empty host
    ['admin.example.com:65536'],
    ['admin.example.com:123456'],
    ['admin.example.com:+1'],
    ['admin.example.com:0x1'],
    ['admin.example.com..'],
    ['.admin.example.com'],
    ['admin..example.com'],
    ['admin.example.com, other.example.com'],
    ['admin.example.com other'],
    ['adm%69n.example.com'], // escapes
    ['admin.example.com;x'], // sub-delims
    ['admin.example.com/x'],
    ['admin.example.com#x'],
    ['admin.example.com?x'],
    ['-admin.example.com'],
    ['admİn.example.com'],
    ['[::1'],
    ['[::1]x'],
    ['[::1]:'],
    ['[fe80::1%25eth0]'], // zone id
    ['[v1.fe80::a]'], // IPvFuture
    ['[admin.example.com]'],
    ['::1'],
    [`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(64)}`], // label over 63
    [`${'a.'.repeat(130)}com`], // over 255
  ])('%j is refused', (authority) => {
    expect(parseAuthority(authority)).toBeUndefined();
  });
});
