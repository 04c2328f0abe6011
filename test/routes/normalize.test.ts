import fc from 'fast-check';
import { MAX_PATH_LENGTH, normalizePath } from '../../src/routes/normalize.js';

const norm = (raw: string) => {
  const result = normalizePath(raw);
  return result.ok ? result.path : 'INVALID';
};

describe('normalizePath: the policy table (docs/routing.md)', () => {
  it.each([
    // Accepted as is.
    ['/', '/'],
    ['/admin', '/admin'],
    ['/Admin', '/Admin'], // case is preserved; ignore_case is per route
    ['/admin/', '/admin/'], // trailing slash kept as information
    ['/a.b/c..d/.e', '/a.b/c..d/.e'],
    ["/~user/a-b_c!$&'()*+,=:@", "/~user/a-b_c!$&'()*+,=:@"],
    // Query dropped.
    ['/admin?x=1', '/admin'],
    ['/admin?next=/../x%2F', '/admin'],
    ['/admin?', '/admin'],
    // Repeated slashes collapse.
    ['//admin', '/admin'],
    ['/admin//users///', '/admin/users/'],
    ['//', '/'],
    // Dot segments resolve.
    ['/admin/../admin', '/admin'],
    ['/a/./b', '/a/b'],
    ['/public/../admin', '/admin'],
    ['/a/b/..', '/a/'],
    ['/a/.', '/a/'],
    ['/a/..', '/'],
    ['/./', '/'],
    // Percent-decoding, once.
    ['/%61dmin', '/admin'],
    ['/%41dmin', '/Admin'],
    ['/caf%C3%A9', '/café'],
    ['/caf%c3%a9', '/café'],
    ['/café', '/café'],
    ['/a%20b', '/a b'],
    ['/100%25', '/100%'],
    ['/a%2eb', '/a.b'],
    ['/%F0%9F%98%80', '/😀'],
  ])('%j → %j', (raw, expected) => {
    expect(norm(raw)).toBe(expected);
  });

  it.each([
    // Not an origin-form path.
    [''],
    ['admin'],
    ['*'],
    ['http://example.com/admin'],
    ['?x=/admin'],
    // Above the root.
    ['/..'],
    ['/../admin'],
    ['/a/../..'],
    // A raw `#` anywhere (a fragment is never part of a request target; proxies disagree about it).
    ['/admin#frag'],
    ['/public#/../admin'],
    ['/admin?x=1#frag'],
    ['#'],
    // `?` and `#` written as escapes inside a segment.
    ['/a%3Fb'],
    ['/a%3fb'],
    ['/public%23/../admin'],
    ['/admin%23'],
    // Encoded separators and backslashes.
    ['/admin%2F..'],
    ['/admin%2f..'],
    ['/a%2Fb'],
    ['/admin%5C..'],
    ['/admin%5c'],
    ['/admin\\..\\x'],
    // NUL and control characters, raw or encoded.
    ['/admin%00'],
    ['/admin%00.json'],
    ['/admin\u0000'],
    ['/admin%0A'],
    ['/admin\r\n'],
    ['/admin\t'],
    ['/admin%7F'],
    ['/admin\u007f'],
    // Path parameters.
    ['/admin;jsessionid=1'],
    ['/public/..;/admin'],
    ['/admin%3Bx'],
    // Encoded dot segments and double encoding.
    ['/public/%2e%2e/admin'],
    ['/public/.%2E/admin'],
    ['/a/%2e/b'],
    ['/public/%252e%252e/admin'],
    ['/%2561dmin'],
    // Malformed escapes and invalid UTF-8.
    ['/admin%'],
    ['/admin%2'],
    ['/admin%zz'],
    ['/%u0061dmin'],
    ['/%C0%AF'], // overlong '/'
    ['/%C0%AE%C0%AE/admin'], // overlong '..'
    ['/%ED%A0%80'], // encoded surrogate
    ['/%FF'],
    ['/%C3'],
    ['/a\ud800b'], // lone surrogate in the raw string
  ])('%j is invalid', (raw) => {
    expect(normalizePath(raw)).toEqual({ ok: false });
  });

  it('bounds the path length, not the query length', () => {
    const longest = '/' + 'a'.repeat(MAX_PATH_LENGTH - 1);
    expect(norm(longest)).toBe(longest);
    expect(norm(longest + 'a')).toBe('INVALID');
    expect(norm(longest + '?' + 'q'.repeat(100_000))).toBe(longest);
    expect(norm('/' + '%61'.repeat(MAX_PATH_LENGTH))).toBe('INVALID');
  });
});

describe('normalizePath: properties', () => {
  const segment = fc.oneof(
    fc.constantFrom(
      '',
      '.',
      '..',
      'admin',
      'Admin',
      '%61',
      '%2e',
      '%2F',
      '%25',
      '%00',
      ';',
      '\\',
      'é',
      '%C3%A9',
      '%',
      '?q',
      '#f',
      '%3F',
      '%23',
      '100%25',
    ),
    fc.string({ maxLength: 4 }),
  );
  const rawPath = fc.array(segment, { maxLength: 8 }).map((segs) => '/' + segs.join('/'));

  it('never throws and is deterministic', () => {
    fc.assert(
      fc.property(fc.oneof(rawPath, fc.string({ unit: 'binary' })), (raw) => {
        expect(normalizePath(raw)).toEqual(normalizePath(raw));
      }),
      { seed: 99, numRuns: 3000 },
    );
  });

  it('produces a canonical path: idempotent, no dot segments, no empty segments, nothing to decode', () => {
    fc.assert(
      fc.property(rawPath, (raw) => {
        const result = normalizePath(raw);
        if (!result.ok) return;
        const path = result.path;
        expect(path.startsWith('/')).toBe(true);
        const inner = path.slice(1).replace(/\/$/, '').split('/');
        if (path !== '/') for (const s of inner) expect(['', '.', '..']).not.toContain(s);
        expect(path).not.toMatch(/[\u0000-\u001f\u007f\\;]|%[0-9A-Fa-f]{2}/);
        // Normalizing again changes nothing, written raw (a lone '%' must be re-encoded) or fully re-encoded.
        if (!path.includes('%') && !path.includes('?') && !path.includes('#')) expect(norm(path)).toBe(path);
        expect(norm(path.split('/').map(encodeURIComponent).join('/'))).toBe(path);
      }),
      { seed: 100, numRuns: 3000 },
    );
  });
});
