#!/usr/bin/env node
// Production entry: runs the compiled commands in dist/ (no ts-node).
// The plain invocations of find, list, signal, wait and run skip loading oclif (its start-up costs
// more than Node's own): they are parsed from the one grammar (src/cli/grammar.ts) by
// src/cli/fast-path.ts; anything that parser does not fully understand (--help, an error, an
// unusual flag) goes through oclif, with oclif's messages.
const m = require('node:module')
if (typeof m.enableCompileCache === 'function' && !process.env.NODE_DISABLE_COMPILE_CACHE) {
  try {
    m.enableCompileCache()
  } catch {}
}
const argv = process.argv.slice(2)
const fast = process.env.NSLOCATE_NO_FAST_PATH ? null : require('../dist/src/cli/fast-path')
const prepared = fast && fast.prepareFast(argv)
if (prepared) fast.runPrepared(prepared)
// No user plugins (nslocate has none to install): oclif would otherwise read
// $HOME/.local/share/nslocate/package.json and warn "(node:PID) [EACCES]" when HOME is not ours.
else require('@oclif/core').execute({dir: __dirname, loadOptions: {root: __dirname, userPlugins: false}})
