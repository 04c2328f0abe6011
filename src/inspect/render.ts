/** `issuer inspect` report → what a person reads: findings, keys, the sample token, the block, what is missing. */
import { stringify } from 'yaml';
import type { InspectReport, Severity } from './inspect-issuer.js';

const MARK: Record<Severity, string> = { ok: 'ok  ', info: 'info', warning: 'WARN', error: 'FAIL' };

export function renderInspectReport(report: InspectReport): string[] {
  const lines = [`issuer inspect ${report.url}`, ''];
  for (const f of report.findings) lines.push(`  [${MARK[f.severity]}] ${f.message}`);
  if (report.keys.length > 0) {
    lines.push('', 'keys:');
    for (const k of report.keys)
      lines.push(
        `  ${k.kid ?? '(no kid)'}: ${k.kty ?? '?'} ${k.size ?? ''}, alg ${k.alg ?? '-'}, use ${k.use ?? '-'} → ` +
          (k.usable ? 'usable' : `skipped (${k.skipped})`),
      );
  }
  const t = report.token;
  if (t !== undefined) {
    lines.push('', 'sample token:');
    lines.push(`  header: alg ${t.alg}, typ ${t.typ ?? '(none)'}, kid ${t.kid ?? '(none)'}`);
    lines.push(`  iss ${JSON.stringify(t.iss)}, aud ${JSON.stringify(t.aud)}, sub ${JSON.stringify(t.sub)}`);
    if (t.expiresAt) lines.push(`  expires ${t.expiresAt}`);
    const s = t.shape;
    if (s?.scopes) lines.push(`  scopes (${s.scopes.claim}): ${s.scopes.values.join(' ')}`);
    if (s?.permissions) lines.push(`  permissions (${s.permissions.claim}): ${s.permissions.values.join(' ')}`);
    if (s?.roles) lines.push(`  roles (${s.roles.claim}): ${s.roles.values.join(' ')}`);
    if (s) lines.push(`  looks like: ${s.provider}${s.because.length ? ` (${s.because.join('; ')})` : ''}`);
    if (t.verification) lines.push(`  verification: ${t.verification}`);
  }
  if (report.issuerBlock !== undefined) {
    lines.push('', 'issuer block for the config (under issuers:):', '');
    for (const l of stringify([report.issuerBlock]).trimEnd().split('\n')) lines.push(`  ${l}`);
  }
  if (report.missing.length > 0) {
    lines.push('', 'still missing:');
    for (const m of report.missing) lines.push(`  - ${m}`);
  }
  return lines;
}

export function hasErrors(report: InspectReport): boolean {
  return report.findings.some((f) => f.severity === 'error');
}
