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

/**
 * A JSON number that a double cannot hold exactly enough to tell it apart from its neighbours: an
 * integer beyond ±(2^53 − 1), or more than 15 significant digits, or out of the double's normal range.
 * `JSON.parse` would round it (three 19-digit user ids becoming one), so the parser keeps the text
 * instead (P17). Checks never find it equal to a configured value; forwarding sends `text` as written.
 */
export class InexactNumber {
  constructor(readonly text: string) {
    Object.freeze(this);
  }
}

/** Significant digits a decimal may have and still map to a double no other such decimal maps to (DBL_DIG). */
const EXACT_DIGITS = 15;
const NUMBER_PARTS = /^-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/** Whether a JSON number literal survives `JSON.parse` without being confused with another number. */
export function isExactNumberLiteral(literal: string): boolean {
  const m = NUMBER_PARTS.exec(literal);
  if (!m) return false;
  const value = Number(literal);
  if (!Number.isFinite(value)) return false;
  if (m[2] === undefined && m[3] === undefined) return Number.isSafeInteger(value);
  const digits = `${m[1]}${m[2] ?? ''}`.replace(/^0+/, '').replace(/0+$/, '');
  if (digits.length === 0) return true; // zero, however written
  if (Number.isInteger(value) && !Number.isSafeInteger(value)) return false;
  // Underflow to zero or into subnormals loses digits too.
  return digits.length <= EXACT_DIGITS && Math.abs(value) >= Number.MIN_VALUE * 2 ** 52;
}

export type StrictJsonResult = { ok: true; value: Record<string, unknown> } | { ok: false; problem: string };

class Scanner {
  private i = 0;
  /** Start offsets of number literals that are not exact (see InexactNumber). */
  readonly inexact = new Set<number>();
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
    const first = literal[0].charCodeAt(0);
    if ((first === 0x2d || (first >= 0x30 && first <= 0x39)) && !isExactNumberLiteral(literal[0]))
      this.inexact.add(this.i);
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
      if (c === 0x5c) ((escaped = true), this.i++);
      else if (c === 0x22) {
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
  const scanner = new Scanner(text, maxDepth);
  const problem = scanner.run();
  if (problem) return { ok: false, problem };
  try {
    if (scanner.inexact.size > 0) return { ok: true, value: new Builder(text, scanner.inexact).build() };
    return { ok: true, value: JSON.parse(text) as Record<string, unknown> };
  } catch {
    return { ok: false, problem: 'not valid JSON' };
  }
}

/**
 * Builds the value of text the Scanner already accepted, as `JSON.parse` would (members are own data
 * properties, `__proto__` included), except that inexact numbers become InexactNumber. Only tokens
 * that carry such numbers take this path; the rest use the native parser.
 */
class Builder {
  private i = 0;
  constructor(
    private readonly s: string,
    private readonly inexact: ReadonlySet<number>,
  ) {}

  build(): Record<string, unknown> {
    return this.value() as Record<string, unknown>;
  }

  private ws(): void {
    while (/[ \t\n\r]/.test(this.s.charAt(this.i))) this.i++;
  }

  private value(): unknown {
    this.ws();
    const c = this.s.charAt(this.i);
    if (c === '{') {
      this.i++;
      const out: Record<string, unknown> = {};
      this.ws();
      if (this.s.charAt(this.i) === '}') return (this.i++, out);
      for (;;) {
        this.ws();
        const name = this.string();
        this.ws();
        this.i++; // ':'
        Object.defineProperty(out, name, { value: this.value(), writable: true, enumerable: true, configurable: true });
        this.ws();
        if (this.s.charAt(this.i++) === '}') return out;
      }
    }
    if (c === '[') {
      this.i++;
      const out: unknown[] = [];
      this.ws();
      if (this.s.charAt(this.i) === ']') return (this.i++, out);
      for (;;) {
        out.push(this.value());
        this.ws();
        if (this.s.charAt(this.i++) === ']') return out;
      }
    }
    if (c === '"') return this.string();
    LITERAL.lastIndex = this.i;
    const literal = LITERAL.exec(this.s)![0];
    const start = this.i;
    this.i += literal.length;
    return this.inexact.has(start) ? new InexactNumber(literal) : (JSON.parse(literal) as unknown);
  }

  private string(): string {
    const start = this.i++;
    for (; this.s.charAt(this.i) !== '"'; this.i++) if (this.s.charAt(this.i) === '\\') this.i++;
    return JSON.parse(this.s.slice(start, ++this.i)) as string;
  }
}
