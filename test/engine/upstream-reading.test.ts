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
  });

  it.each([['x-auth-roles'], ['x-user-id'], ['authorization'], ['x_request_id'], ['x--auth-roles'], ['x-auth-role']])(
    '%j is not',
    (name) => {
      expect(hasForgedSpelling(headers(name), readings)).toBe(false);
    },
  );
});

describe('hasMethodOverride', () => {
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
    expect(hasMethodOverride(headers(...names), target)).toBe(true);
  });

  it.each([
    [['x-method'], '/a'],
    [['accept'], '/a?method=DELETE'],
    [[], '/a?x=_method'],
    [[], '/_method'],
    [[], '/a?%zz=1'],
  ])('%j %j is not', (names, target) => {
    expect(hasMethodOverride(headers(...names), target)).toBe(false);
  });
});
