import fc from 'fast-check';
import type { Requirement } from '../../src/config/schema.js';
import { requirementSchema } from '../../src/config/schema.js';
import {
  MAX_REGEX_INPUT_LENGTH,
  compileRequirement,
  containsSpaceDelimitedToken,
  type RequirementResult,
  type RequirementInput,
} from '../../src/engine/requirements.js';
import { resolveProfile } from '../../src/config/profiles.js';
import { compilePrincipalReader } from '../../src/token/principal.js';

const ROLES: Record<string, string | string[]> = {
  keycloak: 'realm_access.roles',
  auth0: 'https://example.com/roles',
  plain: 'roles',
};

/** The token as the engine hands it over: claims, issuer name, and the principal its profile reads. */
function tok(claims: Record<string, unknown>, issuer = 'plain'): RequirementInput {
  const profile = resolveProfile({ profile: 'rfc9068', audiences: ['api'], roles_claim: ROLES[issuer] });
  const sub = typeof claims.sub === 'string' ? claims.sub : 'user';
  return { claims, issuer, principal: compilePrincipalReader(issuer, profile.claims)(claims, sub, undefined) };
}

/** Compiles through the schema, as the config loader does. */
function compile(req: unknown) {
  return compileRequirement(requirementSchema.parse(req));
}
function check(req: unknown, claims: unknown, issuer = 'plain'): RequirementResult {
  return compile(req)(tok(JSON.parse(JSON.stringify(claims)) as Record<string, unknown>, issuer));
}
const ok = { ok: true };
/**
 * A failure with exactly these missing scopes, and "cannot tell" (`undecided`) or a plain "no"; the
 * `failed` path is checked where it matters (decide tests), not here.
 */
function failure(missingScopes: string[], cannotTell: boolean) {
  return {
    asymmetricMatch: (r: unknown) => {
      const f = r as { ok?: unknown; missingScopes?: unknown; undecided?: unknown };
      return (
        f.ok === false &&
        JSON.stringify(f.missingScopes) === JSON.stringify(missingScopes) &&
        (f.undecided === true) === cannotTell
      );
    },
    toAsymmetricMatcher: () => `${cannotTell ? 'undecided' : 'denied'}(${JSON.stringify(missingScopes)})`,
  };
}
const denied = (missingScopes: string[] = []) => failure(missingScopes, false);
/** A refusal because the claim could not be read (it stays a refusal under `not`). */
const undecided = (missingScopes: string[] = []) => failure(missingScopes, true);

describe('containsSpaceDelimitedToken', () => {
  it.each([
    ['orders:read orders:write', 'orders:read', true],
    ['orders:read orders:write', 'orders:write', true],
    ['orders:read', 'orders', false],
    ['xorders:read', 'orders:read', false],
    ['orders:readx', 'orders:read', false],
    ['a  b', 'a', true],
    ['a  b', 'b', true],
    [' a', 'a', true],
    ['a\tb', 'a', false],
    ['A', 'a', false],
    ['ab ab b', 'b', true],
    ['aab ab', 'ab', true],
    ['', 'a', false],
    ['a', '', false],
  ])('%j contains %j: %s', (list, token, expected) => {
    expect(containsSpaceDelimitedToken(list, token)).toBe(expected);
    // Same answer as the grammar written the obvious way.
    expect(token !== '' && list.split(' ').includes(token)).toBe(expected);
  });

  it('agrees with split-on-single-space for random lists', () => {
    const word = fc.string({ unit: fc.constantFrom('a', 'b', ':', ' ', '\t'), maxLength: 12 });
    fc.assert(
      fc.property(word, word, (list, token) => {
        fc.pre(!token.includes(' '));
        expect(containsSpaceDelimitedToken(list, token)).toBe(token !== '' && list.split(' ').includes(token));
      }),
      { seed: 2026, numRuns: 2000 },
    );
  });
});

describe('scope', () => {
  it('reads the space-delimited scope claim, all listed scopes required', () => {
    expect(check({ scope: 'orders:read' }, { scope: 'orders:read orders:write' })).toEqual(ok);
    expect(check({ scope: ['orders:read', 'orders:write'] }, { scope: 'orders:write orders:read' })).toEqual(ok);
    expect(check({ scope: ['orders:read', 'orders:write'] }, { scope: 'orders:read' })).toEqual(
      denied(['orders:write']),
    );
  });

  it('matches whole tokens only, case-sensitively', () => {
    expect(check({ scope: 'orders' }, { scope: 'orders:read' })).toEqual(denied(['orders']));
    expect(check({ scope: 'Orders:Read' }, { scope: 'orders:read' })).toEqual(denied(['Orders:Read']));
    // RFC 6749 §3.3: single spaces only; a double space, TAB or edge space makes the string unreadable.
    expect(check({ scope: 'b' }, { scope: 'a  b' })).toEqual(undecided(['b']));
    expect(check({ scope: 'b' }, { scope: 'a\tb' })).toEqual(undecided(['b']));
    expect(check({ scope: 'b' }, { scope: ' b' })).toEqual(undecided(['b']));
  });

  it('falls back to scp as an array (Okta) or a space string (Entra ID)', () => {
    expect(check({ scope: ['a', 'b'] }, { scp: ['b', 'a'] })).toEqual(ok);
    expect(check({ scope: 'a' }, { scp: 'x a' })).toEqual(ok);
    expect(check({ scope: 'a' }, { scp: ['a b'] })).toEqual(undecided(['a']));
  });

  it('treats a present scope claim as authoritative over scp', () => {
    expect(check({ scope: 'a' }, { scope: 'b', scp: ['a'] })).toEqual(denied(['a']));
    expect(check({ scope: 'a' }, { scope: ['a'], scp: 'a' })).toEqual(undecided(['a']));
  });

  it.each([[{}], [{ scope: null }]])('an absent scope claim grants nothing: %j', (claims) => {
    expect(check({ scope: 'a' }, claims)).toEqual(denied(['a']));
  });

  it.each([[{ scope: 42 }], [{ scope: { a: true } }], [{ scp: [1, true] }], [{ scp: 7 }]])(
    'never matches a scope claim of the wrong type, and cannot be negated into a grant: %j',
    (claims) => {
      expect(check({ scope: 'a' }, claims)).toEqual(undecided(['a']));
      expect(check({ not: { scope: 'a' } }, claims)).toEqual(undecided());
    },
  );

  it('does not read scope from the prototype chain', () => {
    const claims = Object.create({ scope: 'a' }) as Record<string, unknown>;
    expect(compile({ scope: 'a' })(tok(claims, 'plain'))).toEqual(denied(['a']));
  });

  it('refuses a configured scope that contains a space', () => {
    expect(() => compile({ scope: 'a b' })).toThrow(/must be one scope without spaces/);
  });
});

describe('permission', () => {
  it("requires every listed entry in Auth0's permissions array", () => {
    expect(check({ permission: ['read:x', 'write:x'] }, { permissions: ['write:x', 'read:x'] })).toEqual(ok);
    expect(check({ permission: ['read:x', 'write:x'] }, { permissions: ['read:x'] })).toEqual(denied());
    expect(check({ permission: 'read:x' }, { permissions: 'read:x' })).toEqual(undecided());
    expect(check({ permission: 'read:x' }, { permissions: ['READ:X', 'read:x2'] })).toEqual(denied());
  });
});

describe('role', () => {
  it("reads the issuer's configured roles claim", () => {
    const claims = { realm_access: { roles: ['admin'] }, 'https://example.com/roles': ['editor'], roles: ['viewer'] };
    expect(check({ role: 'admin' }, claims, 'keycloak')).toEqual(ok);
    expect(check({ role: 'editor' }, claims, 'auth0')).toEqual(ok);
    expect(check({ role: 'viewer' }, claims, 'plain')).toEqual(ok);
    expect(check({ role: 'admin' }, claims, 'auth0')).toEqual(denied());
  });

  it('accepts a single-string roles claim and requires all listed roles', () => {
    expect(check({ role: 'admin' }, { roles: 'admin' })).toEqual(ok);
    expect(check({ role: ['admin', 'ops'] }, { roles: 'admin' })).toEqual(denied());
    expect(check({ role: ['admin', 'ops'] }, { roles: ['ops', 'admin'] })).toEqual(ok);
    expect(check({ role: 'admin' }, { roles: 'admin ops' })).toEqual(denied());
    // The separator inside a string: an upstream would read two roles, so the check reads none.
    expect(check({ role: 'admin' }, { roles: 'user,admin' })).toEqual(undecided());
    expect(check({ not: { role: 'admin' } }, { roles: 'user,admin' })).toEqual(undecided());
    expect(check({ role: 'admin' }, { roles: ['admin', 'a,b'] })).toEqual(undecided());
    expect(check({ role: 'admin' }, { roles: ['admin\t'] })).toEqual(undecided());
  });

  it("reads only the issuer's own roles claim (a top-level roles claim grants nothing to Keycloak)", () => {
    expect(check({ role: 'admin' }, { roles: ['admin'] }, 'keycloak')).toEqual(denied());
  });
});

describe('issuer', () => {
  it('matches the configured issuer name', () => {
    expect(check({ issuer: ['auth0', 'keycloak'] }, {}, 'auth0')).toEqual(ok);
    expect(check({ issuer: 'auth0' }, {}, 'plain')).toEqual(denied());
  });
});

describe('claim', () => {
  it('equals: strict equality on scalars, membership on arrays, no coercion', () => {
    expect(check({ claim: { path: 'tenant', equals: 'acme' } }, { tenant: 'acme' })).toEqual(ok);
    expect(check({ claim: { path: 'tenant', equals: 'acme' } }, { tenant: ['x', 'acme'] })).toEqual(ok);
    expect(check({ claim: { path: 'level', equals: 3 } }, { level: '3' })).toEqual(undecided());
    expect(check({ claim: { path: 'flag', equals: true } }, { flag: 'true' })).toEqual(undecided());
    // Type-strict under `not` too: a boolean arriving as a string does not pass a negation.
    expect(check({ not: { claim: { path: 'flag', equals: true } } }, { flag: 'true' })).toEqual(undecided());
    expect(check({ not: { claim: { path: 'flag', equals: true } } }, { flag: false })).toEqual(ok);
    expect(check({ not: { claim: { path: 'flag', equals: true } } }, {})).toEqual(ok);
    expect(check({ claim: { path: 'flag', equals: true } }, { flag: true })).toEqual(ok);
    expect(check({ claim: { path: 'tenant', equals: 'acme' } }, { tenant: { acme: true } })).toEqual(undecided());
    expect(check({ claim: { path: 'tenant', equals: 'acme' } }, { tenant: [['acme']] })).toEqual(undecided());
  });

  it('one_of: scalar in the set, or an array with an element in it', () => {
    const req = { claim: { path: 'org.tier', one_of: ['gold', 'platinum', 1] } };
    expect(check(req, { org: { tier: 'gold' } })).toEqual(ok);
    expect(check(req, { org: { tier: 1 } })).toEqual(ok);
    expect(check(req, { org: { tier: '1' } })).toEqual(denied()); // a string, and strings are among the types
    expect(check(req, { org: { tier: ['bronze', 'platinum'] } })).toEqual(ok);
    expect(check(req, { org: { tier: ['bronze'] } })).toEqual(denied());
    expect(check(req, { org: { tier: null } })).toEqual(denied());
  });

  it('prefix: string claims only', () => {
    const req = { claim: { path: 'email', prefix: 'ops-' } };
    expect(check(req, { email: 'ops-jane@example.com' })).toEqual(ok);
    expect(check(req, { email: 'jane@example.com' })).toEqual(denied());
    expect(check(req, { email: ['ops-jane@example.com'] })).toEqual(undecided());
  });

  it('regex: string claims only, as anchored as written, bounded input length', () => {
    const anchored = { claim: { path: 'email', regex: '^[^@]+@example\\.com$' } };
    expect(check(anchored, { email: 'jane@example.com' })).toEqual(ok);
    expect(check(anchored, { email: 'jane@example.com.evil.io' })).toEqual(denied());
    const unanchored = { claim: { path: 'email', regex: '@example\\.com' } };
    expect(check(unanchored, { email: 'jane@example.com.evil.io' })).toEqual(ok);
    expect(check(unanchored, { email: 42 })).toEqual(undecided());
    expect(check(unanchored, { email: ['jane@example.com'] })).toEqual(undecided());
    const longest = 'x'.repeat(MAX_REGEX_INPUT_LENGTH - '@example.com'.length) + '@example.com';
    expect(check(unanchored, { email: longest })).toEqual(ok);
    expect(check(unanchored, { email: 'x' + longest })).toEqual(denied());
  });

  it('regex: unicode mode and no state between calls', () => {
    const req = compile({ claim: { path: 'name', regex: '^\\p{Lu}' } });
    const token = tok({ name: 'Élodie' }, 'plain');
    expect([req(token), req(token), req(token)]).toEqual([ok, ok, ok]);
  });

  it('exists: null counts as absent, so exists:false is the exact negation of exists:true', () => {
    const yes = compile({ claim: { path: 'act.sub', exists: true } });
    const no = compile({ claim: { path: 'act.sub', exists: false } });
    for (const claims of [
      {},
      { act: null },
      { act: { sub: null } },
      { act: { sub: 'svc' } },
      { act: { sub: false } },
    ]) {
      const token = tok(claims, 'plain');
      expect(yes(token).ok).toBe(!no(token).ok);
    }
    // A step through an array, or a flat member literally named `act.sub`, cannot be read: both fail.
    for (const claims of [{ act: ['sub'] }, { 'act.sub': 'svc' }, { act: {}, 'act.sub': 'svc' }]) {
      const token = tok(claims, 'plain');
      expect([yes(token), no(token)]).toEqual([undecided(), undecided()]);
    }
    expect(yes(tok({ act: { sub: false } }, 'plain'))).toEqual(ok);
    expect(no(tok({ act: null }, 'plain'))).toEqual(ok);
  });

  it('reads only own properties of hostile payloads', () => {
    const hostile = JSON.parse('{"__proto__": {"role": "admin"}, "constructor": {"name": "x"}}') as Record<
      string,
      unknown
    >;
    const token = tok(hostile, 'plain');
    expect(compile({ claim: { path: 'role', exists: true } })(token)).toEqual(denied());
    expect(compile({ claim: { path: 'toString', exists: true } })(token)).toEqual(denied());
    expect(compile({ claim: { path: 'hasOwnProperty', exists: false } })(token)).toEqual(ok);
    expect(compile({ claim: { path: '__proto__.role', equals: 'admin' } })(token)).toEqual(ok);
    expect(compile({ claim: { path: 'constructor.name', equals: 'x' } })(token)).toEqual(ok);
    expect(compile({ claim: { path: 'constructor.name', equals: 'Object' } })(tok({}, 'plain'))).toEqual(denied());
  });

  it('handles huge arrays without error', () => {
    const groups = Array.from({ length: 100_000 }, (_, i) => `g${i}`);
    expect(check({ claim: { path: 'groups', equals: 'g99999' } }, { groups })).toEqual(ok);
    expect(check({ claim: { path: 'groups', one_of: ['nope', 'g5'] } }, { groups })).toEqual(ok);
  });
});

describe('all / any / not', () => {
  it('all: every child; the 403 names every missing scope', () => {
    const req = { all: [{ scope: 'a' }, { role: 'admin' }, { scope: ['b', 'a'] }] };
    expect(check(req, { scope: 'a b', roles: ['admin'] })).toEqual(ok);
    expect(check(req, { scope: '', roles: [] })).toEqual(denied(['a', 'b']));
    expect(check(req, { scope: 'a b', roles: [] })).toEqual(denied());
  });

  it('any: one child suffices; denial reports the union of missing scopes', () => {
    const req = { any: [{ scope: 'a' }, { scope: ['b', 'c'] }, { issuer: 'auth0' }] };
    expect(check(req, { scope: 'b c' })).toEqual(ok);
    expect(check(req, {}, 'auth0')).toEqual(ok);
    expect(check(req, { scope: 'c' })).toEqual(denied(['a', 'b']));
  });

  it('not: inverts and never reports scopes', () => {
    expect(check({ not: { scope: 'guest' } }, { scope: 'guest' })).toEqual(denied());
    expect(check({ not: { scope: 'guest' } }, { scope: 'user' })).toEqual(ok);
    expect(check({ not: { not: { role: 'x' } } }, { roles: ['x'] })).toEqual(ok);
  });

  it('nests', () => {
    const req = {
      all: [
        { any: [{ role: 'admin' }, { scope: 'orders:admin' }] },
        { not: { claim: { path: 'suspended', equals: true } } },
      ],
    };
    expect(check(req, { roles: ['admin'] })).toEqual(ok);
    expect(check(req, { scope: 'orders:admin', suspended: true })).toEqual(denied());
    expect(check(req, { scope: 'x' })).toEqual(denied(['orders:admin']));
  });

  it('undefined requirement allows any verified token', () => {
    expect(compileRequirement(undefined)(tok({}, 'x'))).toEqual(ok);
  });
});

describe('properties', () => {
  const leaf: fc.Arbitrary<Requirement> = fc.oneof(
    fc.record({ scope: fc.constantFrom('a', 'b', 'c') }),
    fc.record({ role: fc.constantFrom('admin', 'user') }),
    fc.record({ issuer: fc.constantFrom('plain', 'auth0') }),
    fc.record({
      claim: fc.record({ path: fc.constantFrom('x', 'x.y', '__proto__', 'constructor'), exists: fc.boolean() }),
    }),
    fc.record({
      claim: fc.record({
        path: fc.constantFrom('x', 'x.y'),
        equals: fc.oneof(fc.string(), fc.integer(), fc.boolean()),
      }),
    }),
  );
  const tree = fc.letrec<{ node: Requirement }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.record({ all: fc.array(tie('node'), { minLength: 1, maxLength: 3 }) }),
      fc.record({ any: fc.array(tie('node'), { minLength: 1, maxLength: 3 }) }),
      fc.record({ not: tie('node') }),
    ),
  })).node;
  const claims = fc
    .jsonValue({ maxDepth: 4 })
    .map((v) => JSON.parse(JSON.stringify({ scope: 'a c', roles: ['user'], x: v, __proto__: v })));

  it('never throws, is deterministic, and only reports configured scopes', () => {
    fc.assert(
      fc.property(tree, claims, fc.constantFrom('plain', 'auth0', 'unknown'), (req, c, issuer) => {
        const evaluate = compileRequirement(req);
        const first = evaluate(tok(c, issuer));
        expect(evaluate(tok(c, issuer))).toEqual(first);
        if (!first.ok) for (const s of first.missingScopes) expect(['a', 'b', 'c']).toContain(s);
        const negated = compileRequirement({ not: req })(tok(c, issuer));
        expect(negated.ok).toBe(!first.ok && !('undecided' in first));
      }),
      { seed: 42, numRuns: 500 },
    );
  });
});
