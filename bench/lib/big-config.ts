/**
 * A large config for reload benchmarks: N issuers (each with its own local JWKS file, so no network)
 * and M routes mixing hosts, prefixes, templates and requirement trees with regexes, as a big
 * multi-tenant deployment would have them.
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BigConfigOptions {
  readonly dir: string;
  readonly issuers: number;
  readonly routes: number;
  /** Lines placed before `issuers:` (server, logging, token_cache, ...). */
  readonly head: readonly string[];
  /** Extra issuers (already YAML list items) placed first, e.g. the one the load run's tokens use. */
  readonly extraIssuers?: readonly string[];
  /** Extra routes placed first. */
  readonly extraRoutes?: readonly string[];
  /** Changes every tenant issuer's settings (clock skew), so a reload to another variant replaces all their key sources. */
  readonly variant?: number;
}

/** Writes one JWKS file per issuer into `dir` (once) and returns the config text. */
export function bigConfigText(o: BigConfigOptions): string {
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
  const lines = [...o.head, 'issuers:', ...(o.extraIssuers ?? [])];
  for (let i = 0; i < o.issuers; i++) {
    const file = join(o.dir, `tenant-${i}.jwks.json`);
    writeFileSync(file, JSON.stringify({ keys: [{ ...jwk, kid: `t${i}-k1`, use: 'sig', alg: 'ES256' }] }));
    lines.push(
      `  - name: tenant-${i}`,
      `    issuer: "https://tenant-${i}.idp.example.com/"`,
      `    audiences: ["api://tenant-${i}", "https://api.example.com"]`,
      '    algorithms: [ES256]',
      `    jwks_file: "${file}"`,
      '    token_type: legacy',
      '    roles_claim: realm_access.roles',
      `    clock_skew_seconds: ${60 + (o.variant ?? 0)}`,
    );
  }
  lines.push('routes:', ...(o.extraRoutes ?? []));
  for (let r = 0; r < o.routes; r++) {
    const tenant = r % o.issuers;
    lines.push(`  - name: route-${r}`);
    switch (r % 4) {
      case 0:
        lines.push(
          `    match: { hosts: ["t${tenant}.example.com", "*.t${tenant}.example.com"], methods: [GET, HEAD], path: { prefix: "/svc-${r}/items" } }`,
          `    require: { all: [ { scope: ["items:read", "svc-${r}:use"] }, { issuer: [tenant-${tenant}] } ] }`,
        );
        break;
      case 1:
        lines.push(
          `    match: { methods: [POST, PUT], path: { template: "/svc-${r}/orders/{id}/lines/{line}" } }`,
          `    require: { any: [ { role: admin }, { permission: "orders:${r}:write" }, { claim: { path: email, regex: '^[^@]+@t${tenant}\\.example\\.com$' } } ] }`,
        );
        break;
      case 2:
        lines.push(`    match: { path: { exact: "/svc-${r}/health" } }`, '    public: true');
        break;
      default:
        lines.push(
          `    match: { path: { prefix: "/Svc-${r}/Admin" }, ignore_case: true }`,
          `    require: { all: [ { role: [admin, "ops-${r}"] }, { not: { claim: { path: suspended, equals: true } } }, { claim: { path: tenant, one_of: [t${tenant}, shared] } } ] }`,
        );
    }
  }
  return `${lines.join('\n')}\n`;
}
