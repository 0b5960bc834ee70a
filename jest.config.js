// Test tiers (docs/architecture.md, "Tests"): each is a jest project, all run by `npm test`.
//   unit       pure parsers over captured /proc text in fixtures/, error mapping, nock Docker API paths
//   binding    the native addon against real lock holders, real PID namespaces, the pidfd reuse race
//   ns         the library and CLI across real PID namespaces (unshare), every lock kind
//   cli        the built binary as a subprocess: help, exit codes, --json
//   container  real Docker engine via testcontainers, images built locally (no pulls)
//   packaging  npm pack into a temp prefix and a fresh TypeScript consumer; the .deb (lintian, then apt
//              into a debootstrapped bookworm root cached in build/cache/); the man page
//   bench      `npm run bench -- --smoke`: every measurement still runs (figures not asserted)
//   safety     attacks and faults: real unprivileged users, full filesystems, SIGKILLed supervisors
//   sidecar    signal dispositions, exit status, reload, serve (real inotify, nginx, HTTP, Docker)
//   daemons    real Debian daemons (scripts/setup-daemons.sh) started as their init scripts do
// Dependencies that ship only ES modules: nock >= 15.0.1 and the modules it loads (compiled to
// CommonJS by test/helpers/esm-to-cjs.js; docs/architecture.md, "Why each dependency").
const ESM_ONLY = ['nock', '@mswjs/interceptors', '@open-draft/until', 'rettime']

const tier = (name, extra = {}) => ({
  displayName: name,
  testMatch: [`<rootDir>/test/${name}/**/*.test.ts`],
  transform: {
    '^.+\\.ts$': ['ts-jest', {tsconfig: {module: 'commonjs', isolatedModules: true}}],
    // ESM-only dependencies compiled to CommonJS for jest's module system (works on Node 22 too).
    [`/node_modules/(${ESM_ONLY.join('|')})/.+\\.m?js$`]: '<rootDir>/test/helpers/esm-to-cjs.js',
  },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_ONLY.join('|')})/)`],
  testEnvironment: 'node',
  setupFiles: ['<rootDir>/test/helpers/console.js'],
  ...extra,
})

module.exports = {
  projects: [
    tier('unit'),
    tier('binding'),
    tier('ns'),
    tier('cli'),
    tier('container'),
    tier('packaging'),
    tier('bench'),
    tier('safety'),
    tier('sidecar'),
    tier('runtime'),
    tier('daemons', {globalSetup: '<rootDir>/test/daemons/helpers/global-setup.js'}),
  ],
  testTimeout: 60000,
  // The run's own cgroup (test/helpers/jest-cgroup.js): what `nslocate run` makes for the tests goes with it.
  globalSetup: '<rootDir>/test/helpers/jest-global-setup.js',
  globalTeardown: '<rootDir>/test/helpers/jest-global-teardown.js',
}
