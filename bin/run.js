#!/usr/bin/env node
// Production entry: runs the compiled commands in dist/ (no ts-node).
// The plain invocations of find, list, signal, wait and run skip loading oclif (its start-up costs
// more than Node's own): they are parsed from the one grammar (src/cli/grammar.ts) by
// src/cli/fast-path.ts, bundled into one file (dist/fast/fast-path.js, scripts/bundle-fast.js) and
// compiled with the V8 code cache made for it at build time (dist/fast/fast-path.cache,
// scripts/warm-fast.js). Anything that parser does not fully understand (--help, an error, an
// unusual flag) goes through oclif, with oclif's messages.
//
// No module.enableCompileCache(): its default directory is $TMPDIR/node-compile-cache, which any
// user can create first, and a code cache is code: root would run what another user put there.
// The shipped cache sits next to the bundle, with the same owner and mode as the code itself; V8
// rejects it (and compiles the source as usual) when it was made by another Node or V8 build.
const argv = process.argv.slice(2)
const fast = process.env.NSLOCATE_NO_FAST_PATH ? null : loadFastPath()
const prepared = fast && fast.prepareFast(argv)
if (prepared) fast.runPrepared(prepared)
// No user plugins (nslocate has none to install): oclif would otherwise read
// $HOME/.local/share/nslocate/package.json and warn "(node:PID) [EACCES]" when HOME is not ours.
else require('@oclif/core').execute({dir: __dirname, loadOptions: {root: __dirname, userPlugins: false}})

/** require('../dist/fast/fast-path'), compiled with its shipped code cache when V8 accepts it. */
function loadFastPath() {
  const fs = require('node:fs')
  const path = require('node:path')
  const vm = require('node:vm')
  const {createRequire, wrap} = require('node:module')
  const file = path.join(__dirname, '..', 'dist', 'fast', 'fast-path.js')
  let cachedData
  try {
    cachedData = fs.readFileSync(file.slice(0, -3) + '.cache')
  } catch {} // not built (a checkout before `npm run build`): compile without it
  const script = new vm.Script(wrap(fs.readFileSync(file, 'utf8')), {filename: file, cachedData})
  const mod = {exports: {}, filename: file, id: file, loaded: true}
  script.runInThisContext().call(mod.exports, mod.exports, createRequire(file), mod, file, path.dirname(file))
  return mod.exports
}
