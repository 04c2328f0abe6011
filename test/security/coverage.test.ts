/**
 * The acceptance rule "every principle in SECURITY.md has at least one test that would fail if it
 * were broken", made mechanical: one `describe('P<n> …')` per principle in test/security/, each with
 * tests, no focused or skipped tests, and a row per principle in docs/security-principles.md.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));
const PRINCIPLES = 20;

const files = readdirSync(here).filter((f) => f.endsWith('.test.ts') && f !== 'coverage.test.ts');
const sources = new Map(files.map((f) => [f, readFileSync(`${here}${f}`, 'utf8')]));

/** Top-level principle blocks: `describe('P7 …', () => {` up to the next one (or end of file). */
function principleBlocks(): Map<number, string[]> {
  const blocks = new Map<number, string[]>();
  for (const text of sources.values()) {
    const starts = [...text.matchAll(/^describe\('P(\d+) [^']+'/gm)];
    starts.forEach((m, i) => {
      const n = Number(m[1]);
      const body = text.slice(m.index, starts[i + 1]?.index ?? text.length);
      blocks.set(n, [...(blocks.get(n) ?? []), body]);
    });
  }
  return blocks;
}

describe('security principle coverage', () => {
  it('SECURITY.md has the 20 principles these tests are numbered after', () => {
    const candidates = [`${root}SECURITY.md`, `${root}../shared/SECURITY.md`, `${root}docs/SECURITY.md`];
    const text = candidates
      .map((p) => {
        try {
          return readFileSync(p, 'utf8');
        } catch {
          return undefined;
        }
      })
      .find((t) => t !== undefined);
    if (text === undefined) return; // the principles file lives outside this repository on some machines
    // The first fifteen are a numbered list (`1. **…`), the later ones bullets (`- **P16. …`).
    const numbered = [...text.matchAll(/^(?:(\d+)\. \*\*|- \*\*P(\d+)\. )/gm)].map((m) => Number(m[1] ?? m[2]));
    expect(numbered).toEqual(Array.from({ length: PRINCIPLES }, (_, i) => i + 1));
  });

  it('every principle has exactly one describe block, and it contains tests', () => {
    const blocks = principleBlocks();
    for (let n = 1; n <= PRINCIPLES; n++) {
      const found = blocks.get(n) ?? [];
      expect([n, found.length]).toEqual([n, 1]);
      const tests = (found[0]!.match(/\bit(\.each\([\s\S]*?\))?\(/g) ?? []).length;
      expect([n, tests > 0]).toEqual([n, true]);
    }
    expect([...blocks.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: PRINCIPLES }, (_, i) => i + 1));
  });

  it('no focused, skipped or todo tests in test/security', () => {
    for (const [file, text] of sources) {
      expect([
        file,
        /\b(?:it|test|describe)\.(?:only|skip|todo|failing)\b|\b(?:xit|xdescribe|fit|fdescribe)\(/.test(text),
      ]).toEqual([file, false]);
    }
  });

  it('docs/security-principles.md has one row per principle, each naming its tests', () => {
    const doc = readFileSync(`${root}docs/security-principles.md`, 'utf8');
    for (let n = 1; n <= PRINCIPLES; n++) {
      const row = doc.split('\n').find((l) => l.startsWith(`| ${n} |`));
      expect([n, row !== undefined]).toEqual([n, true]);
      expect(row).toContain(`P${n} `);
      expect(row).toMatch(/`src\//);
    }
  });
});
