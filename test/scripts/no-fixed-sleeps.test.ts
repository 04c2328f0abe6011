/**
 * No test sleeps for time to pass: timing is driven by an injected clock/timer (test/keys/fake-clock.ts,
 * ClaimgateOptions.setTimer and nowMs), and waiting for something happens through the one bounded poll in
 * test/support/wait.ts. This guard parses every test/**\/*.ts and fails on a timer-based sleep anywhere
 * else: a setTimeout whose callback resolves the promise around it, `timers/promises`, or setTimeout
 * handed on as a value (`promisify(setTimeout)`). A timer that does something when it fires (a watchdog
 * killing a child, a fake server answering late, a timeout rejecting) is not a sleep and is allowed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TEST_DIR = join(ROOT, 'test');
/** The only file allowed to pause: the shared bounded poll. */
const WAIT_HELPER = 'test/support/wait.ts';

interface Finding {
  readonly file: string;
  readonly line: number;
  readonly why: string;
}

const TIMER_NAMES = new Set(['setTimeout', 'setInterval']);

/** `setTimeout` for `setTimeout(…)` and `globalThis.setTimeout(…)`. */
function timerName(callee: ts.Expression): string | undefined {
  const name = ts.isPropertyAccessExpression(callee) ? callee.name : callee;
  return ts.isIdentifier(name) && TIMER_NAMES.has(name.text) ? name.text : undefined;
}

/** The identifier a promise executor resolves with: `new Promise((resolve) => …)`. */
function resolverOf(node: ts.Node): string | undefined {
  if (!ts.isArrowFunction(node) && !ts.isFunctionExpression(node)) return undefined;
  const parent = node.parent;
  if (!ts.isNewExpression(parent) || parent.arguments?.[0] !== node) return undefined;
  if (!ts.isIdentifier(parent.expression) || parent.expression.text !== 'Promise') return undefined;
  const first = node.parameters[0]?.name;
  return first !== undefined && ts.isIdentifier(first) ? first.text : undefined;
}

/** Resolvers of the promises enclosing `node`. */
function enclosingResolvers(node: ts.Node): Set<string> {
  const names = new Set<string>();
  for (let n: ts.Node | undefined = node.parent; n !== undefined; n = n.parent) {
    const name = resolverOf(n);
    if (name !== undefined) names.add(name);
  }
  return names;
}

/** Does the timer callback resolve one of `resolvers` (passed itself, or called in the callback's body)? */
function resolvesPromise(callback: ts.Expression, resolvers: Set<string>): boolean {
  if (ts.isIdentifier(callback)) return resolvers.has(callback.text);
  let found = false;
  const visit = (n: ts.Node): void => {
    if (ts.isCallExpression(n) && ts.isIdentifier(n.expression) && resolvers.has(n.expression.text)) found = true;
    if (!found) ts.forEachChild(n, visit);
  };
  visit(callback);
  return found;
}

/** Timer-based sleeps in one file's text. */
export function findFixedSleeps(file: string, text: string): Finding[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const findings: Finding[] = [];
  const report = (node: ts.Node, why: string) =>
    findings.push({ file, line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1, why });
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier !== undefined &&
      ts.isStringLiteral(node.moduleSpecifier) &&
      /^(node:)?timers\/promises$/.test(node.moduleSpecifier.text)
    )
      report(node, 'imports timers/promises (a promise that resolves after a delay)');
    const timer = ts.isCallExpression(node) ? timerName(node.expression) : undefined;
    if (ts.isCallExpression(node) && timer !== undefined) {
      const callback = node.arguments[0];
      if (callback !== undefined && resolvesPromise(callback, enclosingResolvers(node)))
        report(node, `${timer} resolving a promise: a sleep`);
    } else if (ts.isIdentifier(node) && TIMER_NAMES.has(node.text) && !ts.isImportSpecifier(node.parent)) {
      // A timer as a value (promisify(setTimeout), const delay = setTimeout) hides the sleep elsewhere.
      const expression = ts.isPropertyAccessExpression(node.parent) && node.parent.name === node ? node.parent : node;
      const called = ts.isCallExpression(expression.parent) && expression.parent.expression === expression;
      if (!called) report(node, `${node.text} passed on as a value`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return findings;
}

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('no fixed sleeps in tests', () => {
  it('finds no timer-based sleep in test/ outside test/support/wait.ts', () => {
    const files = testFiles(TEST_DIR).map((path) => relative(ROOT, path));
    expect(files).toContain(WAIT_HELPER);
    expect(files.length).toBeGreaterThan(100);
    const findings = files
      .filter((file) => file !== WAIT_HELPER)
      .flatMap((file) => findFixedSleeps(file, readFileSync(join(ROOT, file), 'utf8')));
    expect(findings.map((f) => `${f.file}:${f.line}: ${f.why}`)).toEqual([]);
  });

  it('recognises the forms a sleep takes', () => {
    const sleeps = [
      'await new Promise((r) => setTimeout(r, 100));',
      'const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));',
      'await new Promise<void>(function (done) { setTimeout(() => done(), 50); });',
      'await new Promise((resolve) => { const t = setTimeout(() => { resolve(undefined); }, 10); });',
      'await new Promise((ok) => setInterval(ok, 10));',
      "import { setTimeout as delay } from 'node:timers/promises';",
      "import { setTimeout } from 'timers/promises';",
      'const delay = promisify(setTimeout);',
      'await new Promise((r) => globalThis.setTimeout(r, 100));',
    ];
    for (const text of sleeps) expect([text, findFixedSleeps('x.ts', text).length]).toEqual([text, 1]);
    expect(findFixedSleeps('x.ts', '\n\nawait new Promise((r) => setTimeout(r, 1));')).toEqual([
      { file: 'x.ts', line: 3, why: 'setTimeout resolving a promise: a sleep' },
    ]);
  });

  it('allows timers that act when they fire: watchdogs, late answers of fake servers, timeouts that reject', () => {
    const allowed = [
      "const watchdog = setTimeout(() => child.kill('SIGKILL'), 25_000);",
      'if (delayMs > 0) setTimeout(send, delayMs);',
      "new Promise((resolve, reject) => { const t = setTimeout(() => reject(new Error('late')), 1000); });",
      'clearTimeout(timer);',
      'await new Promise((r) => setImmediate(r));',
      'const handle = globalThis.setTimeout(() => server.close(), 10);',
    ];
    for (const text of allowed) expect([text, findFixedSleeps('x.ts', text)]).toEqual([text, []]);
  });
});
