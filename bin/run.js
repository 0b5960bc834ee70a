#!/usr/bin/env node
// Production entry: runs the compiled commands in dist/ (no ts-node).
// Plain `nslocate find ...` skips loading oclif (its start-up costs more than Node's own); anything
// the fast parser does not fully understand goes through oclif. See src/cli/fast-find.ts.
const argv = process.argv.slice(2)
const fast = argv[0] === 'find' && !process.env.NSLOCATE_NO_FAST_PATH ? require('../dist/src/cli/fast-find') : null
const parsed = fast && fast.parseFastFind(argv)
if (parsed) {
  // Library errors carry a code and an exit status; print them as oclif would.
  const failed = (error) => {
    if (!(error && error.name === 'NslocateError')) throw error
    if (parsed.json) process.stdout.write(JSON.stringify({error: {code: error.code, message: error.message, ...error.details}}, null, 2) + '\n')
    else process.stderr.write(` ›   Error: ${require('../dist/src/cli/escape').escapeLines(error.message)}\n ›   Code: ${error.code}\n`)
    return error.exitCode
  }
  let status
  try {
    status = fast.runFastFind(parsed)
  } catch (error) {
    status = failed(error)
  }
  if (status && typeof status.then === 'function') {
    status.then((s) => (process.exitCode = s), (error) => (process.exitCode = failed(error)))
      .catch((error) => {
        console.error(error)
        process.exitCode = 1
      })
  } else {
    process.exitCode = status
  }
} else {
  // No user plugins (nslocate has none to install): oclif would otherwise read
  // $HOME/.local/share/nslocate/package.json and warn "(node:PID) [EACCES]" when HOME is not ours.
  require('@oclif/core').execute({dir: __dirname, loadOptions: {root: __dirname, userPlugins: false}})
}
