#!/usr/bin/env node
// Production entry: runs the compiled commands in dist/ (no ts-node).
// Plain `nslocate find ...` skips loading oclif (its start-up costs more than Node's own); anything
// the fast parser does not fully understand goes through oclif. See src/cli/fast-find.ts.
const argv = process.argv.slice(2)
if (argv[0] === 'find' && !process.env.NSLOCATE_NO_FAST_PATH) {
  const fast = require('../dist/src/cli/fast-find')
  const parsed = fast.parseFastFind(argv)
  if (parsed) {
    let status
    try {
      status = fast.runFastFind(parsed)
    } catch (error) {
      // Library errors carry a code and an exit status; print them as oclif would.
      if (error && error.name === 'NslocateError') {
        if (parsed.json) process.stdout.write(JSON.stringify({error: {code: error.code, message: error.message, ...error.details}}, null, 2) + '\n')
        else process.stderr.write(` ›   Error: ${error.message}\n ›   Code: ${error.code}\n`)
        status = error.exitCode
      } else {
        throw error
      }
    }
    process.exitCode = status
    return
  }
}
require('@oclif/core').execute({dir: __dirname})
