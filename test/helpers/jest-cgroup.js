// jest's globalSetup and globalTeardown (jest.config.js): a jest run not started by `npm test`
// (npx jest FILE...) runs in a cgroup of its own too (test/helpers/suite-cgroup.js), so the
// cgroups `nslocate run` makes for the tests, the empty ones left by a SIGKILLed run included, are
// removed when it ends. Under `npm test` the suite's cgroup is scripts/test.js's: nothing is done here.
'use strict'
const suiteCgroup = require('./suite-cgroup')

const KEY = Symbol.for('nslocate.jest-cgroup')

module.exports = {
  setup() {
    if (process.env.NSLOCATE_SUITE_CGROUP) return
    globalThis[KEY] = suiteCgroup.enter()
  },
  teardown() {
    const scope = globalThis[KEY]
    if (!scope) return
    delete globalThis[KEY]
    const leaks = suiteCgroup.leave(scope)
    if (leaks > 0) console.error(`jest-cgroup: ${leaks} process(es) were still in the run's cgroup ${scope.dir} (killed)`)
  },
}
