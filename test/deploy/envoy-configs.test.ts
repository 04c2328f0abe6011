/**
 * Every Envoy config in the repo loads as an `envoy.config.bootstrap.v3.Bootstrap` with Envoy's
 * official protos (the strict checker in test/support), and the compose copy stays in step with the
 * top-level envoy.yaml: only the backends' addressing (and claimgate's health checks) may differ. The
 * mTLS variant (deploy/envoy/envoy-mtls.yaml) is envoy.yaml plus a TLS transport socket on the
 * claimgate cluster, and that socket really is mutual TLS with a pinned server identity.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { checkEnvoyConfig } from '../support/envoy-bootstrap-check.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SKIP_DIRS = new Set(['node_modules', '.git', 'dist', '.tmp', 'coverage']);

type Json = Record<string, unknown>;

/** YAML/JSON files in the repo whose top level looks like an Envoy bootstrap. */
function envoyConfigs(dir = ROOT): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (SKIP_DIRS.has(entry)) continue;
    const file = path.join(dir, entry);
    if (statSync(file).isDirectory()) found.push(...envoyConfigs(file));
    else if (/\.(ya?ml|json)$/.test(entry)) {
      const text = readFileSync(file, 'utf8');
      if (
        !/^(static_resources|dynamic_resources|"static_resources")\s*:/m.test(text) &&
        !/"static_resources"\s*:/.test(text)
      )
        continue;
      let doc: unknown;
      try {
        doc = parse(text);
      } catch {
        found.push(path.relative(ROOT, file)); // unparsable: let the checker report it
        continue;
      }
      if (doc !== null && typeof doc === 'object' && ('static_resources' in doc || 'dynamic_resources' in doc))
        found.push(path.relative(ROOT, file));
    }
  }
  return found.sort();
}

const CONFIGS = envoyConfigs();
const load = (file: string) => parse(readFileSync(path.join(ROOT, file), 'utf8')) as Json;

describe('every Envoy config in the repo', () => {
  it('includes the top-level and the compose bootstrap (the search is not vacuous)', () => {
    expect(CONFIGS).toEqual(
      expect.arrayContaining(['envoy.yaml', 'deploy/compose/envoy.yaml', 'deploy/envoy/envoy-mtls.yaml']),
    );
  });

  it.each(CONFIGS)('%s loads as a v3 Bootstrap with the official protos', (file) => {
    expect(checkEnvoyConfig(readFileSync(path.join(ROOT, file), 'utf8'))).toEqual([]);
  });

  it('the checker is strict about the compose copy too (a misspelt field is reported)', () => {
    const text = readFileSync(path.join(ROOT, 'deploy/compose/envoy.yaml'), 'utf8').replace(
      'dns_refresh_rate:',
      'dns_refresh_rat:',
    );
    expect(checkEnvoyConfig(text).join('\n')).toMatch(/unknown field "dns_refresh_rat"/);
  });
});

describe('deploy/compose/envoy.yaml stays in step with envoy.yaml', () => {
  const top = load('envoy.yaml');
  const compose = load('deploy/compose/envoy.yaml');
  const clusters = (c: Json) =>
    Object.fromEntries(((c.static_resources as Json).clusters as Json[]).map((x) => [x.name as string, x]));

  it('has the same listener (filters, routes, ext_authz settings) and admin', () => {
    expect((compose.static_resources as Json).listeners).toEqual((top.static_resources as Json).listeners);
    expect(compose.admin).toEqual(top.admin);
  });

  it('resolves the backends by compose service name, every replica of claimgate', () => {
    const t = clusters(top);
    const c = clusters(compose);
    expect(Object.keys(c).sort()).toEqual(Object.keys(t).sort());
    for (const name of Object.keys(c)) {
      expect(c[name]!.type).toBe('STRICT_DNS');
      expect(c[name]!.connect_timeout).toBe(t[name]!.connect_timeout);
      expect(c[name]!.typed_extension_protocol_options).toEqual(t[name]!.typed_extension_protocol_options);
    }
    const address = (cluster: Json) =>
      (
        ((((cluster.load_assignment as Json).endpoints as Json[])[0]!.lb_endpoints as Json[])[0]!.endpoint as Json)
          .address as Json
      ).socket_address as Json;
    expect(address(c.claimgate!)).toEqual({ address: 'claimgate', port_value: address(t.claimgate!).port_value });
    expect(address(c.upstream_api!)).toEqual({ address: 'api', port_value: address(t.upstream_api!).port_value });
  });

  it('health-checks claimgate over grpc.health.v1 for the ext_authz service, so draining replicas leave the pool', () => {
    const hc = (clusters(compose).claimgate!.health_checks as Json[])[0]!;
    expect(hc.grpc_health_check).toEqual({ service_name: 'envoy.service.auth.v3.Authorization' });
  });
});

describe('deploy/envoy/envoy-mtls.yaml: envoy.yaml with mutual TLS to claimgate', () => {
  const top = load('envoy.yaml');
  const mtls = load('deploy/envoy/envoy-mtls.yaml');
  const clusters = (c: Json) =>
    Object.fromEntries(((c.static_resources as Json).clusters as Json[]).map((x) => [x.name as string, x]));
  const socket = clusters(mtls).claimgate!.transport_socket as Json;
  const context = (socket?.typed_config ?? {}) as Json;
  const common = (context.common_tls_context ?? {}) as Json;

  it("is envoy.yaml apart from the claimgate cluster's transport socket", () => {
    const { transport_socket: _socket, ...rest } = clusters(mtls).claimgate!;
    expect(rest).toEqual(clusters(top).claimgate);
    expect(clusters(mtls).upstream_api).toEqual(clusters(top).upstream_api);
    expect(Object.keys(clusters(mtls)).sort()).toEqual(Object.keys(clusters(top)).sort());
    expect((mtls.static_resources as Json).listeners).toEqual((top.static_resources as Json).listeners);
    expect(mtls.admin).toEqual(top.admin);
    expect(clusters(top).claimgate!.transport_socket).toBeUndefined(); // the demo's envoy.yaml stays cleartext
  });

  it('uses the TLS transport socket with an UpstreamTlsContext, SNI and ALPN h2 (gRPC)', () => {
    expect(socket.name).toBe('envoy.transport_sockets.tls');
    expect(context['@type']).toBe('type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext');
    expect(context.sni).toEqual(expect.any(String));
    expect(common.alpn_protocols).toEqual(['h2']);
  });

  it('presents a client certificate and key from files', () => {
    expect(common.tls_certificates).toEqual([
      {
        certificate_chain: { filename: expect.stringMatching(/^\//) },
        private_key: { filename: expect.stringMatching(/^\//) },
      },
    ]);
  });

  it("trusts only claimgate's CA and pins claimgate's identity by SAN", () => {
    const validation = common.validation_context as Json;
    expect(validation.trusted_ca).toEqual({ filename: expect.stringMatching(/^\//) });
    expect(validation.match_typed_subject_alt_names).toEqual([
      { san_type: 'URI', matcher: { exact: expect.stringMatching(/^spiffe:\/\//) } },
    ]);
  });

  it('the checker walks into the TLS context (a misspelt field there is reported)', () => {
    const text = readFileSync(path.join(ROOT, 'deploy/envoy/envoy-mtls.yaml'), 'utf8').replace(
      'match_typed_subject_alt_names:',
      'match_typed_subject_alt_name:',
    );
    expect(checkEnvoyConfig(text).join('\n')).toMatch(/unknown field "match_typed_subject_alt_name"/);
  });
});
