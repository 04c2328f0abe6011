/**
 * Strict JSON for token segments (RFC 8725 §3.x, RFC 7515 §5.2): valid UTF-8, an object at the top,
 * no duplicate member names at any level, bounded nesting. JSON.parse silently keeps the last of two
 * duplicate names, which lets two parsers read one token differently, so duplicates are found first.
 */

// ignoreBOM keeps a leading U+FEFF in the text (the default strips it silently), so the scanner
// rejects it: a byte-order mark is not part of JSON text (RFC 8259 §8.1).
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A JSON literal or number; longer numbers than MAX_LITERAL_CHARS are refused (bounded work). */
const LITERAL = /true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const MAX_LITERAL_CHARS = 400;

export type StrictJsonResult = { ok: true; value: Record<string, unknown> } | { ok: false; problem: string };

class Scanner {
  private i = 0;
  constructor(
    private readonly s: string,
    private readonly maxDepth: number,
  ) {}

  run(): string | undefined {
    this.ws();
    if (this.s.charCodeAt(this.i) !== 0x7b) return 'not a JSON object';
    const problem = this.value(0);
    if (problem) return problem;
    this.ws();
    return this.i === this.s.length ? undefined : 'trailing data after JSON';
  }

  private ws(): void {
    for (;;) {
      const c = this.s.charCodeAt(this.i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.i++;
      else return;
    }
  }

  private value(depth: number): string | undefined {
    if (depth > this.maxDepth) return 'JSON nested too deeply';
    const c = this.s.charCodeAt(this.i);
    if (c === 0x7b) return this.object(depth + 1);
    if (c === 0x5b) return this.array(depth + 1);
    if (c === 0x22) return this.string() === undefined ? 'bad JSON string' : undefined;
    // Sticky: matches at this.i without copying the rest of the input.
    LITERAL.lastIndex = this.i;
    const literal = LITERAL.exec(this.s);
    if (!literal || literal[0].length > MAX_LITERAL_CHARS) return 'bad JSON value';
    this.i += literal[0].length;
    return undefined;
  }

  private object(depth: number): string | undefined {
    this.i++;
    const names = new Set<string>();
    this.ws();
    if (this.s.charCodeAt(this.i) === 0x7d) {
      this.i++;
      return undefined;
    }
    for (;;) {
      this.ws();
      if (this.s.charCodeAt(this.i) !== 0x22) return 'bad JSON member name';
      const name = this.string();
      if (name === undefined) return 'bad JSON member name';
      if (names.has(name)) return 'duplicate JSON member name';
      names.add(name);
      this.ws();
      if (this.s.charCodeAt(this.i) !== 0x3a) return 'expected : in JSON object';
      this.i++;
      this.ws();
      const problem = this.value(depth);
      if (problem) return problem;
      this.ws();
      const c = this.s.charCodeAt(this.i++);
      if (c === 0x7d) return undefined;
      if (c !== 0x2c) return 'expected , or } in JSON object';
    }
  }

  private array(depth: number): string | undefined {
    this.i++;
    this.ws();
    if (this.s.charCodeAt(this.i) === 0x5d) {
      this.i++;
      return undefined;
    }
    for (;;) {
      this.ws();
      const problem = this.value(depth);
      if (problem) return problem;
      this.ws();
      const c = this.s.charCodeAt(this.i++);
      if (c === 0x5d) return undefined;
      if (c !== 0x2c) return 'expected , or ] in JSON array';
    }
  }

  /** Reads a string literal and returns its decoded value (needed to compare member names). */
  private string(): string | undefined {
    const start = this.i;
    this.i++;
    let escaped = false;
    for (; this.i < this.s.length; this.i++) {
      const c = this.s.charCodeAt(this.i);
      if (c < 0x20) return undefined;
      if (c === 0x5c) {
        escaped = true;
        this.i++;
      } else if (c === 0x22) {
        const raw = this.s.slice(start, ++this.i);
        if (!escaped) return raw.slice(1, -1);
        try {
          return JSON.parse(raw) as string;
        } catch {
          return undefined;
        }
      }
    }
    return undefined;
  }
}

/** Decodes bytes as a strict JSON object. Never throws. */
export function parseStrictJsonObject(bytes: Uint8Array, maxDepth: number): StrictJsonResult {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return { ok: false, problem: 'not valid UTF-8' };
  }
  const problem = new Scanner(text, maxDepth).run();
  if (problem) return { ok: false, problem };
  try {
    return { ok: true, value: JSON.parse(text) as Record<string, unknown> };
  } catch {
    return { ok: false, problem: 'not valid JSON' };
  }
}
