import { readFileSync } from 'node:fs';
import { REASONS, type ReasonInfo } from '../../src/engine/reasons.js';

/** Rows of the catalogue table in docs/reasons.md: code → [outcome, status, bearer error, text]. */
function documentedReasons(): Map<string, string[]> {
  const text = readFileSync(new URL('../../docs/reasons.md', import.meta.url), 'utf8');
  const rows = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^\| `([A-Z_]+)` \| (.+) \|$/.exec(line);
    if (m)
      rows.set(
        m[1]!,
        m[2]!.split(' | ').map((c) => c.replace(/`/g, '').trim()),
      );
  }
  return rows;
}

describe('reason catalogue and docs/reasons.md', () => {
  const documented = documentedReasons();
  const catalogue = Object.entries(REASONS) as [string, ReasonInfo][];

  it('documents every reason the code can give, with the same status, challenge and text', () => {
    for (const [code, info] of catalogue) {
      expect([code, documented.get(code)]).toEqual([
        code,
        [info.outcome, String(info.status), info.bearerError ?? '—', info.title],
      ]);
    }
  });

  it('documents no reason the code does not have', () => {
    const extra = [...documented.keys()].filter((code) => !(code in REASONS));
    expect(extra).toEqual([]);
  });

  it('keeps the catalogue internally consistent', () => {
    for (const [code, info] of catalogue) {
      // OK_ for allows and for documents claimgate answers itself (status 2xx, delivered as a denied_response).
      expect(code.startsWith(info.outcome === 'allow' || info.status < 300 ? 'OK_' : 'ERR_')).toBe(true);
      if (info.outcome === 'error') expect(info.status).toBeGreaterThanOrEqual(500);
      if (info.bearerError === 'invalid_token') expect(info.status).toBe(401);
      if (info.bearerError === 'insufficient_scope') expect(info.status).toBe(403);
      if (info.bearerError === 'invalid_request') expect(info.status).toBe(400);
    }
  });
});
