/**
 * Fuzz: the route matcher (src/routes/normalize.ts, match.ts) against encoding tricks.
 *
 * Invariant (issue 8): a request whose path *means* a protected path to some reasonable upstream —
 * percent-decoded once or repeatedly, dot segments resolved before or after decoding, slashes merged,
 * backslashes taken as slashes, Tomcat-style `;parameters` stripped, truncated at NUL — is never
 * decided by a less-protected route. The config (support.ts) has a public `/public/` prefix route, a
 * protected `/admin` prefix route (role admin) and `unmatched: authenticated`, so a bypass would show
 * as OK_PUBLIC_ROUTE (no token) or OK_AUTHENTICATED (a valid token without the role).
 *
 * Case: upstreams that fold case only count when the route says `ignore_case: true` (docs/routing.md;
 * the residual risk of case-folding upstreams behind case-sensitive routes is in docs/security.md).
 * Unicode compatibility normalization (fullwidth `／`, `ﬁ`) is a documented residual too; such
 * characters are in the generator as noise, for the never-throws invariant.
 */
import fc from 'fast-check';
import { MAX_PATH_LENGTH, normalizePath } from '../../src/routes/normalize.js';
import { cleanupTmp } from '../security/harness.js';
import {
  RSA,
  claims,
  configureFuzz,
  decideTwice,
  fuzzGate,
  goodHeader,
  runs,
  signed,
  viewOf,
  type FuzzGate,
} from './support.js';

configureFuzz();

let sensitive: FuzzGate;
let insensitive: FuzzGate;
beforeAll(async () => {
  sensitive = await fuzzGate();
  insensitive = await fuzzGate({ adminIgnoreCase: true });
});
afterAll(() => {
  sensitive.close();
  insensitive.close();
  cleanupTmp();
});

/** A valid token WITHOUT role admin: allowed anywhere except under /admin. */
const USER = signed(goodHeader(RSA), claims());

// ---- upstream models ------------------------------------------------------------------------------

function decodeOnce(s: string): string {
  // Byte-wise like most servers: each valid %XX becomes its byte; the bytes are read as UTF-8 (lossy).
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const m = /^%([0-9A-Fa-f]{2})/.exec(s.slice(i, i + 3));
    if (m) {
      bytes.push(parseInt(m[1]!, 16));
      i += 2;
    } else bytes.push(...Buffer.from(s[i]!, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

function decodeAll(s: string): string {
  for (let i = 0; i < 5; i++) {
    const next = decodeOnce(s);
    if (next === s) return s;
    s = next;
  }
  return s;
}

/** Merge slashes and resolve dot segments (clamping `..` at the root, as most servers do). */
function resolve(path: string): string {
  const out: string[] = [];
  const parts = path.split('/');
  for (const seg of parts) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return `/${out.join('/')}`;
}

const stripQuery = (raw: string) => raw.replace(/[?#][\s\S]*$/, '');
const stripParams = (path: string) =>
  path
    .split('/')
    .map((s) => s.replace(/;.*$/, ''))
    .join('/');

/** Every way the models above can read the raw target. */
function interpretations(raw: string): Set<string> {
  const results = new Set<string>();
  const base = stripQuery(raw);
  for (const decode of [decodeOnce, decodeAll])
    for (const dotsFirst of [false, true])
      for (const backslash of [false, true])
        for (const params of [false, true])
          for (const nul of [false, true]) {
            let p = params ? stripParams(base) : base;
            if (dotsFirst) p = resolve(p);
            p = decode(p);
            if (nul && p.includes('\0')) p = p.slice(0, p.indexOf('\0'));
            if (backslash) p = p.replace(/\\/g, '/');
            if (params) p = stripParams(p);
            results.add(resolve(p));
          }
  return results;
}

const underAdmin = (p: string) => p === '/admin' || p.startsWith('/admin/');

// ---- generators -----------------------------------------------------------------------------------

const hex = (c: string, upper: boolean) => {
  const h = [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
  return upper ? h.toUpperCase() : h;
};

type Edit = (p: string) => string;
const at = (p: string, n: number) => n % (p.length + 1);
const slashPositions = (p: string) => [...p].flatMap((c, i) => (c === '/' ? [i] : []));
const atSlash = (p: string, n: number, f: (before: string, after: string) => string) => {
  const slashes = slashPositions(p);
  if (slashes.length === 0) return p;
  const i = slashes[n % slashes.length]!;
  return f(p.slice(0, i), p.slice(i + 1));
};

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.tuple(fc.nat(), fc.boolean()).map(([n, up]): Edit => (p) => {
    // Percent-encode one character (not a '%' that starts an escape).
    const i = n % p.length;
    return p[i] === '%' ? p : p.slice(0, i) + hex(p[i]!, up) + p.slice(i + 1);
  }),
  fc.nat().map((n): Edit => (p) => {
    const i = n % p.length;
    return p[i] === '%' ? p : p.slice(0, i) + hex(p[i]!, true).replace(/%/g, '%25') + p.slice(i + 1);
  }),
  fc
    .tuple(
      fc.nat(),
      fc.constantFrom('/.', '/./', '//', '/x/..', '/%2e', '/.%2e', '/%2E%2E', '/..;', '/;x', '/%00', '/\\', '/..\\'),
    )
    .map(
      ([n, ins]): Edit =>
        (p) =>
          atSlash(p, n, (a, b) => `${a}${ins}/${b}`),
    ),
  fc.tuple(fc.nat(), fc.constantFrom('%2F', '%2f', '\\', '%5C', '%5c', '//', '/./', '%252F')).map(
    ([n, sep]): Edit =>
      (p) =>
        atSlash(p, n, (a, b) => `${a}${sep}${b}`),
  ),
  fc
    .constantFrom(
      '/public/..',
      '/public/%2e%2e',
      '/public/..;',
      '/public/.%2E',
      '/public/..%2F..',
      '/public%2F..',
      '/public\\..',
      '/public/%252e%252e',
      '/public//..',
      '/public/./..',
      '/public/x/../..',
    )
    .map(
      (pre): Edit =>
        (p) =>
          pre + p,
    ),
  fc
    .constantFrom(
      '/',
      '?x=1',
      '#f',
      '%00',
      '%00.png',
      ';jsessionid=1',
      '/.',
      '/..',
      '%2F',
      '.',
      '%20',
      '\u0000',
      '/%2e',
      '?/../public/',
    )
    .map(
      (suf): Edit =>
        (p) =>
          p + suf,
    ),
  fc
    .tuple(
      fc.nat(),
      fc.constantFrom('ａ', 'Ａ', '／', 'ﬁ', 'é', 'e\u0301', '\u212a', 'İ', '\ud800', '\u200b', ' ', '\t', '"'),
    )
    .map(([n, c]): Edit => (p) => {
      const i = at(p, n);
      return p.slice(0, i) + c + p.slice(i);
    }),
  fc.nat().map((n): Edit => (p) => {
    const i = n % p.length;
    return p.slice(0, i) + p[i]!.toUpperCase() + p.slice(i + 1);
  }),
);

const target = fc.constantFrom('/admin', '/admin/', '/admin/users', '/admin/x/y', '/Admin', '/ADMIN/users');
const spelled = fc
  .tuple(target, fc.array(edit, { minLength: 1, maxLength: 4 }))
  .map(([t, edits]) => edits.reduce<string>((p, e) => e(p), t));

// ---- properties -----------------------------------------------------------------------------------

describe('route matching under encoding tricks', () => {
  it('a path that means /admin… to some upstream is never decided by a weaker route (case-sensitive routes)', async () => {
    await fc.assert(
      fc.asyncProperty(spelled, async (raw) => {
        const meansAdmin = [...interpretations(raw)].some(underAdmin);
        const anonymous = await decideTwice(sensitive.decide, viewOf({}, raw));
        const user = await decideTwice(sensitive.decide, viewOf({ authorization: `Bearer ${USER}` }, raw));
        if (meansAdmin) {
          expect(anonymous.reason).not.toBe('OK_PUBLIC_ROUTE');
          expect(user.outcome).not.toBe('allow');
        }
      }),
      { numRuns: runs(2000) },
    );
  });

  it('the same with ignore_case on /admin, against case-folding upstreams too', async () => {
    await fc.assert(
      fc.asyncProperty(spelled, async (raw) => {
        const meansAdmin = [...interpretations(raw)].some((p) => underAdmin(p) || underAdmin(p.toLowerCase()));
        const user = await decideTwice(insensitive.decide, viewOf({ authorization: `Bearer ${USER}` }, raw));
        const anonymous = await decideTwice(insensitive.decide, viewOf({}, raw));
        if (meansAdmin) {
          expect(anonymous.reason).not.toBe('OK_PUBLIC_ROUTE');
          expect(user.outcome).not.toBe('allow');
        }
      }),
      { numRuns: runs(1000) },
    );
  });

  it('an accepted path is what a decode-once, dot-resolving, slash-merging upstream reads (no second meaning)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          spelled,
          fc.string({ maxLength: 40 }).map((s) => `/${s}`),
          fc
            .string({
              unit: fc.constantFrom('/', '.', '%', '2', 'e', 'E', 'f', 'F', '5', 'c', 'a', ';', '\\', '?'),
              maxLength: 30,
            })
            .map((s) => `/${s}`),
        ),
        (raw) => {
          const n = normalizePath(raw);
          if (!n.ok) return;
          expect(n.path.startsWith('/')).toBe(true);
          expect(n.path).not.toMatch(/\/\/|\/\.\.?(\/|$)|[\x00-\x1f\x7f\\;]/);
          const trim = (p: string) => (p.length > 1 ? p.replace(/\/$/, '') : p);
          // Every model agrees with claimgate on an accepted path.
          for (const meaning of interpretations(raw)) expect(trim(meaning)).toBe(trim(n.path));
        },
      ),
      { numRuns: runs(3000) },
    );
  });

  it('never throws on arbitrary targets, and bounds the path it reads', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 100 }),
          fc.string({ unit: 'binary', maxLength: 100 }),
          fc.integer({ min: MAX_PATH_LENGTH - 2, max: MAX_PATH_LENGTH + 2 }).map((n) => `/${'a'.repeat(n - 1)}`),
        ),
        (raw) => {
          const n = normalizePath(raw);
          if (n.ok) expect(stripQuery(raw).length).toBeLessThanOrEqual(MAX_PATH_LENGTH);
        },
      ),
      { numRuns: runs(1000) },
    );
  });
});
