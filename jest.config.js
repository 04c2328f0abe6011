/**
 * ESM + ts-jest: jose 6 is ESM-only, so the suite runs as native ES modules.
 * Two projects: `unit` runs in-process only (loopback servers inside the test process included) and takes
 * seconds; `system` runs real external programs and child processes: nginx, Caddy, Prometheus, kubectl,
 * docker-compose, h2load, openssl, dist/cli.js, worker processes, the real oidc-provider, `npm pack`.
 * A new test file is a unit test unless listed here.
 */
const SYSTEM_TESTS = [
  'test/bench/quick.test.ts', // h2load against a claimgate child process
  'test/cli/cli.test.ts', // dist/cli.js as a child process
  'test/config/config-file.test.ts', // the built reader thread (dist/validation/config-file-worker.js)
  'test/config/docs-snippets.test.ts', // the guides' commands against oidc-provider
  'test/deploy/compose.test.ts', // docker-compose
  'test/deploy/kubernetes.test.ts', // kubectl kustomize
  'test/deploy/package.test.ts', // npm pack, npm install, the packed CLI
  'test/hardening/listener-bounds.test.ts', // the built server as a child process, 10,000 streams
  'test/http/front-door.test.ts', // oidc-provider
  'test/http/proxies.test.ts', // nginx, Caddy, oidc-provider
  'test/inspect/', // oidc-provider
  'test/integration/', // oidc-provider
  'test/net/tls.test.ts', // openssl
  'test/binding/certificate.test.ts', // openssl
  'test/ops/log-buffer.test.ts', // a child process writing into an unread pipe
  'test/ops/prometheus.test.ts', // Prometheus, promtool
  'test/ops/reload-fifo-keys.test.ts', // mkfifo
  'test/ops/reload-signals.test.ts', // signals to a child process
  'test/ops/shutdown.test.ts', // SIGTERM to a child process
  'test/ops/workers.test.ts', // cluster workers
  'test/scripts/', // the test setup scripts, run as child processes
];

const shared = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
};
const systemPaths = SYSTEM_TESTS.map((p) => `<rootDir>/${p}`);

export default {
  testTimeout: 30000,
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', ...systemPaths],
    },
    {
      ...shared,
      displayName: 'system',
      testMatch: systemPaths.map((p) => (p.endsWith('/') ? `${p}**/*.test.ts` : p)),
    },
  ],
};
