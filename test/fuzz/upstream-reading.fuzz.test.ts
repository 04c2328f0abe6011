/**
 * Fuzz: what upstream frameworks read differently from claimgate (SECURITY.md P16, P18), each property
 * judged by an independent model of the upstream's reading, never by claimgate's own code:
 *
 * - header-name spellings: a name a CGI/WSGI server (`HTTP_` + upper case + `-` → `_`) or PHP (`.` and
 *   ` ` → `_` as well) reads as an owned or credential header never rides along on an allow;
 * - hosts: an authority claimgate accepts parses with the WHATWG URL parser to the same host with no
 *   userinfo, and whenever that parser sees the admin host, the host-scoped route decides;
 * - path characters: whenever some upstream reading of the target (cut at `#` or not, decode before or
 *   after splitting the query, Java/Turkish case folding) means `/admin`, claimgate applies the admin
 *   route or refuses the path;
 * - credential locations: an allow needs exactly one credential in the whole request, a valid token.
 */
import fc from 'fast-check';
import type { Decision } from '../../src/core/types.js';
import { toRequestView } from '../../src/envoy/request.js';
import type { CheckRequestMessage } from '../../src/envoy/messages.js';
import { buildGate, cleanupTmp, mint, upstreamReadingSetup, type Gate } from '../security/harness.js';
import { RSA, configureFuzz, runs } from './support.js';

configureFuzz();

const userToken = mint(RSA, { roles: ['user'] });
const OWNED = ['x-auth-roles', 'x-user-id', 'x-access-token', 'authorization'];

let gate: Gate;
beforeAll(async () => {
  const setup = upstreamReadingSetup(RSA);
  gate = await buildGate({
    issuers: setup.issuers as Record<string, unknown>[],
    routes: setup.routes,
    upstream: setup.upstream as Record<string, unknown>,
    unmatched: 'authenticated',
  });
});
afterAll(() => {
  gate.close();
  cleanupTmp();
});

async function check(opts: { host?: string; path?: string; headers?: Record<string, string> }): Promise<Decision> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.headers ?? {})) headers[k.toLowerCase()] = v;
  const req = {
    attributes: {
      request: {
        http: { method: 'GET', host: opts.host ?? 'api.example.com', path: opts.path ?? '/api/items', headers },
      },
    },
  } as CheckRequestMessage;
  return gate.decide(toRequestView(req));
}

// ---- header-name spellings ------------------------------------------------------------------------

/** The upstream models: RFC 3875 / PEP 3333 / Rack, and PHP's `$_SERVER` registration on top. */
const cgiName = (n: string) => `HTTP_${n.toUpperCase().replace(/-/g, '_')}`;
const phpName = (n: string) => cgiName(n).replace(/[. ]/g, '_');
const readsAsOwned = (name: string) =>
  OWNED.some((o) => name.toLowerCase() !== o && (cgiName(name) === cgiName(o) || phpName(name) === phpName(o)));

const skeleton = (n: string) => n.toLowerCase().replace(/[^a-z0-9]/g, '');

const TOKEN_CHARS = "-_.~!*'|^#$%&+`".split('');
/** An owned name with random case, its `-` replaced by random token characters, sometimes an edge added. */
const spelling = fc
  .tuple(
    fc.constantFrom(...OWNED),
    fc.array(fc.boolean(), { minLength: 16, maxLength: 16 }),
    fc.array(fc.constantFrom(...TOKEN_CHARS), { minLength: 3, maxLength: 3 }),
    fc.constantFrom('', '_', '.', '-'),
  )
  .map(([name, upper, seps, edge]) => {
    let i = 0;
    const respelled = [...name].map((c, j) => (c === '-' ? (seps[i++] ?? '-') : upper[j] ? c.toUpperCase() : c));
    return respelled.join('') + edge;
  });
const randomName = fc.stringMatching(/^[A-Za-z0-9_.-]{1,16}$/);

describe('header-name spellings', () => {
  it('a name an upstream reads as an owned or credential header never rides along on an allow', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(spelling, randomName),
        fc.constantFrom('/public/x', '/api/items'),
        async (name, path) => {
          const d = await check({ path, headers: { authorization: `Bearer ${userToken}`, [name]: 'admin' } });
          if (readsAsOwned(name)) expect([name, d.outcome]).toEqual([name, 'deny']);
          // Honesty: a name whose letters and digits are not those of an owned name costs the request nothing.
          else if (!OWNED.some((o) => skeleton(o) === skeleton(name)) && !/method/i.test(name)) {
            expect([name, d.outcome]).toEqual([name, 'allow']);
          }
        },
      ),
      { numRuns: runs(300) },
    );
  });
});

// ---- hosts -----------------------------------------------------------------------------------------

const hostPiece = fc.constantFrom(
  'admin.example.com',
  'ADMIN.Example.com',
  'admin.example.com.',
  'api.example.com',
  'user@',
  'u:p@',
  ':',
  ':443',
  ':1',
  ':99999',
  ':0443',
  '.',
  '%61',
  '[::1]',
  '[',
  ']',
  ' ',
  ',',
  ';',
  '_',
  '-',
  'x',
);
const authority = fc.array(hostPiece, { minLength: 1, maxLength: 4 }).map((p) => p.join(''));

function whatwgHost(a: string): { hostname: string; userinfo: boolean } | undefined {
  try {
    const u = new URL(`http://${a}/`);
    return { hostname: u.hostname.replace(/\.$/, ''), userinfo: u.username !== '' || u.password !== '' };
  } catch {
    return undefined;
  }
}

describe('hosts', () => {
  it('an accepted authority is one host to the WHATWG parser too, and the admin host always meets its route', async () => {
    await fc.assert(
      fc.asyncProperty(authority, async (a) => {
        const d = await check({ host: a, headers: { authorization: `Bearer ${userToken}` } });
        if (d.reason === 'ERR_HOST_INVALID') return;
        const parsed = whatwgHost(a);
        expect([a, parsed !== undefined && !parsed.userinfo]).toEqual([a, true]);
        const isAdminHost = parsed!.hostname === 'admin.example.com';
        expect([a, d.reason === 'ERR_ROLE_MISSING']).toEqual([a, isAdminHost]);
      }),
      { numRuns: runs(400) },
    );
  });
});

// ---- path characters -------------------------------------------------------------------------------

const pathPiece = fc.constantFrom(
  'public',
  'admin',
  'ADMIN',
  'adm',
  'in',
  'ın',
  'İn',
  '%C4%B0n',
  '%C4%B1n',
  '%C5%BF',
  '#',
  '%23',
  '%3F',
  '?',
  '/',
  '..',
  '.',
  'x',
);
const adminSpelling = fc.constantFrom('admin', 'ADMIN', 'adm%C4%B0n', 'admİn', 'admın', 'ADMİN', 'adm%69n');
/** Free mixtures, and the traversal shapes around a delimiter, where the readings part ways. */
const target = fc.oneof(
  fc.array(pathPiece, { minLength: 1, maxLength: 7 }).map((p) => `/${p.join('')}`),
  fc
    .tuple(
      fc.constantFrom('public', 'public/x', 'x'),
      fc.constantFrom('#', '%23', '%3F', '?', '', '?a=1#'),
      adminSpelling,
      fc.constantFrom('', '/users', '#x'),
    )
    .map(([a, delimiter, admin, tail]) => `/${a}${delimiter}/../${admin}${tail}`),
  // …and the reverse: the admin part before the delimiter, the public part after the traversal.
  fc
    .tuple(adminSpelling, fc.constantFrom('#', '%23', '%3F', '?', ''), fc.constantFrom('public', 'public/x'))
    .map(([admin, delimiter, b]) => `/${admin}${delimiter}/../${b}`),
);

const safeDecode = (s: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};
const cut = (s: string, chars: string) => {
  const i = [...s].findIndex((c) => chars.includes(c));
  return i === -1 ? s : [...s].slice(0, i).join('');
};
function resolveDots(path: string): string {
  const out: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return `/${out.join('/')}`;
}
/** The ways upstreams have been seen to turn a target into a path. */
const readings = (t: string): string[] => [
  resolveDots(safeDecode(cut(t, '?#'))), // cut at ? and #, then decode
  resolveDots(safeDecode(cut(t, '?'))), // a raw # kept as data (nginx passes the whole target on)
  resolveDots(cut(safeDecode(cut(t, '?#')), '?#')), // decode, then split again (%3F / %23 as delimiters)
];
/** Case foldings: JavaScript, Turkish locale, Java's per-character equalsIgnoreCase. */
const folds = (s: string): string[] => [
  s.toLowerCase(),
  s.toLocaleLowerCase('tr'),
  [...s].map((c) => c.toUpperCase().toLowerCase()).join(''),
];
const meansAdmin = (t: string) =>
  readings(t).some((p) => folds(p.split('/')[1] ?? '').some((f) => f === 'admin' || f === 'admi̇n'.normalize()));

describe('path characters', () => {
  it('whenever some upstream reading means /admin, the admin route decides or the path is refused', async () => {
    await fc.assert(
      fc.asyncProperty(target, async (t) => {
        const d = await check({ path: t, headers: { authorization: `Bearer ${userToken}` } });
        if (meansAdmin(t))
          expect([t, d.reason]).toEqual([t, expect.stringMatching(/ERR_PATH_INVALID|ERR_ROLE_MISSING/)]);
      }),
      { numRuns: runs(500) },
    );
  });
});

// ---- credential locations --------------------------------------------------------------------------

type Credential = {
  readonly place: 'authorization' | 'cookie' | 'x-access-token';
  readonly value: string;
  readonly valid: boolean;
};
const credential: fc.Arbitrary<Credential> = fc.oneof(
  fc.constant<Credential>({ place: 'authorization', value: `Bearer ${userToken}`, valid: true }),
  fc.constant<Credential>({ place: 'cookie', value: `at=${userToken}`, valid: true }),
  fc.constant<Credential>({ place: 'x-access-token', value: userToken, valid: true }),
  fc
    .constantFrom('Basic dXNlcjpwYXNz', `DPoP ${userToken}`, `Bearer\t${userToken}`, 'Negotiate abc', 'Bearer')
    .map((value): Credential => ({ place: 'authorization', value, valid: false })),
  fc.constant<Credential>({ place: 'cookie', value: 'at=', valid: false }),
);

describe('credential locations', () => {
  it('an allow needs exactly one credential in the whole request, and it is a valid token', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(credential, { maxLength: 3 }), fc.boolean(), async (creds, otherCookie) => {
        const headers: Record<string, string> = {};
        const cookies: string[] = otherCookie ? ['theme=dark'] : [];
        let lines = 0; // header lines that would carry a credential (a JS map keeps one value per name)
        for (const c of creds) {
          if (c.place === 'cookie') cookies.push(c.value);
          else if (headers[c.place] === undefined) {
            headers[c.place] = c.value;
            lines++;
          }
        }
        if (cookies.length > 0) headers.cookie = cookies.join('; ');
        const carried = lines + creds.filter((c) => c.place === 'cookie').length;
        const d = await check({ path: '/api/items', headers });
        const kept = creds.filter((c, i) => c.place === 'cookie' || creds.findIndex((o) => o.place === c.place) === i);
        const mayAllow = carried === 1 && kept[0]!.valid;
        expect([creds, d.outcome === 'allow']).toEqual([creds, mayAllow]);
        if (carried > 1) expect([creds, d.reason]).toEqual([creds, 'ERR_MULTIPLE_TOKENS']);
      }),
      { numRuns: runs(300) },
    );
  });
});
