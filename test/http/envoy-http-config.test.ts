/**
 * The Envoy HTTP-service-mode bootstrap in docs/proxies.md, checked offline against Envoy's official
 * protos (no Envoy binary exists here), and held to the adapter's contract: the prefix is claimgate's
 * default, every owned header of the suites is an allowed upstream header (overwrite, never append),
 * failure_mode_allow is off and errors answer 503.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { HTTP_DEFAULTS } from '../../src/http/server.js';
import { checkEnvoyConfig } from '../support/envoy-bootstrap-check.js';
import { OWNED } from './support.js';

const doc = readFileSync(new URL('../../docs/proxies.md', import.meta.url), 'utf8');
const marker = doc.indexOf('<!-- envoy-http-bootstrap -->');
const block = /```yaml\n([\s\S]*?)\n```/.exec(doc.slice(marker))?.[1];

interface ExtAuthzHttp {
  failure_mode_allow?: boolean;
  status_on_error?: { code?: string };
  http_service?: {
    path_prefix?: string;
    server_uri?: { uri?: string };
    authorization_response?: {
      allowed_upstream_headers?: { patterns?: { exact?: string }[] };
      allowed_upstream_headers_to_append?: unknown;
    };
  };
}

function extAuthz(yamlText: string): ExtAuthzHttp {
  const root = parse(yamlText) as {
    static_resources: {
      listeners: {
        filter_chains: {
          filters: { typed_config: { http_filters: { name: string; typed_config: ExtAuthzHttp }[] } }[];
        }[];
      }[];
    };
  };
  const filters = root.static_resources.listeners[0]?.filter_chains[0]?.filters[0]?.typed_config.http_filters ?? [];
  const found = filters.find((f) => f.name === 'envoy.filters.http.ext_authz');
  if (!found) throw new Error('no ext_authz filter in the docs bootstrap');
  return found.typed_config;
}

test('docs/proxies.md has the Envoy HTTP bootstrap block', () => {
  expect(marker).toBeGreaterThan(-1);
  expect(block).toBeDefined();
});

test('it is a valid Envoy v3 bootstrap by the official protos', () => {
  expect(checkEnvoyConfig(block ?? '')).toEqual([]);
});

test('it matches the adapter contract', () => {
  const cfg = extAuthz(block ?? '');
  expect(cfg.failure_mode_allow).toBe(false);
  expect(cfg.status_on_error?.code).toBe('ServiceUnavailable');
  expect(cfg.http_service?.path_prefix).toBe(HTTP_DEFAULTS.envoyPathPrefix);
  expect(cfg.http_service?.server_uri?.uri).toBe(`http://${HTTP_DEFAULTS.address}`);
  const allowed = (cfg.http_service?.authorization_response?.allowed_upstream_headers?.patterns ?? []).map(
    (p) => p.exact,
  );
  expect(allowed.sort()).toEqual([...OWNED].sort());
  expect(cfg.http_service?.authorization_response?.allowed_upstream_headers_to_append).toBeUndefined();
});
