/**
 * envoy.yaml, checked against Envoy's OFFICIAL protos (no Envoy binary here): it must load as a
 * v3 Bootstrap with no unknown field, wrong type, unknown enum or unknown @type, and it must say
 * what claimgate relies on (fail closed, v3 transport, a timeout longer than claimgate's deadline,
 * HTTP/2 to claimgate, only /healthz exempt). The checker itself is shown to catch each mistake.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse, parseDocument } from 'yaml';
import { configSchema } from '../../src/config/schema.js';
import { checkEnvoyConfig, durationSeconds } from '../support/envoy-bootstrap-check.js';

const ENVOY_YAML = readFileSync(fileURLToPath(new URL('../../envoy.yaml', import.meta.url)), 'utf8');

type Json = Record<string, unknown>;
type PathKey = string | number;

// Locations in envoy.yaml, as YAML document paths.
const HCM: PathKey[] = ['static_resources', 'listeners', 0, 'filter_chains', 0, 'filters', 0, 'typed_config'];
const EXT_AUTHZ: PathKey[] = [...HCM, 'http_filters', 0, 'typed_config'];
const ROUTES: PathKey[] = [...HCM, 'route_config', 'virtual_hosts', 0, 'routes'];
const CLAIMGATE_CLUSTER: PathKey[] = ['static_resources', 'clusters', 1];

/** Dotted path as checkEnvoyConfig prints it. */
function printed(path: PathKey[]): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? k : `.${k}`)).join('');
}

/** envoy.yaml with one edit applied through the YAML document API (comments and layout kept). */
function edited(edit: (doc: ReturnType<typeof parseDocument>) => void): string {
  const doc = parseDocument(ENVOY_YAML);
  edit(doc);
  return String(doc);
}

function renameKey(doc: ReturnType<typeof parseDocument>, path: PathKey[], newKey: string): void {
  const value: unknown = doc.getIn(path);
  doc.deleteIn(path);
  doc.setIn([...path.slice(0, -1), newKey], value);
}

describe('envoy.yaml as an Envoy v3 Bootstrap', () => {
  it('has no errors against the official protos', () => {
    expect(checkEnvoyConfig(ENVOY_YAML)).toEqual([]);
  });

  describe('the checker reports each kind of mistake at its path', () => {
    it.each([
      [
        'a misspelled field',
        (doc: ReturnType<typeof parseDocument>) =>
          renameKey(doc, [...EXT_AUTHZ, 'failure_mode_allow'], 'failure_mode_alow'),
        `${printed(EXT_AUTHZ)}.failure_mode_alow: unknown field "failure_mode_alow" in envoy.extensions.filters.http.ext_authz.v3.ExtAuthz (did you mean "failure_mode_allow"?)`,
      ],
      [
        'a boolean given as a string',
        (doc: ReturnType<typeof parseDocument>) => doc.setIn([...EXT_AUTHZ, 'failure_mode_allow'], 'no'),
        `${printed(EXT_AUTHZ)}.failure_mode_allow: expected a boolean, got string "no"`,
      ],
      [
        'a Duration in the wrong format',
        (doc: ReturnType<typeof parseDocument>) => doc.setIn([...EXT_AUTHZ, 'grpc_service', 'timeout'], '250ms'),
        `${printed(EXT_AUTHZ)}.grpc_service.timeout: expected a Duration string like "0.25s", got string "250ms"`,
      ],
      [
        'a port out of range',
        (doc: ReturnType<typeof parseDocument>) =>
          doc.setIn(['static_resources', 'listeners', 0, 'address', 'socket_address', 'port_value'], -1),
        'static_resources.listeners[0].address.socket_address.port_value: -1 is out of range for uint32',
      ],
      [
        'an unknown enum value',
        (doc: ReturnType<typeof parseDocument>) => doc.setIn([...EXT_AUTHZ, 'transport_api_version'], 'V4'),
        `${printed(EXT_AUTHZ)}.transport_api_version: unknown envoy.config.core.v3.ApiVersion value "V4" (expected one of AUTO, V2, V3)`,
      ],
      [
        'an unknown @type',
        (doc: ReturnType<typeof parseDocument>) =>
          doc.setIn([...EXT_AUTHZ, '@type'], 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuth'),
        `${printed(EXT_AUTHZ)}.@type: unknown @type "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuth" (no such message in the loaded Envoy protos)`,
      ],
      [
        'two members of one oneof',
        (doc: ReturnType<typeof parseDocument>) => doc.setIn([...EXT_AUTHZ, 'http_service'], { path_prefix: '/check' }),
        `${printed(EXT_AUTHZ)}.http_service: oneof "services" of envoy.extensions.filters.http.ext_authz.v3.ExtAuthz already set by "grpc_service"`,
      ],
      [
        'a missing required oneof',
        (doc: ReturnType<typeof parseDocument>) =>
          doc.deleteIn(['static_resources', 'listeners', 0, 'address', 'socket_address', 'port_value']),
        'static_resources.listeners[0].address.socket_address: one of "port_value", "named_port" is required in envoy.config.core.v3.SocketAddress',
      ],
      [
        'a deprecated field',
        (doc: ReturnType<typeof parseDocument>) => doc.setIn([...CLAIMGATE_CLUSTER, 'http2_protocol_options'], {}),
        `${printed(CLAIMGATE_CLUSTER)}.http2_protocol_options: field "http2_protocol_options" of envoy.config.cluster.v3.Cluster is deprecated`,
      ],
      [
        'a route to an undefined cluster',
        (doc: ReturnType<typeof parseDocument>) => doc.setIn([...ROUTES, 1, 'route', 'cluster'], 'upstream_apii'),
        `${printed(ROUTES)}[1].route.cluster: cluster "upstream_apii" is not defined in static_resources.clusters`,
      ],
    ])('%s', (_label, edit, expectedError) => {
      expect(checkEnvoyConfig(edited(edit))).toEqual([expectedError]);
    });

    it('checks inside a typed_config reached through a map of Any (typed_per_filter_config)', () => {
      const yaml = edited((doc) =>
        renameKey(
          doc,
          [...ROUTES, 0, 'typed_per_filter_config', 'envoy.filters.http.ext_authz', 'disabled'],
          'disable',
        ),
      );
      expect(checkEnvoyConfig(yaml)).toEqual([
        `${printed(ROUTES)}[0].typed_per_filter_config["envoy.filters.http.ext_authz"].disable: unknown field "disable" in envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute (did you mean "disabled"?)`,
        `${printed(ROUTES)}[0].typed_per_filter_config["envoy.filters.http.ext_authz"]: one of "disabled", "check_settings" is required in envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute`,
      ]);
    });

    it('accepts lowerCamelCase JSON names, as Envoy does', () => {
      expect(
        checkEnvoyConfig(edited((doc) => renameKey(doc, [...EXT_AUTHZ, 'failure_mode_allow'], 'failureModeAllow'))),
      ).toEqual([]);
    });

    it('reports YAML syntax errors and a non-object document', () => {
      expect(checkEnvoyConfig('admin: {')[0]).toMatch(/^\(yaml\): /);
      expect(checkEnvoyConfig('- 1')).toEqual([
        '(root): expected an object (envoy.config.bootstrap.v3.Bootstrap), got a list',
      ]);
    });
  });
});

describe('what envoy.yaml promises claimgate', () => {
  const config = parse(ENVOY_YAML) as Json;
  const at = (path: PathKey[]): unknown =>
    path.reduce<unknown>((node, key) => (node as Record<PathKey, unknown> | undefined)?.[key], config);
  const hcm = at(HCM) as Json;
  const httpFilters = hcm.http_filters as { name: string; typed_config: Json }[];
  const extAuthz = at(EXT_AUTHZ) as Json;
  const routes = at(ROUTES) as Json[];
  const claimgateDefaults = configSchema.shape.server.parse(undefined);

  it('runs ext_authz (v3 gRPC to the claimgate cluster) before the router, which is last', () => {
    expect(httpFilters.map((f) => f.name)).toEqual(['envoy.filters.http.ext_authz', 'envoy.filters.http.router']);
    expect(extAuthz['@type']).toBe('type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz');
    expect(extAuthz.transport_api_version).toBe('V3');
    expect(at([...EXT_AUTHZ, 'grpc_service', 'envoy_grpc', 'cluster_name'])).toBe('claimgate');
  });

  it('fails closed with 503, sends the peer certificate, never the body', () => {
    expect(extAuthz.failure_mode_allow).toBe(false);
    expect(extAuthz.status_on_error).toEqual({ code: 'ServiceUnavailable' });
    expect(extAuthz.include_peer_certificate).toBe(true);
    expect(extAuthz).not.toHaveProperty('with_request_body');
  });

  it("waits longer than claimgate's own Check deadline, so claimgate's error answer arrives first", () => {
    const timeout = durationSeconds(at([...EXT_AUTHZ, 'grpc_service', 'timeout']));
    expect(claimgateDefaults.check_deadline_ms).toBe(150);
    expect(timeout).toBeGreaterThan(claimgateDefaults.check_deadline_ms / 1000);
    expect(timeout).toBeLessThanOrEqual(1);
  });

  it('exempts exactly /healthz from ext_authz, ahead of the catch-all route', () => {
    const exempt = routes.filter((r) => r.typed_per_filter_config !== undefined);
    expect(exempt.map((r) => r.match)).toEqual([{ path: '/healthz' }]);
    expect(at([...ROUTES, 0, 'typed_per_filter_config', 'envoy.filters.http.ext_authz'])).toEqual({
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute',
      disabled: true,
    });
    expect(routes.findIndex((r) => (r.match as Json).path === '/healthz')).toBeLessThan(
      routes.findIndex((r) => (r.match as Json).prefix === '/'),
    );
  });

  it("speaks HTTP/2 to claimgate at claimgate's default gRPC address", () => {
    const cluster = at(CLAIMGATE_CLUSTER) as Json;
    expect(cluster.name).toBe('claimgate');
    const protocolOptions = (cluster.typed_extension_protocol_options as Record<string, Json>)[
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions'
    ];
    expect(protocolOptions).toEqual({
      '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
      explicit_http_config: { http2_protocol_options: {} },
    });
    const socket = at([
      ...CLAIMGATE_CLUSTER,
      'load_assignment',
      'endpoints',
      0,
      'lb_endpoints',
      0,
      'endpoint',
      'address',
      'socket_address',
    ]) as Json;
    expect(`${String(socket.address)}:${String(socket.port_value)}`).toBe(claimgateDefaults.grpc_address);
  });

  it('listens on 0.0.0.0:8080 and keeps the admin interface on loopback', () => {
    expect(at(['static_resources', 'listeners', 0, 'address', 'socket_address'])).toEqual({
      address: '0.0.0.0',
      port_value: 8080,
    });
    expect(at(['admin', 'address', 'socket_address'])).toEqual({ address: '127.0.0.1', port_value: 9901 });
  });

  it('normalises paths before routing and authorising', () => {
    expect(hcm).toMatchObject({
      normalize_path: true,
      merge_slashes: true,
      path_with_escaped_slashes_action: 'REJECT_REQUEST',
    });
  });

  it('refuses header names with underscores (Envoy allows them by default; CGI-style upstreams merge them)', () => {
    expect(hcm).toMatchObject({ common_http_protocol_options: { headers_with_underscores_action: 'REJECT_REQUEST' } });
  });
});
