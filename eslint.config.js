/**
 * ESLint (flat config) with typescript-eslint's type-checked rules. The set is chosen for bugs the
 * compiler does not catch: promises nobody awaits or that land where a void callback is expected
 * (an unhandled rejection or a handler that never answers is a fail-open risk for a gate), awaiting
 * non-promises, and unsafe `any` flowing out of parsed input. Formatting is prettier's job.
 */
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'dist-bench/', 'coverage/', '.tmp/', 'node_modules/', 'bench/results/', 'test/fixtures/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
      // test/support/oidc-provider.ts pulls in an ambient module declaration the package does not ship.
      '@typescript-eslint/triple-slash-reference': ['error', { path: 'always', types: 'never', lib: 'never' }],
      '@typescript-eslint/no-import-type-side-effects': 'error',
      // A `let` read by a closure before its one assignment (a server handler set up before the server) stays `let`.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      // An async function that implements a Promise-returning contract need not await anything.
      '@typescript-eslint/require-await': 'off',
      // Header and token checks match control characters on purpose (CR, LF, NUL, C0, DEL).
      'no-control-regex': 'off',
    },
  },
  {
    // Tests read parsed JSON and foreign responses as `any` on purpose; their assertions are the check.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // The wire and security suites are frozen (only imports change): they throw non-Errors and keep
    // type assertions on purpose, as the attacker-shaped inputs they describe, and destructure their
    // harness objects (whose callbacks are declared as methods but never use `this`).
    files: ['test/security/**/*.ts', 'test/envoy/wire.test.ts'],
    rules: {
      '@typescript-eslint/only-throw-error': 'off',
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      '@typescript-eslint/no-redundant-type-constituents': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    // Plain JavaScript (scripts, configs, the compose echo server) is linted without type information.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly', module: 'writable' },
    },
  },
);
