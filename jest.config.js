// Test tiers (docs/architecture.md, "Tests"): each is a jest project, all run by `npm test`.
//   unit       pure parsers over captured /proc text in fixtures/, error mapping, nock Docker API paths
//   binding    the native addon against real lock holders, real PID namespaces, the pidfd reuse race
//   ns         the library and CLI across real PID namespaces (unshare), every lock kind
//   cli        the built binary as a subprocess: help, exit codes, --json
//   container  real Docker engine via testcontainers, images built locally (no pulls)
//   packaging  npm pack into a temp prefix, the .deb, the man page
//   bench      `npm run bench -- --smoke`: every measurement still runs (figures not asserted)
//   safety     never the wrong process: forced pid reuse, attacks by another user, bad durations (issue 12)
const tier = (name, extra = {}) => ({
  displayName: name,
  testMatch: [`<rootDir>/test/${name}/**/*.test.ts`],
  transform: {'^.+\\.ts$': ['ts-jest', {tsconfig: {module: 'commonjs', isolatedModules: true}}]},
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
  ],
  testTimeout: 60000,
}
