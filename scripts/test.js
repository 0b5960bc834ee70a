#!/usr/bin/env node
// `npm test`: build, then run every jest tier (or the tiers/files named as arguments, e.g.
// `npm test -- --selectProjects unit`), then print one line `tests: N passed, N failed, N skipped`.
// Under CI=true a skipped test is a failure: no tier may skip for a missing engine there.
// Then the leak check (test/helpers/leak-check.js): a process the tests started that still runs, a
// temp dir or test user they left, fails the run (NSLOCATE_LEAK_CHECK=off skips it). The suite runs
// in a cgroup of its own (test/helpers/suite-cgroup.js): what still runs in it is a leak too, and
// the cgroups `nslocate run` made for the tests are removed with it.
'use strict'
const {spawnSync} = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const leakCheck = require('../test/helpers/leak-check')
const suiteCgroup = require('../test/helpers/suite-cgroup')

const root = path.resolve(__dirname, '..')
const build = spawnSync('npm', ['run', '--silent', 'build'], {cwd: root, stdio: 'inherit'})
if (build.status !== 0) {
  console.log('tests: 0 passed, 1 failed (build failed)')
  process.exit(1)
}
const before = leakCheck.snapshot()
// Everything the tests start, and every cgroup `nslocate run` makes for them, lives in the suite's
// own cgroup, removed after jest (test/helpers/suite-cgroup.js).
const scope = suiteCgroup.enter()
const report = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nslocate-jest-')), 'report.json')
const jestBin = require.resolve('jest/bin/jest')
const args = [jestBin, '--json', `--outputFile=${report}`, ...process.argv.slice(2)]
const env = {...process.env, ...leakCheck.markerEnv(before), ...(scope ? {NSLOCATE_SUITE_CGROUP: scope.dir} : {})}
const run = spawnSync(process.execPath, args, {cwd: root, stdio: 'inherit', env})
let passed = 0,
  failed = 0,
  skipped = 0
try {
  const r = JSON.parse(fs.readFileSync(report, 'utf8'))
  passed = r.numPassedTests
  failed = r.numFailedTests + r.numRuntimeErrorTestSuites
  skipped = r.numPendingTests + r.numTodoTests
  // Per tier (test/<tier>/...): tests and summed file wall time (files run in parallel, so the sum
  // is the work, not the elapsed time).
  const tiers = {}
  for (const f of r.testResults) {
    const tier = path.relative(root, f.name).split(path.sep)[1] || '?'
    const t = (tiers[tier] ??= {tests: 0, failed: 0, ms: 0})
    t.tests += f.assertionResults.length
    t.failed += f.assertionResults.filter((a) => a.status === 'failed').length
    t.ms += (f.endTime ?? 0) - (f.startTime ?? 0)
  }
  for (const [tier, t] of Object.entries(tiers).sort()) {
    console.log(
      `tier ${tier.padEnd(10)} ${String(t.tests).padStart(4)} tests, ${String(t.failed).padStart(2)} failed, ${(t.ms / 1000).toFixed(1).padStart(6)} s`,
    )
  }
} catch {
  failed = Math.max(1, failed)
}
fs.rmSync(path.dirname(report), {recursive: true, force: true})
let status = run.status ?? 1
if (process.env.CI === 'true' && skipped > 0) {
  console.error(`CI=true: ${skipped} test(s) skipped; in CI a skip counts as a failure.`)
  failed += skipped
  status = 1
}

async function main() {
  const cgroupLeaks = suiteCgroup.leave(scope)
  if (cgroupLeaks > 0 && process.env.NSLOCATE_LEAK_CHECK !== 'off') {
    console.error(`leak check: ${cgroupLeaks} process(es) still in the suite's cgroup; each counts as a failure.`)
    failed += cgroupLeaks
    status = 1
  }
  if (process.env.NSLOCATE_LEAK_CHECK !== 'off') {
    const leaks = leakCheck.report(await leakCheck.check(before))
    if (leaks > 0) {
      console.error(`leak check: ${leaks} leak(s) after the suite; each counts as a failure.`)
      failed += leaks
      status = 1
    }
  }
  if (failed > 0 && status === 0) status = 1
  console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`)
  process.exit(status)
}
void main()
