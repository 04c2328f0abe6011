/** How claimgate reads header names and method-override signals the way upstream frameworks do. */
import {
  compileHeaderReadings,
  hasForgedSpelling,
  hasMethodOverride,
  upstreamHeaderReading,
} from '../../src/engine/upstream-reading.js';

const headers = (...names: string[]) => new Map(names.map((n) => [n, ['v']]));

describe('upstreamHeaderReading: the widest CGI/WSGI/PHP reading of a header name', () => {
  it.each([
    ['X-Auth-Roles', 'x_auth_roles'],
    ['x_auth_roles', 'x_auth_roles'],
    ['X_AUTH-ROLES', 'x_auth_roles'],
    ['x.auth.roles', 'x_auth_roles'], // PHP registers `.` as `_`
    ['x-auth-roles_', 'x_auth_roles'],
    ['-x-auth-roles', 'x_auth_roles'],
    ['x~auth!roles', 'x_auth_roles'],
    ['x--auth-roles', 'x__auth_roles'], // CGI keeps both separators: a different variable
    ['authorization', 'authorization'],
  ])('%j reads as %j', (name, reading) => {
    expect(upstreamHeaderReading(name)).toBe(reading);
  });
});

describe('hasForgedSpelling', () => {
  const readings = compileHeaderReadings(['x-auth-roles', 'X-User-Id', 'authorization']);

  it.each([
    ['x_auth_roles'],
    ['x.auth.roles'],
    ['x-auth_roles'],
    ['x_user_id'],
    ['authorization_'],
    ['_authorization'],
  ])('%j is another spelling of an owned name', (name) => {
    expect(hasForgedSpelling(headers('accept', name), readings)).toBe(true);
    // The second time the verdict is the remembered one: the same.
    expect(hasForgedSpelling(headers('accept', name), readings)).toBe(true);
  });

  it.each([['x-auth-roles'], ['x-user-id'], ['authorization'], ['x_request_id'], ['x--auth-roles'], ['x-auth-role']])(
    '%j is not',
    (name) => {
      expect(hasForgedSpelling(headers(name), readings)).toBe(false);
      expect(hasForgedSpelling(headers(name), readings)).toBe(false);
    },
  );

  it('remembers verdicts per config: a name forged under one config is not under another', () => {
    const other = compileHeaderReadings(['x-tenant']);
    expect(hasForgedSpelling(headers('x_auth_roles'), readings)).toBe(true);
    expect(hasForgedSpelling(headers('x_auth_roles'), other)).toBe(false);
    expect(hasForgedSpelling(headers('x_tenant'), other)).toBe(true);
    expect(hasForgedSpelling(headers('x_tenant'), readings)).toBe(false);
  });

  it('keeps at most 1,024 remembered names, long names never, and still judges every name', () => {
    const fresh = compileHeaderReadings(['x-auth-roles']);
    for (let i = 0; i < 5000; i++) expect(hasForgedSpelling(headers(`x-client-${i}`), fresh)).toBe(false);
    expect(fresh.verdicts.size).toBeLessThanOrEqual(1024);
    const long = `x_auth_roles${'_'.repeat(100)}`;
    expect(hasForgedSpelling(headers(long), fresh)).toBe(true);
    expect(fresh.verdicts.has(long)).toBe(false);
    expect(hasForgedSpelling(headers('x_auth_roles'), fresh)).toBe(true);
  });
});

describe('hasMethodOverride', () => {
  const readings = compileHeaderReadings(['x-auth-roles']);
  it.each([
    [['x-http-method-override'], '/a'],
    [['x-http-method'], '/a'],
    [['x-method-override'], '/a'],
    [['x_http_method_override'], '/a'],
    [['x.method.override'], '/a'],
    [[], '/a?_method=DELETE'],
    [[], '/a?x=1&_METHOD=delete'],
    [[], '/a?%5Fmethod=DELETE'],
    [[], '/a?.method=DELETE'], // PHP reads `.method` as `_method`
    [[], '/a?_method[]=DELETE'],
    [[], '/a?x=1;_method=PUT'],
  ])('%j %j is an override', (names, target) => {
    expect(hasMethodOverride(headers(...names), target, readings)).toBe(true);
    expect(hasMethodOverride(headers(...names), target, readings)).toBe(true);
  });

  it.each([
    [['x-method'], '/a'],
    [['accept'], '/a?method=DELETE'],
    [[], '/a?x=_method'],
    [[], '/_method'],
    [[], '/a?%zz=1'],
  ])('%j %j is not', (names, target) => {
    expect(hasMethodOverride(headers(...names), target, readings)).toBe(false);
    expect(hasMethodOverride(headers(...names), target, readings)).toBe(false);
  });
});
